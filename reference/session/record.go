package session

// This file holds the formats a session is stored in. Format 2 (written
// since issue 9) is one Redis string per session; format 1 (before) was a
// hash and is still read, so that sessions created before an upgrade
// keep working until they expire (see the package doc, "Record").

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Format versions: the first byte of a format-2 value, and of the "r"
// field of a format-1 hash.
const (
	recordV1 = 1
	recordV2 = 2
)

// v2HeaderLen is the fixed part of a format-2 value: version, absolute
// expiry and last_seen (48-bit big-endian unix ms each). The Lua scripts
// read both timestamps at these offsets and validate rewrites last_seen
// in place (SETRANGE at lastOffset).
const (
	absOffset   = 1
	lastOffset  = 7
	v2HeaderLen = 13
)

// Flags of a format-2 record: which optional fields follow.
const (
	flagAuthTime = 1 << iota // auth_time known
	flagEmail
	flagTenant
	flagLongUA   // the header was longer than maxUserAgentLen: its SHA-256 follows the kept prefix
	flagBinaryIP // the client IP is 4 or 16 bytes, not text
)

// record is the immutable part of a session.
type record struct {
	UserID    string
	Email     string
	Tenant    string
	CreatedAt int64 // unix ms
	AuthTime  int64 // unix ms, 0 when unknown
	UserAgent string
	ClientIP  string
	// UA is how UserAgent compares with a request's header (see
	// uaMatch).
	UA uaForm
}

// uaForm is the stored form of a User-Agent header: its first
// maxUserAgentLen bytes (kept for display) and, when the header was
// longer, the SHA-256 of all of it, so that binding compares the whole
// header on both sides. Format-1 records kept only the prefix (legacy).
type uaForm struct {
	long   bool
	legacy bool
	sum    [sha256.Size]byte
}

// uaFormOf returns the stored form of a header: the kept prefix and how
// to compare it.
func uaFormOf(header string) (string, uaForm) {
	if len(header) <= maxUserAgentLen {
		return header, uaForm{}
	}
	return header[:maxUserAgentLen], uaForm{long: true, sum: sha256.Sum256([]byte(header))}
}

// uaMatch reports whether header is the header a session stored as
// (kept, f).
func uaMatch(kept string, f uaForm, header string) bool {
	switch {
	case f.legacy: // format 1: the first 512 bytes were all it kept
		return len(header) >= len(kept) && header[:min(len(header), maxUserAgentLen)] == kept
	case f.long:
		return len(header) > maxUserAgentLen && header[:maxUserAgentLen] == kept && sha256.Sum256([]byte(header)) == f.sum
	default:
		return header == kept
	}
}

// encodeV2 packs a format-2 session value:
//
//	version (1) | abs expiry ms (6) | last_seen ms (6)
//	| uvarint len | record | uvarint len | data | sealed blob (rest)
//
// The record is: flags (1), uvarint (abs − created) ms, [varint
// (created − auth_time) ms], uvarint-length-prefixed uid, [email],
// [tenant], user agent, [32-byte SHA-256 of a long user agent], client
// IP (4 or 16 bytes, or text). Bracketed fields are present per flags.
// Lua needs only the header and the two lengths; Go decodes the rest.
func encodeV2(abs, last int64, r *record, data string, sealed []byte) []byte {
	rec := encodeRecordV2(abs, r)
	out := make([]byte, 0, v2HeaderLen+2*binary.MaxVarintLen32+len(rec)+len(data)+len(sealed))
	out = append(out, recordV2)
	out = append48(out, abs)
	out = append48(out, last)
	out = binary.AppendUvarint(out, uint64(len(rec)))
	out = append(out, rec...)
	out = appendData(out, data)
	return append(out, sealed...)
}

// appendData appends the data section (uvarint length, bytes): what the
// update script splices in.
func appendData(out []byte, data string) []byte {
	out = binary.AppendUvarint(out, uint64(len(data)))
	return append(out, data...)
}

func encodeRecordV2(abs int64, r *record) []byte {
	var flags byte
	ip := r.ClientIP
	var ipBin []byte
	if a, err := netip.ParseAddr(ip); err == nil && a.Zone() == "" {
		if a.Is4() {
			b := a.As4()
			ipBin = b[:]
		} else {
			b := a.As16()
			ipBin = b[:]
		}
		if ipFromBytes(ipBin) != ip { // not canonical text: keep the text
			ipBin = nil
		}
	}
	if r.AuthTime != 0 {
		flags |= flagAuthTime
	}
	if r.Email != "" {
		flags |= flagEmail
	}
	if r.Tenant != "" {
		flags |= flagTenant
	}
	if r.UA.long {
		flags |= flagLongUA
	}
	if ipBin != nil {
		flags |= flagBinaryIP
	}
	out := make([]byte, 0, 1+3*binary.MaxVarintLen64+4*binary.MaxVarintLen16+len(r.UserID)+len(r.Email)+len(r.Tenant)+len(r.UserAgent)+sha256.Size+len(ip))
	out = append(out, flags)
	out = binary.AppendUvarint(out, uint64(max(abs-r.CreatedAt, 0)))
	if flags&flagAuthTime != 0 {
		out = binary.AppendVarint(out, r.CreatedAt-r.AuthTime)
	}
	out = appendString(out, r.UserID)
	if flags&flagEmail != 0 {
		out = appendString(out, r.Email)
	}
	if flags&flagTenant != 0 {
		out = appendString(out, r.Tenant)
	}
	out = appendString(out, r.UserAgent)
	if flags&flagLongUA != 0 {
		out = append(out, r.UA.sum[:]...)
	}
	if ipBin != nil {
		out = binary.AppendUvarint(out, uint64(len(ipBin)))
		return append(out, ipBin...)
	}
	return appendString(out, ip)
}

func appendString(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

func append48(out []byte, v int64) []byte {
	return append(out, byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func read48(b []byte) int64 {
	_ = b[5]
	return int64(b[0])<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
}

// v2Value is a format-2 value split into its parts (slices of the
// input). data and sealed are nil when the value was cut short (List
// reads only a prefix).
type v2Value struct {
	abs, last    int64
	rec          []byte
	data, sealed []byte
	complete     bool
}

// splitV2 splits a format-2 value. A prefix that holds the whole record
// is enough (complete is then false when the data is cut).
func splitV2(b []byte) (v2Value, error) {
	var v v2Value
	if len(b) < v2HeaderLen || b[0] != recordV2 {
		return v, errors.New("record: not format 2")
	}
	v.abs, v.last = read48(b[absOffset:]), read48(b[lastOffset:])
	rest := b[v2HeaderLen:]
	rec, rest, err := readBytes(rest)
	if err != nil {
		return v, fmt.Errorf("record: %w", err)
	}
	v.rec = rec
	data, rest, err := readBytes(rest)
	if err != nil {
		return v, nil // cut short after the record
	}
	v.data, v.sealed, v.complete = data, rest, true
	return v, nil
}

// decodeRecordV2 unpacks the record part of a format-2 value. It never
// panics on corrupt input and rejects trailing bytes.
func decodeRecordV2(abs int64, b []byte, r *record) error {
	if len(b) == 0 {
		return errors.New("record: empty")
	}
	flags := b[0]
	if flags >= flagBinaryIP<<1 {
		return errors.New("record: unknown flags")
	}
	b = b[1:]
	age, n := binary.Uvarint(b)
	if n <= 0 || age > 1<<47 {
		return errors.New("record: bad created_at")
	}
	b = b[n:]
	r.CreatedAt = abs - int64(age)
	r.AuthTime = 0
	if flags&flagAuthTime != 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return errors.New("record: bad auth_time")
		}
		b = b[n:]
		r.AuthTime = r.CreatedAt - d
	}
	var err error
	fields := [...]struct {
		dst  *string
		flag byte
	}{{&r.UserID, 0}, {&r.Email, flagEmail}, {&r.Tenant, flagTenant}, {&r.UserAgent, 0}}
	for i, f := range fields {
		*f.dst = ""
		if f.flag != 0 && flags&f.flag == 0 {
			continue
		}
		var s []byte
		if s, b, err = readBytes(b); err != nil {
			return fmt.Errorf("record: field %d: %w", i, err)
		}
		*f.dst = string(s)
	}
	r.UA = uaForm{}
	if flags&flagLongUA != 0 {
		if len(b) < sha256.Size {
			return errors.New("record: truncated user-agent hash")
		}
		r.UA.long = true
		copy(r.UA.sum[:], b)
		b = b[sha256.Size:]
	}
	ip, b, err := readBytes(b)
	if err != nil {
		return fmt.Errorf("record: client ip: %w", err)
	}
	if flags&flagBinaryIP != 0 {
		if len(ip) != 4 && len(ip) != 16 {
			return errors.New("record: bad binary client ip")
		}
		r.ClientIP = ipFromBytes(ip)
	} else {
		r.ClientIP = string(ip)
	}
	if len(b) != 0 {
		return errors.New("record: trailing bytes")
	}
	if r.UserID == "" {
		return errors.New("record: empty uid")
	}
	return nil
}

func ipFromBytes(b []byte) string {
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b)).String()
	}
	return netip.AddrFrom16([16]byte(b)).String()
}

// encodeRecordV1 packs a format-1 "r" field: version byte, varint
// created_at ms, varint auth_time ms, then uvarint-length-prefixed uid,
// email, tenant, user agent (its first 512 bytes), client IP. Create writes it only
// with Config.WriteFormat 1 (a rolling upgrade from an older sessiond).
func encodeRecordV1(r *record) []byte {
	n := 1 + 2*binary.MaxVarintLen64 + 5*binary.MaxVarintLen16 +
		len(r.UserID) + len(r.Email) + len(r.Tenant) + len(r.UserAgent) + len(r.ClientIP)
	out := make([]byte, 0, n)
	out = append(out, recordV1)
	out = binary.AppendVarint(out, r.CreatedAt)
	out = binary.AppendVarint(out, r.AuthTime)
	for _, s := range [...]string{r.UserID, r.Email, r.Tenant, r.UserAgent, r.ClientIP} {
		out = appendString(out, s)
	}
	return out
}

// decodeRecordV1 unpacks a format-1 record. It never panics on corrupt
// input and rejects trailing bytes.
func decodeRecordV1(b []byte, r *record) error {
	if len(b) == 0 || b[0] != recordV1 {
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
	r.UA = uaForm{legacy: true}
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
