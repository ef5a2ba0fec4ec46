package session

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// SealerKeyLen is the size of a sealing key: AES-256.
const SealerKeyLen = 32

// maxKIDLen bounds a key id so it fits the one-byte length in a blob.
const maxKIDLen = 64

// Sealer encrypts a session's sealed fields (for example OAuth refresh
// tokens kept server side) with AES-256-GCM. It holds several keys by key
// id so keys can be rotated: it always encrypts with the primary key and
// decrypts with the key named in the blob. Safe for concurrent use.
type Sealer struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewSealer returns a Sealer that encrypts with keys[primaryKID] and
// decrypts with any key in keys. Every key must be 32 bytes; key ids are
// 1-64 characters without ':' or whitespace.
func NewSealer(primaryKID string, keys map[string][]byte) (*Sealer, error) {
	if _, ok := keys[primaryKID]; !ok {
		return nil, fmt.Errorf("session: sealer: primary key id %q has no key; add it to the key set", primaryKID)
	}
	s := &Sealer{primary: primaryKID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for kid, key := range keys {
		if kid == "" || len(kid) > maxKIDLen || strings.ContainsAny(kid, ": \t\r\n") {
			return nil, fmt.Errorf("session: sealer: key id %q must be 1-%d characters without ':' or spaces", kid, maxKIDLen)
		}
		if len(key) != SealerKeyLen {
			return nil, fmt.Errorf("session: sealer: key %q is %d bytes; want %d (generate one with: head -c 32 /dev/urandom | base64)", kid, len(key), SealerKeyLen)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("session: sealer: key %q: %w", kid, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: sealer: key %q: %w", kid, err)
		}
		s.aeads[kid] = aead
	}
	return s, nil
}

// ParseSealerKeys reads a key set from text: one key per line as
// "kid:base64key" (standard or URL base64, padded or not, of 32 bytes);
// blank lines and lines starting with '#' are ignored. The FIRST key is
// the primary (used to encrypt); the others only decrypt, which is how a
// key is rotated: put the new key first and keep the old one below it
// until sessions sealed under it have expired.
func ParseSealerKeys(text string) (*Sealer, error) {
	keys := map[string][]byte{}
	primary := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		kid, b64, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("session: sealer keys line %d: want \"kid:base64key\"", line)
		}
		if kid = strings.TrimSpace(kid); kid == "" {
			return nil, fmt.Errorf("session: sealer keys line %d: the key id before ':' is empty; want \"kid:base64key\", e.g. k1:<base64 of 32 bytes>", line)
		}
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("session: sealer keys line %d (kid %q): %w", line, kid, err)
		}
		if _, dup := keys[kid]; dup {
			return nil, fmt.Errorf("session: sealer keys line %d: duplicate key id %q", line, kid)
		}
		keys[kid] = key
		if primary == "" {
			primary = kid
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session: sealer keys: %w", err)
	}
	if primary == "" {
		return nil, errors.New("session: sealer keys: no key found; want lines \"kid:base64key\"")
	}
	return NewSealer(primary, keys)
}

// LoadSealerKeys loads a key set (format: ParseSealerKeys) from envValue
// if it is non-empty, else from the file at path if path is non-empty.
// With both empty it returns (nil, nil): sealed fields are then refused.
func LoadSealerKeys(envValue, path string) (*Sealer, error) {
	if strings.TrimSpace(envValue) != "" {
		return ParseSealerKeys(envValue)
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session: sealer keys file: %w", err)
	}
	return ParseSealerKeys(string(b))
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// PrimaryKID is the key id new blobs are sealed under.
func (s *Sealer) PrimaryKID() string { return s.primary }

// seal encrypts plain with the primary key. Blob layout:
// len(kid) (1 byte) | kid | nonce (12) | ciphertext+tag.
func (s *Sealer) seal(plain, aad []byte) ([]byte, error) {
	aead := s.aeads[s.primary]
	ns := aead.NonceSize()
	out := make([]byte, 0, 1+len(s.primary)+ns+len(plain)+aead.Overhead())
	out = append(out, byte(len(s.primary)))
	out = append(out, s.primary...)
	nonce := out[len(out) : len(out)+ns]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("session: seal nonce: %w", err)
	}
	out = out[:len(out)+ns]
	return aead.Seal(out, nonce, plain, aad), nil
}

// blobKID returns the key id a blob made by seal names (without
// checking that it opens).
func blobKID(blob []byte) (string, bool) {
	if len(blob) < 1 || len(blob) < 1+int(blob[0]) || blob[0] == 0 {
		return "", false
	}
	return string(blob[1 : 1+int(blob[0])]), true
}

// open decrypts a blob made by seal with the key named in it.
func (s *Sealer) open(blob, aad []byte) ([]byte, error) {
	if len(blob) < 1 {
		return nil, fmt.Errorf("%w: empty blob", ErrSealOpen)
	}
	kl := int(blob[0])
	if len(blob) < 1+kl {
		return nil, fmt.Errorf("%w: truncated key id", ErrSealOpen)
	}
	kid := string(blob[1 : 1+kl])
	aead, ok := s.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w: unknown key id %q (was it rotated out?)", ErrSealOpen, kid)
	}
	rest := blob[1+kl:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: truncated blob", ErrSealOpen)
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrSealOpen)
	}
	return plain, nil
}

// encodeSealedMap packs m deterministically (names sorted):
// uvarint count, then per entry uvarint len | name | uvarint len | value.
func encodeSealedMap(m map[string][]byte) []byte {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := binary.AppendUvarint(nil, uint64(len(names)))
	for _, k := range names {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(m[k])))
		out = append(out, m[k]...)
	}
	return out
}

// decodeSealedMap is the inverse of encodeSealedMap; it rejects
// truncated input, trailing bytes and duplicate names.
func decodeSealedMap(b []byte) (map[string][]byte, error) {
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, fmt.Errorf("sealed map count: %w", err)
	}
	if n > uint64(len(b)) {
		return nil, errors.New("sealed map count exceeds data")
	}
	m := make(map[string][]byte, n)
	for i := uint64(0); i < n; i++ {
		var k, v []byte
		if k, b, err = readBytes(b); err != nil {
			return nil, fmt.Errorf("sealed map name %d: %w", i, err)
		}
		if v, b, err = readBytes(b); err != nil {
			return nil, fmt.Errorf("sealed map value %d: %w", i, err)
		}
		if _, dup := m[string(k)]; dup {
			return nil, fmt.Errorf("sealed map: duplicate name %q", k)
		}
		m[string(k)] = append([]byte(nil), v...)
	}
	if len(b) != 0 {
		return nil, errors.New("sealed map: trailing bytes")
	}
	return m, nil
}
