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
	if !ValidID(id) {
		return false
	}
	n, err := idEncoding.Decode(raw[:], []byte(id))
	return err == nil && n == idBytes
}

// ValidID reports whether id is a well-formed session ID: 43 characters
// of base64url whose last one carries 4 data bits and 2 zero bits, i.e.
// the canonical encoding of 32 bytes. It checks without decoding or
// allocating, so the HTTP layer drops junk cookies with it before any
// Redis call; FuzzValidID holds it equal to the strict decoder.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	var last byte
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'A' <= c && c <= 'Z':
			last = c - 'A'
		case 'a' <= c && c <= 'z':
			last = c - 'a' + 26
		case '0' <= c && c <= '9':
			last = c - '0' + 52
		case c == '-':
			last = 62
		case c == '_':
			last = 63
		default:
			return false
		}
	}
	return last&3 == 0
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
