package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// recordVersion is the first byte of the packed "r" field.
const recordVersion = 1

// record is the immutable part of a session, packed into the "r" field.
type record struct {
	UserID    string
	Email     string
	Tenant    string
	CreatedAt int64 // unix ms
	AuthTime  int64 // unix ms, 0 when unknown
	UserAgent string
	ClientIP  string
}

// encodeRecord packs r: version byte, varint created_at ms, varint
// auth_time ms, then uvarint-length-prefixed uid, email, tenant, user
// agent, client IP.
func encodeRecord(r *record) []byte {
	n := 1 + 2*binary.MaxVarintLen64 + 5*binary.MaxVarintLen16 +
		len(r.UserID) + len(r.Email) + len(r.Tenant) + len(r.UserAgent) + len(r.ClientIP)
	out := make([]byte, 0, n)
	out = append(out, recordVersion)
	out = binary.AppendVarint(out, r.CreatedAt)
	out = binary.AppendVarint(out, r.AuthTime)
	for _, s := range [...]string{r.UserID, r.Email, r.Tenant, r.UserAgent, r.ClientIP} {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

// decodeRecord unpacks a record made by encodeRecord. It never panics on
// corrupt input and rejects trailing bytes.
func decodeRecord(b []byte, r *record) error {
	if len(b) == 0 || b[0] != recordVersion {
		return errors.New("record: unknown version")
	}
	b = b[1:]
	var n int
	if r.CreatedAt, n = binary.Varint(b); n <= 0 {
		return errors.New("record: bad created_at")
	}
	b = b[n:]
	if r.AuthTime, n = binary.Varint(b); n <= 0 {
		return errors.New("record: bad auth_time")
	}
	b = b[n:]
	for i, dst := range [...]*string{&r.UserID, &r.Email, &r.Tenant, &r.UserAgent, &r.ClientIP} {
		var s []byte
		var err error
		if s, b, err = readBytes(b); err != nil {
			return fmt.Errorf("record: field %d: %w", i, err)
		}
		*dst = string(s)
	}
	if len(b) != 0 {
		return errors.New("record: trailing bytes")
	}
	if r.UserID == "" {
		return errors.New("record: empty uid")
	}
	return nil
}

func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, errors.New("bad length")
	}
	return v, b[n:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	l, b, err := readUvarint(b)
	if err != nil {
		return nil, b, err
	}
	if l > uint64(len(b)) {
		return nil, b, errors.New("length exceeds data")
	}
	return b[:l], b[l:], nil
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
