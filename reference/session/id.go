package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// IDLen is the length of an encoded session ID: 32 random bytes in
// base64url without padding.
const IDLen = 43

// idBytes is the number of random bytes in a session ID.
const idBytes = 32

// keyHashLen is the length of an encoded key hash (SHA-256, base64url).
const keyHashLen = 43

var idEncoding = base64.RawURLEncoding.Strict()

// newID returns a fresh session ID from crypto/rand.
func newID() (string, error) {
	var raw [idBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("session: read random id: %w", err)
	}
	return idEncoding.EncodeToString(raw[:]), nil
}

// decodeID parses a presented ID into its 32 raw bytes. It accepts only
// the canonical 43-character base64url form.
func decodeID(id string, raw *[idBytes]byte) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	n, err := idEncoding.Decode(raw[:], []byte(id))
	return err == nil && n == idBytes
}

// ValidID reports whether id is a well-formed session ID (43 characters
// of canonical base64url for 32 bytes). The HTTP layer can use it to
// drop junk cookies early; the Store checks it again anyway.
func ValidID(id string) bool {
	var raw [idBytes]byte
	return decodeID(id, &raw)
}

// KeyHash returns the base64url SHA-256 of a session ID's raw bytes: the
// only form of the ID that reaches Redis. ok is false for a malformed ID.
func KeyHash(id string) (hash string, ok bool) {
	var raw [idBytes]byte
	if !decodeID(id, &raw) {
		return "", false
	}
	var buf [keyHashLen]byte
	sum := sha256.Sum256(raw[:])
	idEncoding.Encode(buf[:], sum[:])
	return string(buf[:]), true
}

// appendSessionKey appends the Redis key of id's session to dst, and
// reports whether id was well formed. It also fills sum with the hash.
func appendSessionKey(dst []byte, prefix, id string, sum *[sha256.Size]byte) ([]byte, bool) {
	var raw [idBytes]byte
	if !decodeID(id, &raw) {
		return dst, false
	}
	*sum = sha256.Sum256(raw[:])
	dst = append(dst, prefix...)
	dst = append(dst, "s:"...)
	var buf [keyHashLen]byte
	idEncoding.Encode(buf[:], sum[:])
	return append(dst, buf[:]...), true
}
