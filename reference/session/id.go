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

// keyHashLen is the length of a session's key hash in Redis (key name
// suffix and user-index member): the first 16 bytes of SHA-256(raw ID),
// raw. 128 bits keep a dump of Redis useless for forging cookies (a
// preimage costs 2^128 per session) and collisions out of reach (Create
// refuses one anyway); every further byte costs memory in both the key
// and the index.
const keyHashLen = 16

// legacyHashLen is the key hash of format-1 sessions (written before
// record format 2): base64url of the whole SHA-256, 43 characters.
const legacyHashLen = 43

// handleBytes is how many bytes of the hash a handle shows (HandleLen
// characters of base64url).
const handleBytes = 12

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

// idSum hashes a well-formed ID; ok is false for a malformed one.
func idSum(id string, sum *[sha256.Size]byte) bool {
	var raw [idBytes]byte
	if !decodeID(id, &raw) {
		return false
	}
	*sum = sha256.Sum256(raw[:])
	return true
}

// Handle returns the handle of id's session (Info.Handle: base64url of
// the first 12 bytes of SHA-256(raw id)), so a caller can tell whether a
// listed session is its own. ok is false for a malformed ID.
func Handle(id string) (handle string, ok bool) {
	var sum [sha256.Size]byte
	if !idSum(id, &sum) {
		return "", false
	}
	return handleOf(sum[:handleBytes]), true
}

func handleOf(hashPrefix []byte) string {
	var buf [HandleLen]byte
	idEncoding.Encode(buf[:], hashPrefix[:handleBytes])
	return string(buf[:])
}

// memberHandle is the handle of a user-index member of either format
// (the first 16 characters of a format-1 member are the same base64url
// of the same 12 bytes).
func memberHandle(m string) string {
	if len(m) == legacyHashLen {
		return m[:HandleLen]
	}
	if len(m) < handleBytes {
		return ""
	}
	return handleOf([]byte(m[:handleBytes]))
}

// appendSessionKey appends the Redis key of id's session to dst, and
// reports whether id was well formed. It also fills sum with the hash.
func appendSessionKey(dst []byte, prefix, id string, sum *[sha256.Size]byte) ([]byte, bool) {
	if !idSum(id, sum) {
		return dst, false
	}
	dst = append(dst, prefix...)
	dst = append(dst, "s:"...)
	return append(dst, sum[:keyHashLen]...), true
}

// legacyKey is the key a format-1 session of this hash lives under.
func legacyKey(prefix string, sum *[sha256.Size]byte) string {
	var buf [legacyHashLen]byte
	idEncoding.Encode(buf[:], sum[:])
	return prefix + "s:" + string(buf[:])
}
