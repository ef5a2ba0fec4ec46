package session

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// referenceRecord is a typical session: a Firebase uid (28 characters),
// an email, a desktop Chrome user agent, an IPv4 client, 16 bytes of
// data.
func referenceRecord() (record, string) {
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	created := int64(1764600000000)
	return record{
		UserID: "Zk3r9TQ2WnXb7pLm0aVc4YhE5sJ1", Email: "alice@example.com",
		CreatedAt: created, AuthTime: created - 4000,
		UserAgent: ua, ClientIP: "203.0.113.7",
	}, `{"v":"abcdefgh"}`
}

// referenceV2Size is the encoded size of the reference session in record
// format 2. The test fails if it grows: memory per session decides the
// Redis tier an operator buys. Lower it when the format gets smaller.
const referenceV2Size = 193

func TestReferenceRecordSizeDoesNotGrow(t *testing.T) {
	r, data := referenceRecord()
	abs := r.CreatedAt + DefaultAbsoluteTimeout.Milliseconds()
	v := encodeV2(abs, r.CreatedAt, &r, data, nil)
	if len(v) > referenceV2Size {
		t.Fatalf("reference session encodes to %d bytes, more than the %d it took when this test was written", len(v), referenceV2Size)
	}
	// Format 1 stored the same session as a hash of four fields; the
	// fields alone (without Redis's per-field overhead) were larger.
	v1 := len("a") + 13 + len("l") + 13 + len("r") + len(encodeRecordV1(&r)) + len("d") + len(data)
	if len(v) >= v1 {
		t.Fatalf("format 2 (%d bytes) is not smaller than format 1's fields (%d bytes)", len(v), v1)
	}
	t.Logf("reference session: format 2 %d bytes, format 1 fields %d bytes (+ listpack or hashtable overhead)", len(v), v1)
}

func TestRecordV2RoundTrip(t *testing.T) {
	long, lf := uaFormOf(strings.Repeat("L", 700))
	for name, r := range map[string]record{
		"full": {UserID: "u1", Email: "a@b.c", Tenant: "t-1", CreatedAt: 1764600000123, AuthTime: 1764599990000,
			UserAgent: "ua/1", ClientIP: "192.0.2.1"},
		"minimal":                        {UserID: "u", CreatedAt: 1764600000000, ClientIP: ""},
		"ipv6":                           {UserID: "u", CreatedAt: 1764600000000, ClientIP: "2001:db8::1"},
		"ipv4-mapped":                    {UserID: "u", CreatedAt: 1764600000000, ClientIP: "::ffff:192.0.2.1"},
		"zone kept as text":              {UserID: "u", CreatedAt: 1764600000000, ClientIP: "fe80::1%eth0"},
		"not an ip":                      {UserID: "u", CreatedAt: 1764600000000, ClientIP: "@unix"},
		"non-canonical ip":               {UserID: "u", CreatedAt: 1764600000000, ClientIP: "2001:DB8::1"},
		"auth after create (clock skew)": {UserID: "u", CreatedAt: 1764600000000, AuthTime: 1764600002000},
		"long user agent":                {UserID: "u", CreatedAt: 1764600000000, UserAgent: long, UA: lf},
	} {
		abs := r.CreatedAt + 86400000
		b := encodeV2(abs, r.CreatedAt+5, &r, `{"x":1}`, []byte("blob"))
		v, err := splitV2(b)
		if err != nil || !v.complete || v.abs != abs || v.last != r.CreatedAt+5 || string(v.data) != `{"x":1}` || string(v.sealed) != "blob" {
			t.Fatalf("%s: split = %+v, %v", name, v, err)
		}
		var got record
		if err := decodeRecordV2(v.abs, v.rec, &got); err != nil || got != r {
			t.Fatalf("%s: decoded %+v, %v; want %+v", name, got, err, r)
		}
	}
}

// Issue 6 deferred this: user-agent binding compares the same form on
// both sides. A header longer than 512 bytes is kept as its prefix and
// the SHA-256 of all of it, so two headers that differ after byte 512
// no longer match; each still matches itself.
func TestUserAgentFormComparesWholeHeader(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 2000} {
		h := strings.Repeat("u", max(n-1, 0)) + strings.Repeat("A", min(n, 1))
		kept, f := uaFormOf(h)
		if len(kept) > maxUserAgentLen {
			t.Fatalf("%d bytes: kept %d", n, len(kept))
		}
		if !uaMatch(kept, f, h) {
			t.Fatalf("%d-byte header does not match itself", n)
		}
		if n > 0 && uaMatch(kept, f, "X"+h[1:]) {
			t.Fatalf("%d bytes: a header differing in the first byte matches", n)
		}
		if n > maxUserAgentLen {
			if uaMatch(kept, f, h[:n-1]+"B") {
				t.Fatalf("%d bytes: a header differing only after byte 512 matches", n)
			}
			if uaMatch(kept, f, h[:maxUserAgentLen]) {
				t.Fatalf("%d bytes: the 512-byte prefix alone matches", n)
			}
		}
		// Stored and read back, the form survives.
		r := record{UserID: "u", CreatedAt: 1, UserAgent: kept, UA: f}
		var got record
		v, _ := splitV2(encodeV2(2, 1, &r, "{}", nil))
		if err := decodeRecordV2(v.abs, v.rec, &got); err != nil || !uaMatch(got.UserAgent, got.UA, h) {
			t.Fatalf("%d bytes: after a round trip: %v", n, err)
		}
	}
	// Format 1 kept only the prefix: old sessions compare prefixes, as
	// before (a longer header matches by its first 512 bytes).
	h := strings.Repeat("o", 600)
	if !uaMatch(h[:512], uaForm{legacy: true}, h) || uaMatch(h[:512], uaForm{legacy: true}, "x"+h[1:]) {
		t.Fatal("legacy prefix comparison")
	}
	if f := (uaForm{long: true, sum: sha256.Sum256([]byte(h))}); !uaMatch(h[:512], f, h) {
		t.Fatal("long form of its own header")
	}
}

func TestDecodeV2RefusesCorruptValues(t *testing.T) {
	r, data := referenceRecord()
	good := encodeV2(r.CreatedAt+1000, r.CreatedAt, &r, data, nil)
	v, _ := splitV2(good)
	for name, b := range map[string][]byte{
		"empty record":   {},
		"unknown flags":  append([]byte{0x80}, v.rec[1:]...),
		"trailing bytes": append(append([]byte(nil), v.rec...), 0),
		"truncated":      v.rec[:len(v.rec)-3],
	} {
		var got record
		if err := decodeRecordV2(v.abs, b, &got); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := splitV2([]byte{1, 2, 3}); err == nil {
		t.Error("split a 3-byte value")
	}
	if _, err := splitV2(append([]byte{recordV1}, good[1:]...)); err == nil {
		t.Error("split a value with version 1")
	}
}
