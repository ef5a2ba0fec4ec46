package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func FuzzValidID(f *testing.F) {
	good, _ := newID()
	for _, s := range []string{good, "", good[:42] + "B", good[:42] + "=", "++++", good + good} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		var raw [idBytes]byte
		ok := false
		if len(id) == IDLen { // Decode panics on a buffer too small for id
			n, err := idEncoding.Decode(raw[:], []byte(id))
			ok = err == nil && n == idBytes
		}
		if ok != ValidID(id) {
			t.Fatalf("ValidID(%q) = %v, strict decoder says %v", id, ValidID(id), ok)
		}
		if decodeID(id, &raw) != ok {
			t.Fatal("decodeID and the strict decoder disagree")
		}
		h, hok := Handle(id)
		if hok != ok {
			t.Fatal("Handle and ValidID disagree")
		}
		if !ok {
			return
		}
		// A valid ID is canonical: it re-encodes to itself.
		if idEncoding.EncodeToString(raw[:]) != id {
			t.Fatalf("accepted non-canonical id %q", id)
		}
		if len(h) != HandleLen {
			t.Fatalf("handle length %d", len(h))
		}
		var sum [32]byte
		if k, _ := appendSessionKey(nil, "p:", id, &sum); len(k) != len("p:s:")+keyHashLen || memberHandle(string(k[len("p:s:"):])) != h {
			t.Fatalf("key %q and handle %q disagree", k, h)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecordV1(&record{UserID: "u", Email: "e@x", CreatedAt: 1700000000000, AuthTime: -5, UserAgent: "ua", ClientIP: "::1"}))
	f.Add([]byte{recordV1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		if err := decodeRecordV1(b, &r); err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := encodeRecordV1(&r); !bytes.Equal(again, b) {
			var r2 record
			if decodeRecordV1(again, &r2) != nil || r2 != r {
				t.Fatalf("decode/encode not stable: %x -> %+v -> %x", b, r, again)
			}
		}
	})
}

// FuzzDecodeV2 holds the format-2 decoder to never panicking and to
// re-encoding what it accepts into a value that decodes the same.
func FuzzDecodeV2(f *testing.F) {
	r := record{UserID: "u", Email: "e@x", CreatedAt: 1700000000000, AuthTime: 1699999990000, UserAgent: "ua", ClientIP: "::1"}
	f.Add(encodeV2(1700086400000, 1700000000000, &r, `{"a":1}`, []byte("sealed")))
	long, f2 := uaFormOf(strings.Repeat("x", 600))
	r2 := record{UserID: "u", UserAgent: long, UA: f2, ClientIP: "not an ip", CreatedAt: 1700000000000}
	f.Add(encodeV2(1700086400000, 1700000000000, &r2, "{}", nil))
	f.Add([]byte{recordV2})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := splitV2(b)
		if err != nil || !v.complete {
			return
		}
		var r record
		if decodeRecordV2(v.abs, v.rec, &r) != nil {
			return
		}
		again := encodeV2(v.abs, v.last, &r, string(v.data), v.sealed)
		v2, err := splitV2(again)
		var r2 record
		if err != nil || decodeRecordV2(v2.abs, v2.rec, &r2) != nil || r2 != r ||
			!bytes.Equal(v2.data, v.data) || !bytes.Equal(v2.sealed, v.sealed) || v2.last != v.last {
			t.Fatalf("decode/encode not stable: %x -> %+v -> %x", b, r, again)
		}
	})
}

func FuzzDecodeSealedMap(f *testing.F) {
	f.Add(encodeSealedMap(map[string][]byte{"a": []byte("1"), "bb": nil}))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeSealedMap(b)
		if err != nil {
			return
		}
		m2, err := decodeSealedMap(encodeSealedMap(m))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("re-decode: %v (%d vs %d)", err, len(m2), len(m))
		}
		for k, v := range m {
			if !bytes.Equal(m2[k], v) {
				t.Fatalf("value of %q changed", k)
			}
		}
	})
}

func FuzzSealerOpen(f *testing.F) {
	s, _ := NewSealer("k", map[string][]byte{"k": testKey(9)})
	blob, _ := s.seal([]byte("secret"), []byte("aad"))
	f.Add(blob)
	f.Add([]byte{1, 'k'})
	f.Add([]byte{200})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Only "secret" was ever sealed under this key and AAD, so any
		// blob that opens must yield it; anything else must be refused
		// with ErrSealOpen, never a panic.
		plain, err := s.open(b, []byte("aad"))
		if err != nil {
			if !errors.Is(err, ErrSealOpen) {
				t.Fatalf("error %v does not wrap ErrSealOpen", err)
			}
			return
		}
		if string(plain) != "secret" {
			t.Fatalf("forged blob opened to %q", plain)
		}
	})
}
