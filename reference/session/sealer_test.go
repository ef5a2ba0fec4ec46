package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, SealerKeyLen) }

// sealedBlob reads the sealed part of id's stored session.
func sealedBlob(t *testing.T, e *env, s *Store, id string) []byte {
	t.Helper()
	raw, err := e.rdb.Get(ctxT(t), sessionKey(t, s, id)).Bytes()
	if err != nil {
		t.Fatalf("GET session: %v", err)
	}
	v, err := splitV2(raw)
	if err != nil || !v.complete {
		t.Fatalf("stored session does not split: %v", err)
	}
	return v.sealed
}

// putSealedBlob replaces the sealed part of id's stored session.
func putSealedBlob(t *testing.T, e *env, s *Store, id string, blob []byte) {
	t.Helper()
	key := sessionKey(t, s, id)
	raw, _ := e.rdb.Get(ctxT(t), key).Bytes()
	v, _ := splitV2(raw)
	head := raw[:len(raw)-len(v.sealed)]
	if err := e.rdb.Set(ctxT(t), key, append(append([]byte(nil), head...), blob...), redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
}

func keyLine(kid string, b byte) string {
	return kid + ":" + base64.StdEncoding.EncodeToString(testKey(b)) + "\n"
}

func TestSealedRoundTripAndRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		old, err := ParseSealerKeys(keyLine("k1", 1))
		if err != nil {
			t.Fatal(err)
		}
		s := e.store(t, Config{Sealer: old})
		ns := newSess("u")
		ns.Sealed = map[string][]byte{"refresh_token": []byte("rt-secret"), "empty": {}}
		id := mustCreate(t, s, ns)

		raw, _ := e.rdb.Get(ctxT(t), sessionKey(t, s, id)).Bytes()
		if bytes.Contains(raw, []byte("rt-secret")) || len(sealedBlob(t, e, s, id)) == 0 {
			t.Fatal("sealed value stored in clear")
		}
		plain, err := s.Validate(ctxT(t), id)
		if err != nil || plain.Sealed != nil {
			t.Fatalf("Validate must not decrypt: %v %v", plain, err)
		}
		got, err := s.Sealed(ctxT(t), id)
		if err != nil || string(got.Sealed["refresh_token"]) != "rt-secret" || len(got.Sealed) != 2 {
			t.Fatalf("Sealed = %v, %v", got, err)
		}

		// Rotation: new primary first, old key kept to decrypt.
		rotated, err := ParseSealerKeys("# rotated\n" + keyLine("k2", 2) + keyLine("k1", 1))
		if err != nil || rotated.PrimaryKID() != "k2" {
			t.Fatalf("ParseSealerKeys: %v, primary %q", err, rotated.PrimaryKID())
		}
		s2 := e.store(t, Config{Sealer: rotated})
		if got, err := s2.Sealed(ctxT(t), id); err != nil || string(got.Sealed["refresh_token"]) != "rt-secret" {
			t.Fatalf("rotated sealer cannot read old blob: %v", err)
		}
		newID := mustCreate(t, s2, ns)
		blob := sealedBlob(t, e, s2, newID)
		if string(blob[1:3]) != "k2" {
			t.Fatalf("new blob sealed under %q, want k2", blob[1:3])
		}
		// Old key retired: its blobs can no longer be opened.
		only2, _ := ParseSealerKeys(keyLine("k2", 2))
		s3 := e.store(t, Config{Sealer: only2})
		if _, err := s3.Sealed(ctxT(t), id); !errors.Is(err, ErrSealOpen) {
			t.Fatalf("retired key: %v, want ErrSealOpen", err)
		}
	})
}

func TestSealedTamperAndMoveRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sealer, _ := NewSealer("k", map[string][]byte{"k": testKey(7)})
		s := e.store(t, Config{Sealer: sealer})
		ns := newSess("u")
		ns.Sealed = map[string][]byte{"tok": []byte("secret")}
		a := mustCreate(t, s, ns)
		b := mustCreate(t, s, newSess("u"))
		blob := sealedBlob(t, e, s, a)

		// Moved to another session: AAD (the key hash) differs.
		putSealedBlob(t, e, s, b, blob)
		if _, err := s.Sealed(ctxT(t), b); !errors.Is(err, ErrSealOpen) {
			t.Errorf("moved blob: %v, want ErrSealOpen", err)
		}
		// One flipped bit.
		bad := append([]byte(nil), blob...)
		bad[len(bad)-1] ^= 1
		putSealedBlob(t, e, s, a, bad)
		if _, err := s.Sealed(ctxT(t), a); !errors.Is(err, ErrSealOpen) {
			t.Errorf("tampered blob: %v, want ErrSealOpen", err)
		}
		// Truncated.
		putSealedBlob(t, e, s, a, blob[:5])
		if _, err := s.Sealed(ctxT(t), a); !errors.Is(err, ErrSealOpen) {
			t.Errorf("truncated blob: %v, want ErrSealOpen", err)
		}
	})
}

func TestParseSealerKeysErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":     "# nothing\n\n",
		"no colon":  "k1" + base64.StdEncoding.EncodeToString(testKey(1)),
		"not b64":   "k1:!!!",
		"short key": "k1:" + base64.StdEncoding.EncodeToString([]byte("short")),
		"duplicate": keyLine("k1", 1) + keyLine("k1", 2),
		"bad kid":   keyLine("k 1", 1),
	} {
		if _, err := ParseSealerKeys(text); err == nil {
			t.Errorf("%s: ParseSealerKeys accepted %q", name, text)
		}
	}
	// An empty key id is named as such (on the first line it read as
	// "no key found").
	if _, err := ParseSealerKeys(":" + base64.StdEncoding.EncodeToString(testKey(1))); err == nil || !strings.Contains(err.Error(), "line 1: the key id before ':' is empty") {
		t.Errorf("empty key id: %v", err)
	}
	if _, err := NewSealer("missing", map[string][]byte{"k": testKey(1)}); err == nil {
		t.Error("NewSealer accepted a primary without key")
	}
}

func TestLoadSealerKeysPrefersEnvThenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(keyLine("file", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSealerKeys(keyLine("env", 4), path)
	if err != nil || s.PrimaryKID() != "env" {
		t.Fatalf("env: %v %v", s, err)
	}
	s, err = LoadSealerKeys("", path)
	if err != nil || s.PrimaryKID() != "file" {
		t.Fatalf("file: %v %v", s, err)
	}
	s, err = LoadSealerKeys("", "")
	if err != nil || s != nil {
		t.Fatalf("none: %v %v, want nil, nil", s, err)
	}
	if _, err := LoadSealerKeys("", filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "sealer keys file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSealedMapRoundTrip(t *testing.T) {
	m := map[string][]byte{"b": []byte("2"), "a": nil, "": []byte("x")}
	got, err := decodeSealedMap(encodeSealedMap(m))
	if err != nil || len(got) != 3 || string(got["b"]) != "2" || string(got[""]) != "x" {
		t.Fatalf("round trip = %v, %v", got, err)
	}
}
