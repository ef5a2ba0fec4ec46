package session

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeLegacySession writes a session exactly as Create did before record
// format 2 (the hash layout, the 43-character key hash in the key name
// and the index member, sealed fields under the whole SHA-256 as AAD),
// so the tests below can check that an upgraded store still serves it:
// the rolling-deploy case.
func writeLegacySession(t *testing.T, e *env, s *Store, ns NewSession, sealed map[string][]byte) string {
	t.Helper()
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	var sum [sha256.Size]byte
	if !idSum(id, &sum) {
		t.Fatal("fresh id does not hash")
	}
	key := legacyKey(s.cfg.KeyPrefix, &sum)
	member := key[len(s.sessPrefix):]
	if len(member) != legacyHashLen {
		t.Fatalf("legacy member %q", member)
	}
	now := e.clock.Now().UnixMilli()
	abs := now + s.absMS
	exp := min(now+s.idleMS, abs)
	ua := ns.UserAgent
	if len(ua) > maxUserAgentLen {
		ua = ua[:maxUserAgentLen] // format 1 kept the first 512 bytes
	}
	rec := encodeRecordV1(&record{UserID: ns.UserID, Email: ns.Email, Tenant: ns.Tenant, CreatedAt: now,
		AuthTime: toMS(ns.AuthTime), UserAgent: ua, ClientIP: ns.ClientIP})
	data := "{}"
	if len(ns.Data) > 0 {
		data = string(ns.Data)
	}
	ctx := ctxT(t)
	idx := s.indexKey(ns.UserID)
	if err := e.rdb.ZAdd(ctx, idx, redis.Z{Score: float64(abs), Member: member}).Err(); err != nil {
		t.Fatal(err)
	}
	e.rdb.PExpireAt(ctx, idx, time.UnixMilli(abs))
	fields := []any{"a", abs, "l", now, "r", rec, "d", data}
	if sealed != nil {
		blob, err := s.cfg.Sealer.seal(encodeSealedMap(sealed), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, "s", blob)
	}
	if err := e.rdb.HSet(ctx, key, fields...).Err(); err != nil {
		t.Fatal(err)
	}
	e.rdb.PExpireAt(ctx, key, time.UnixMilli(exp))
	return id
}

func TestLegacySessionsKeepWorking(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sealer, _ := NewSealer("k1", map[string][]byte{"k1": testKey(1)})
		s := e.store(t, Config{Sealer: sealer})
		ns := newSess("old")
		ns.Data = json.RawMessage(`{"plan":"pro"}`)
		ns.AuthTime = e.clock.Now().Add(-time.Minute)
		old := writeLegacySession(t, e, s, ns, map[string][]byte{"rt": []byte("legacy-secret")})
		fresh := mustCreate(t, s, newSess("old"))

		got, err := s.Validate(ctxT(t), old)
		if err != nil || got.UserID != "old" || got.Email != "old@example.com" || string(got.Data) != `{"plan":"pro"}` ||
			!got.AuthTime.Equal(ns.AuthTime.Truncate(time.Millisecond)) || !got.UserAgentMatches("test-agent") || got.Sealed != nil {
			t.Fatalf("Validate(old) = %+v, %v", got, err)
		}
		// Touch writes format 1's fields, as before.
		e.advance(DefaultIdleTimeout/10 + time.Second)
		if got, err := s.Validate(ctxT(t), old); err != nil || !got.Touched {
			t.Fatalf("touch of an old session: %+v, %v", got, err)
		}
		if sealedOld, err := s.Sealed(ctxT(t), old); err != nil || string(sealedOld.Sealed["rt"]) != "legacy-secret" {
			t.Fatalf("Sealed(old) = %+v, %v", sealedOld, err)
		}
		if err := s.SetSealed(ctxT(t), old, map[string][]byte{"rt": []byte("rotated")}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Sealed(ctxT(t), old); err != nil || string(got.Sealed["rt"]) != "rotated" {
			t.Fatalf("Sealed(old) after SetSealed = %+v, %v", got, err)
		}
		if err := s.UpdateData(ctxT(t), old, json.RawMessage(`{"plan":"free"}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Validate(ctxT(t), old); string(got.Data) != `{"plan":"free"}` {
			t.Fatalf("data after UpdateData = %s", got.Data)
		}

		// Both formats in one index: listed with handles of one form.
		list, err := s.List(ctxT(t), "old", old)
		if err != nil || len(list) != 2 {
			t.Fatalf("List = %+v, %v", list, err)
		}
		hOld, _ := Handle(old)
		hNew, _ := Handle(fresh)
		byHandle := map[string]Info{list[0].Handle: list[0], list[1].Handle: list[1]}
		if in, ok := byHandle[hOld]; !ok || !in.Current || in.UserAgent != "test-agent" || in.ClientIP != "127.0.0.1" {
			t.Fatalf("List = %+v; want the old session %s, marked current", list, hOld)
		}
		if in, ok := byHandle[hNew]; !ok || in.Current {
			t.Fatalf("List = %+v; want the new session %s, not current", list, hNew)
		}
		rep, err := s.GC(ctxT(t))
		if err != nil || rep.LiveSessions != 2 || rep.LegacySessions != 1 || rep.SealedByKey["k1"] != 1 || rep.StrayKeys != 0 {
			t.Fatalf("GC = %+v, %v", rep, err)
		}

		// Per-device logout by the listed handle, then the cookie.
		if err := s.DestroyHandle(ctxT(t), "old", hOld); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Validate(ctxT(t), old); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Validate after DestroyHandle = %v", err)
		}
		old2 := writeLegacySession(t, e, s, newSess("old"), nil)
		if err := s.Destroy(ctxT(t), old2); err != nil {
			t.Fatal(err)
		}
		if err := s.Destroy(ctxT(t), old2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Destroy = %v", err)
		}
		old3 := writeLegacySession(t, e, s, newSess("old"), nil)
		if n, err := s.DestroyAll(ctxT(t), "old"); err != nil || n != 2 {
			t.Fatalf("DestroyAll = %d, %v; want the new and the old session", n, err)
		}
		for _, id := range []string{old3, fresh} {
			if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Validate after DestroyAll = %v", err)
			}
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("old")).Val(); n != 0 {
			t.Fatalf("index keeps %d entries", n)
		}
		assertAllKeysHaveTTL(t, e.rdb)
	})
}

// A browser holding an old session logs in again (rotation): the old
// session ends even though it is in the other format.
func TestRotationEndsLegacySession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		old := writeLegacySession(t, e, s, newSess("u"), nil)
		ns := newSess("u")
		ns.Replaces = old
		_, sess, err := s.Create(ctxT(t), ns)
		if err != nil || !sess.Replaced {
			t.Fatalf("Create replacing an old session: %+v, %v", sess, err)
		}
		if _, err := s.Validate(ctxT(t), old); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old session after rotation: %v", err)
		}
	})
}

// Old sessions kept the first 512 bytes of a long user agent, and are
// compared by that prefix, as before the upgrade.
func TestLegacyLongUserAgent(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{})
	ns := newSess("u")
	ns.UserAgent = strings.Repeat("a", 700)
	old := writeLegacySession(t, e, s, ns, nil)
	got, err := s.Validate(ctxT(t), old)
	if err != nil || len(got.UserAgent) != maxUserAgentLen || !got.UserAgentMatches(ns.UserAgent) || got.UserAgentMatches("b"+ns.UserAgent[1:]) {
		t.Fatalf("old session with a long user agent: %v, %v", got, err)
	}
}

// An old session past its absolute expiry is deleted on read, as before.
func TestLegacyExpired(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour})
	old := writeLegacySession(t, e, s, newSess("u"), nil)
	e.clock.Advance(2*time.Hour + time.Second) // the store's clock only: Redis keeps the key
	if _, err := s.Validate(ctxT(t), old); !errors.Is(err, ErrExpired) {
		t.Fatalf("Validate of an expired old session = %v, want ErrExpired", err)
	}
	var sum [sha256.Size]byte
	idSum(old, &sum)
	if n := e.rdb.Exists(ctxT(t), legacyKey(s.cfg.KeyPrefix, &sum)).Val(); n != 0 {
		t.Fatal("expired old session not deleted")
	}
}
