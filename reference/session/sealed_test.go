package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSetSealedRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sealer, _ := ParseSealerKeys(keyLine("k1", 1))
		s := e.store(t, Config{Sealer: sealer, MaxSealedBytes: 256})
		ns := newSess("u")
		ns.Data = []byte(`{"theme":"dark"}`)
		id := mustCreate(t, s, ns)
		secrets := map[string][]byte{"access_token": []byte("at-SECRET-1"), "refresh_token": []byte("rt-SECRET-2")}
		if err := s.SetSealed(ctxT(t), id, secrets); err != nil {
			t.Fatal(err)
		}
		got, err := s.Sealed(ctxT(t), id)
		if err != nil || len(got.Sealed) != 2 || string(got.Sealed["refresh_token"]) != "rt-SECRET-2" || string(got.Data) != `{"theme":"dark"}` {
			t.Fatalf("Sealed = %+v, %v", got, err)
		}
		// Validate never returns them, and Redis never holds them in clear.
		if v, err := s.Validate(ctxT(t), id); err != nil || v.Sealed != nil {
			t.Fatalf("Validate returned sealed fields: %+v, %v", v, err)
		}
		raw, _ := e.rdb.Get(ctxT(t), sessionKey(t, s, id)).Bytes()
		for _, secret := range []string{"at-SECRET-1", "rt-SECRET-2", "access_token", "refresh_token"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("Redis holds %q in clear", secret)
			}
		}
		// Data and sealed fields are independent sections.
		if err := s.UpdateData(ctxT(t), id, []byte(`{"theme":"light","n":12345678901234}`)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Sealed(ctxT(t), id); err != nil || string(got.Sealed["access_token"]) != "at-SECRET-1" || string(got.Data) != `{"theme":"light","n":12345678901234}` {
			t.Fatalf("after UpdateData: %+v, %v", got, err)
		}
		// Replace, then remove.
		if err := s.SetSealed(ctxT(t), id, map[string][]byte{"only": []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Sealed(ctxT(t), id); len(got.Sealed) != 1 || string(got.Sealed["only"]) != "x" {
			t.Fatalf("after replace: %v", got.Sealed)
		}
		if err := s.SetSealed(ctxT(t), id, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Sealed(ctxT(t), id); got.Sealed != nil || len(sealedBlob(t, e, s, id)) != 0 {
			t.Fatalf("after remove: %v", got.Sealed)
		}
		// The TTL is kept.
		before := expireTimeMS(t, e.rdb, sessionKey(t, s, id))
		_ = s.SetSealed(ctxT(t), id, secrets)
		if after := expireTimeMS(t, e.rdb, sessionKey(t, s, id)); after != before {
			t.Fatalf("SetSealed moved the expiry %d -> %d", before, after)
		}

		// Refusals.
		if err := s.SetSealed(ctxT(t), id, map[string][]byte{"big": bytes.Repeat([]byte("x"), 300)}); !errors.Is(err, ErrSealedTooLarge) || !strings.Contains(err.Error(), "MaxSealedBytes") {
			t.Fatalf("too large: %v", err)
		}
		if err := s.SetSealed(ctxT(t), "bad", secrets); !errors.Is(err, ErrMalformedID) {
			t.Fatalf("malformed: %v", err)
		}
		other, _ := newID()
		if err := s.SetSealed(ctxT(t), other, secrets); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		if err := s.Destroy(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSealed(ctxT(t), id, secrets); !errors.Is(err, ErrNotFound) {
			t.Fatalf("destroyed session: %v (a write must never recreate it)", err)
		}
		if n := e.rdb.Exists(ctxT(t), sessionKey(t, s, id)).Val(); n != 0 {
			t.Fatal("SetSealed recreated a destroyed session")
		}
		plain := e.store(t, Config{})
		if err := plain.SetSealed(ctxT(t), other, secrets); !errors.Is(err, ErrNoSealer) || plain.Sealing() || !s.Sealing() {
			t.Fatalf("without a sealer: %v", err)
		}
	})
}

func TestSetSealedExpired(t *testing.T) {
	e := miniEnv(t)
	sealer, _ := ParseSealerKeys(keyLine("k1", 1))
	s := e.store(t, Config{Sealer: sealer, IdleTimeout: time.Minute})
	id := mustCreate(t, s, newSess("u"))
	e.clock.Advance(2 * time.Minute) // the store's clock: Redis still has the key
	if err := s.SetSealed(ctxT(t), id, map[string][]byte{"a": []byte("b")}); !errors.Is(err, ErrExpired) {
		t.Fatalf("SetSealed on an expired session = %v, want ErrExpired", err)
	}
}

// Rotation: after a new primary key is put first, sessions sealed under
// the old key still open, and every write re-seals under the new one;
// GC tells when no session uses the old key any more.
func TestSealedRotationResealsOnWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k1, _ := ParseSealerKeys(keyLine("k1", 1))
		s1 := e.store(t, Config{Sealer: k1})
		a := mustCreate(t, s1, newSess("u"))
		b := mustCreate(t, s1, newSess("u"))
		for _, id := range []string{a, b} {
			if err := s1.SetSealed(ctxT(t), id, map[string][]byte{"rt": []byte("old-" + id[:4])}); err != nil {
				t.Fatal(err)
			}
		}
		rotated, _ := ParseSealerKeys(keyLine("k2", 2) + keyLine("k1", 1))
		s2 := e.store(t, Config{Sealer: rotated})
		if rep, _ := s2.GC(ctxT(t)); rep.SealedByKey["k1"] != 2 || rep.SealedByKey["k2"] != 0 {
			t.Fatalf("GC before re-sealing: %v", rep.SealedByKey)
		}
		got, err := s2.Sealed(ctxT(t), a)
		if err != nil || string(got.Sealed["rt"]) != "old-"+a[:4] {
			t.Fatalf("old key no longer opens: %v", err)
		}
		if err := s2.SetSealed(ctxT(t), a, got.Sealed); err != nil {
			t.Fatal(err)
		}
		if kid, _ := blobKID(sealedBlob(t, e, s2, a)); kid != "k2" {
			t.Fatalf("re-sealed under %q, want k2", kid)
		}
		rep, _ := s2.GC(ctxT(t))
		if rep.SealedByKey["k1"] != 1 || rep.SealedByKey["k2"] != 1 {
			t.Fatalf("GC after one re-seal: %v", rep.SealedByKey)
		}
		// k1 retired while b still uses it: b's fields no longer open.
		only2, _ := ParseSealerKeys(keyLine("k2", 2))
		s3 := e.store(t, Config{Sealer: only2})
		if _, err := s3.Sealed(ctxT(t), b); !errors.Is(err, ErrSealOpen) {
			t.Fatalf("retired key: %v", err)
		}
		if got, err := s3.Sealed(ctxT(t), a); err != nil || string(got.Sealed["rt"]) != "old-"+a[:4] {
			t.Fatalf("re-sealed session after retiring k1: %v", err)
		}
	})
}
