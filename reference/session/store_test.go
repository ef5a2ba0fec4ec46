package session

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestCreateThenValidateReturnsRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		auth := e.clock.Now().Add(-time.Minute)
		ns := NewSession{UserID: "u1", Email: "a@b.c", Tenant: "t1", AuthTime: auth,
			UserAgent: "UA/1", ClientIP: "10.0.0.1", Data: json.RawMessage(`{ "theme" : "dark" }`)}
		id, created, err := s.Create(ctxT(t), ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != IDLen || !ValidID(id) {
			t.Fatalf("Create returned malformed id of length %d", len(id))
		}
		got, err := s.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		if got.UserID != "u1" || got.Email != "a@b.c" || got.Tenant != "t1" || got.UserAgent != "UA/1" || got.ClientIP != "10.0.0.1" {
			t.Errorf("identity fields = %+v", got)
		}
		if !got.AuthTime.Equal(auth) || !got.CreatedAt.Equal(now) || !got.LastSeen.Equal(now) {
			t.Errorf("times: auth %v created %v last %v, want %v %v %v", got.AuthTime, got.CreatedAt, got.LastSeen, auth, now, now)
		}
		if !got.ExpiresAt.Equal(now.Add(DefaultIdleTimeout)) || !got.AbsoluteExpiry.Equal(now.Add(DefaultAbsoluteTimeout)) {
			t.Errorf("expiry %v abs %v", got.ExpiresAt, got.AbsoluteExpiry)
		}
		if string(got.Data) != `{"theme":"dark"}` || string(created.Data) != `{"theme":"dark"}` {
			t.Errorf("data = %s / %s, want compacted object", got.Data, created.Data)
		}
		if got.Touched {
			t.Error("Touched on a fresh session")
		}
		// The raw ID never reaches Redis: the key is its hash.
		if n, _ := e.rdb.Exists(ctxT(t), sessionKey(t, s, id)).Result(); n != 1 {
			t.Error("session key (hash of id) missing")
		}
		keys, _ := e.rdb.Keys(ctxT(t), "*"+id+"*").Result()
		if len(keys) != 0 {
			t.Errorf("raw id appears in keys %v", keys)
		}
		assertAllKeysHaveTTL(t, e.rdb)
	})
}

func TestValidateEmptyDataIsEmptyObject(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{})
	id := mustCreate(t, s, newSess("u"))
	got, err := s.Validate(ctxT(t), id)
	if err != nil || string(got.Data) != "{}" {
		t.Fatalf("Validate = %v, %v; want data {}", got, err)
	}
}

func TestMalformedIDNeverReachesRedis(t *testing.T) {
	// A client on a port nobody listens on: any Redis call would fail
	// with ErrBackend, so ErrMalformedID proves no call was made.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	s, err := New(rdb, Config{})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := newID()
	bad := []string{
		"", "short", good[:42], good + "A",
		strings.Repeat("+", 43), strings.Repeat("/", 43), good[:42] + "=",
		good[:42] + "B", // non-canonical: trailing bits set
		strings.Repeat("A", 42) + "\x00", "sb:s:*",
	}
	for _, id := range bad {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
		if _, err := s.Validate(context.Background(), id); !errors.Is(err, ErrMalformedID) {
			t.Errorf("Validate(%q) = %v, want ErrMalformedID", id, err)
		}
		if err := s.Destroy(context.Background(), id); !errors.Is(err, ErrMalformedID) {
			t.Errorf("Destroy(%q) = %v, want ErrMalformedID", id, err)
		}
		if err := s.UpdateData(context.Background(), id, nil); !errors.Is(err, ErrMalformedID) {
			t.Errorf("UpdateData(%q) = %v, want ErrMalformedID", id, err)
		}
	}
	// A well-formed ID does reach Redis, and the failure is a backend one.
	if _, err := s.Validate(context.Background(), good); !errors.Is(err, ErrBackend) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Validate on dead Redis = %v, want ErrBackend", err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, ErrBackend) {
		t.Fatalf("Ping on dead Redis = %v, want ErrBackend", err)
	}
}

func TestUnknownIDIsNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		id, _ := newID()
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Validate = %v, want ErrNotFound", err)
		}
	})
}

func TestIdleTimeoutExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{IdleTimeout: 30 * time.Minute})
		id := mustCreate(t, s, newSess("u"))
		e.clock.Advance(30*time.Minute - time.Millisecond)
		if _, err := s.Validate(ctxT(t), id); err != nil {
			t.Fatalf("just inside idle window: %v", err)
		}
		e.clock.Advance(30 * time.Minute)
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrExpired) {
			t.Fatalf("after idle window: %v, want ErrExpired", err)
		}
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session must be deleted: %v, want ErrNotFound", err)
		}
	})
}

func TestIdleTimeoutByRedisTTL(t *testing.T) {
	// Without the store noticing, Redis itself drops an idle session.
	e := miniEnv(t)
	s := e.store(t, Config{Now: time.Now})
	id := mustCreate(t, s, newSess("u"))
	e.mini.FastForward(DefaultIdleTimeout + time.Second)
	if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Validate = %v, want ErrNotFound", err)
	}
}

func TestAbsoluteTimeoutBeatsActivity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour})
		id := mustCreate(t, s, newSess("u"))
		for i := 0; i < 2; i++ {
			e.clock.Advance(25 * time.Minute)
			if _, err := s.Validate(ctxT(t), id); err != nil {
				t.Fatalf("active session at %d: %v", i, err)
			}
		}
		// 50m in: the TTL is capped at the absolute expiry (10m away).
		got, err := s.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.ExpiresAt.Equal(got.AbsoluteExpiry) {
			t.Errorf("ExpiresAt %v, want capped at absolute %v", got.ExpiresAt, got.AbsoluteExpiry)
		}
		if et := expireTimeMS(t, e.rdb, sessionKey(t, s, id)); et != got.AbsoluteExpiry.UnixMilli() {
			t.Errorf("PEXPIRETIME %d, want absolute expiry %d", et, got.AbsoluteExpiry.UnixMilli())
		}
		e.clock.Advance(10 * time.Minute)
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrExpired) {
			t.Fatalf("at absolute expiry: %v, want ErrExpired", err)
		}
	})
}

func TestTouchOnlyPastThreshold(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{IdleTimeout: 30 * time.Minute, TouchThreshold: 3 * time.Minute})
		id := mustCreate(t, s, newSess("u"))
		key := sessionKey(t, s, id)
		first := expireTimeMS(t, e.rdb, key)
		if want := e.clock.Now().Add(30 * time.Minute).UnixMilli(); first != want {
			t.Fatalf("initial PEXPIRETIME %d, want %d", first, want)
		}
		e.clock.Advance(3 * time.Minute)
		got, err := s.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Touched || expireTimeMS(t, e.rdb, key) != first {
			t.Fatalf("touched within threshold (Touched=%v)", got.Touched)
		}
		e.clock.Advance(time.Millisecond)
		got, err = s.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		want := e.clock.Now().Add(30 * time.Minute)
		if !got.Touched || !got.LastSeen.Equal(e.clock.Now()) || !got.ExpiresAt.Equal(want) {
			t.Fatalf("past threshold: Touched=%v LastSeen=%v ExpiresAt=%v", got.Touched, got.LastSeen, got.ExpiresAt)
		}
		if et := expireTimeMS(t, e.rdb, key); et != want.UnixMilli() {
			t.Fatalf("PEXPIRETIME %d, want %d", et, want.UnixMilli())
		}
	})
}

func TestStaleRequestNeverShortensTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		id := mustCreate(t, s, newSess("u"))
		e.clock.Advance(10 * time.Minute)
		if got, err := s.Validate(ctxT(t), id); err != nil || !got.Touched {
			t.Fatalf("touch: %v %v", got, err)
		}
		key := sessionKey(t, s, id)
		before := expireTimeMS(t, e.rdb, key)
		// A server whose clock lags 8 minutes (a slow, stale request).
		behind := &fakeClock{t: e.clock.Now().Add(-8 * time.Minute)}
		old := e.store(t, Config{Now: behind.Now})
		got, err := old.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Touched || expireTimeMS(t, e.rdb, key) != before {
			t.Fatalf("stale request moved the expiry (Touched=%v)", got.Touched)
		}
	})
}

func TestDestroyIsFinal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		id := mustCreate(t, s, newSess("u"))
		if err := s.Destroy(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Validate after Destroy = %v", err)
		}
		if err := s.UpdateData(ctxT(t), id, json.RawMessage(`{"a":1}`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateData after Destroy = %v", err)
		}
		e.clock.Advance(time.Hour)
		if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Validate (would touch) after Destroy = %v", err)
		}
		if err := s.Destroy(ctxT(t), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Destroy = %v", err)
		}
		if n := e.rdb.Exists(ctxT(t), sessionKey(t, s, id)).Val(); n != 0 {
			t.Error("session key recreated")
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("u")).Val(); n != 0 {
			t.Errorf("index still has %d entries", n)
		}
	})
}

func TestUpdateDataKeepsTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		id := mustCreate(t, s, newSess("u"))
		key := sessionKey(t, s, id)
		before := expireTimeMS(t, e.rdb, key)
		e.clock.Advance(time.Minute)
		if err := s.UpdateData(ctxT(t), id, json.RawMessage(`{"cart": [1, 2]}`)); err != nil {
			t.Fatal(err)
		}
		if after := expireTimeMS(t, e.rdb, key); after != before {
			t.Fatalf("PEXPIRETIME %d -> %d", before, after)
		}
		got, err := s.Validate(ctxT(t), id)
		if err != nil || string(got.Data) != `{"cart":[1,2]}` {
			t.Fatalf("Validate = %s, %v", got.Data, err)
		}
		e.clock.Advance(DefaultIdleTimeout)
		if err := s.UpdateData(ctxT(t), id, nil); !errors.Is(err, ErrExpired) {
			t.Fatalf("UpdateData on idle-expired session = %v, want ErrExpired", err)
		}
	})
}

func TestDataLimits(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxDataBytes: 32})
	cases := []struct {
		name string
		data string
		want error
	}{
		{"array", `[1,2]`, ErrInvalidData},
		{"string", `"x"`, ErrInvalidData},
		{"number", `12`, ErrInvalidData},
		{"invalid", `{"a":`, ErrInvalidData},
		{"too large", `{"a":"` + strings.Repeat("x", 40) + `"}`, ErrDataTooLarge},
		{"fits after compaction", `{ "a" :   "` + strings.Repeat("x", 20) + `"  }`, nil},
		{"null", `null`, ErrInvalidData},
	}
	id := mustCreate(t, s, newSess("u"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := newSess("u2")
			ns.Data = json.RawMessage(c.data)
			_, _, err := s.Create(ctxT(t), ns)
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Errorf("Create = %v, want %v", err, c.want)
			}
			err = s.UpdateData(ctxT(t), id, json.RawMessage(c.data))
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Errorf("UpdateData = %v, want %v", err, c.want)
			}
		})
	}
}

func TestCreateRejectsBadFields(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{})
	for name, ns := range map[string]NewSession{
		"UserID": {},
		"Email":  {UserID: "u", Email: strings.Repeat("e", 400)},
		"Tenant": {UserID: "u", Tenant: strings.Repeat("t", 300)},
	} {
		_, _, err := s.Create(ctxT(t), ns)
		if !errors.Is(err, ErrInvalidSession) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Create = %v, want ErrInvalidSession naming the field", name, err)
		}
	}
	ns := newSess("u")
	ns.Sealed = map[string][]byte{"tok": []byte("x")}
	if _, _, err := s.Create(ctxT(t), ns); !errors.Is(err, ErrNoSealer) {
		t.Errorf("sealed without Sealer = %v, want ErrNoSealer", err)
	}
}

func TestCapEvictsOldest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{MaxSessionsPerUser: 3})
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, mustCreate(t, s, newSess("u")))
			e.clock.Advance(time.Second)
		}
		for i, id := range ids {
			_, err := s.Validate(ctxT(t), id)
			if i < 2 && !errors.Is(err, ErrNotFound) {
				t.Errorf("session %d should be evicted: %v", i, err)
			}
			if i >= 2 && err != nil {
				t.Errorf("session %d should be live: %v", i, err)
			}
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("u")).Val(); n != 3 {
			t.Errorf("index has %d entries, want 3", n)
		}
		assertAllKeysHaveTTL(t, e.rdb)
	})
}

func TestCapIgnoresStaleEntries(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: 2})
	a := mustCreate(t, s, newSess("u"))
	e.clock.Advance(time.Second)
	b := mustCreate(t, s, newSess("u"))
	// b's session vanishes behind the store's back (e.g. evicted by
	// maxmemory): its index entry is stale.
	e.rdb.Del(ctxT(t), sessionKey(t, s, b))
	e.clock.Advance(2 * createGrace)
	mustCreate(t, s, newSess("u"))
	if _, err := s.Validate(ctxT(t), a); err != nil {
		t.Fatalf("a stale entry counted against the cap and evicted a live session: %v", err)
	}
}

func TestListAndDestroyAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		var ids []string
		for i := 0; i < 3; i++ {
			ns := newSess("alice")
			ns.UserAgent = "agent-" + string(rune('a'+i))
			ids = append(ids, mustCreate(t, s, ns))
			e.clock.Advance(time.Second)
		}
		bob := mustCreate(t, s, newSess("bob"))
		list, err := s.List(ctxT(t), "alice", ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("List = %d entries, want 3", len(list))
		}
		for i, in := range list {
			if in.UserAgent != "agent-"+string(rune('a'+i)) || in.ClientIP != "127.0.0.1" {
				t.Errorf("entry %d = %+v (want oldest first)", i, in)
			}
			if in.Current != (i == 1) {
				t.Errorf("entry %d Current=%v", i, in.Current)
			}
			if len(in.Handle) != HandleLen || strings.Contains(ids[i], in.Handle) {
				t.Errorf("entry %d handle %q must be a non-secret %d-char reference", i, in.Handle, HandleLen)
			}
		}
		// Log out one device by handle.
		if err := s.DestroyHandle(ctxT(t), "alice", list[0].Handle); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Validate(ctxT(t), ids[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("DestroyHandle left the session: %v", err)
		}
		if err := s.DestroyHandle(ctxT(t), "bob", list[1].Handle); !errors.Is(err, ErrNotFound) {
			t.Errorf("DestroyHandle of another user's session = %v, want ErrNotFound", err)
		}
		n, err := s.DestroyAll(ctxT(t), "alice")
		if err != nil || n != 2 {
			t.Fatalf("DestroyAll = %d, %v; want 2", n, err)
		}
		for _, id := range ids {
			if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
				t.Errorf("alice's session survived logout everywhere: %v", err)
			}
		}
		if _, err := s.Validate(ctxT(t), bob); err != nil {
			t.Errorf("bob's session hit by alice's logout: %v", err)
		}
		if list, err := s.List(ctxT(t), "alice", ""); err != nil || len(list) != 0 || list == nil {
			t.Errorf("List after DestroyAll = %#v, %v; want empty non-nil", list, err)
		}
	})
}

func TestListPrunesStaleEntriesAfterGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		a := mustCreate(t, s, newSess("u"))
		mustCreate(t, s, newSess("u"))
		e.rdb.Del(ctxT(t), sessionKey(t, s, a))
		list, err := s.List(ctxT(t), "u", "")
		if err != nil || len(list) != 1 {
			t.Fatalf("List = %d, %v; want 1", len(list), err)
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("u")).Val(); n != 2 {
			t.Fatalf("entry pruned within createGrace (a Create may be in flight): %d", n)
		}
		e.clock.Advance(createGrace + time.Second)
		if _, err := s.List(ctxT(t), "u", ""); err != nil {
			t.Fatal(err)
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("u")).Val(); n != 1 {
			t.Fatalf("stale entry not pruned: %d entries", n)
		}
	})
}

func TestIndexKeyOutlivesMembers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{AbsoluteTimeout: 2 * time.Hour})
		mustCreate(t, s, newSess("u"))
		e.clock.Advance(time.Hour)
		mustCreate(t, s, newSess("u"))
		want := e.clock.Now().Add(2 * time.Hour).UnixMilli()
		if et := expireTimeMS(t, e.rdb, s.indexKey("u")); et < want {
			t.Fatalf("index expires at %d, before its newest member's absolute expiry %d", et, want)
		}
	})
}

func TestGCReport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		a := mustCreate(t, s, newSess("u1"))
		mustCreate(t, s, newSess("u1"))
		mustCreate(t, s, newSess("u2"))
		lost := mustCreate(t, s, newSess("u3"))
		e.rdb.Del(ctxT(t), sessionKey(t, s, a), sessionKey(t, s, lost))
		e.rdb.Set(ctxT(t), "other:key", "x", 0) // outside the prefix: ignored
		e.clock.Advance(createGrace + time.Second)
		rep, err := s.GC(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want := GCReport{LiveSessions: 2, Users: 2, StaleIndexPruned: 2, KeysWithoutTTL: 0, ScannedKeys: 5}
		rep.DurationMS = 0
		if rep != want {
			t.Fatalf("GC = %+v, want %+v", rep, want)
		}
		// A key without TTL under the prefix is reported, not fixed.
		e.rdb.Set(ctxT(t), s.cfg.KeyPrefix+"s:bogus", "x", 0)
		rep, err = s.GC(ctxT(t))
		if err != nil || rep.KeysWithoutTTL != 1 || rep.StaleIndexPruned != 0 {
			t.Fatalf("second GC = %+v, %v", rep, err)
		}
		b, _ := json.Marshal(rep)
		for _, f := range []string{"live_sessions", "users", "stale_index_entries_pruned", "keys_without_ttl", "scanned_keys", "duration_ms"} {
			if !strings.Contains(string(b), `"`+f+`"`) {
				t.Errorf("GC JSON %s lacks %q", b, f)
			}
		}
	})
}

func TestConfigErrorsNameTheField(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for field, cfg := range map[string]Config{
		"IdleTimeout":     {IdleTimeout: -time.Second},
		"AbsoluteTimeout": {AbsoluteTimeout: -1},
		"TouchThreshold":  {IdleTimeout: time.Minute, TouchThreshold: time.Minute},
		"MaxDataBytes":    {MaxDataBytes: 1},
		"KeyPrefix":       {KeyPrefix: "{sb}:"},
	} {
		if _, err := New(rdb, cfg); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New(%s bad) = %v; want an error naming it", field, err)
		}
	}
	s, err := New(rdb, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.IdleTimeout != DefaultIdleTimeout || c.AbsoluteTimeout != DefaultAbsoluteTimeout || c.TouchThreshold != DefaultIdleTimeout/10 ||
		c.MaxSessionsPerUser != 10 || c.MaxDataBytes != 4096 || c.KeyPrefix != "sb:" {
		t.Fatalf("defaults = %+v", c)
	}
}

// Regression (issue 11): the store accepted custom data with invalid
// UTF-8 inside a string (json.Valid does not check it).
func TestDataMustBeUTF8(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{})
	ns := newSess("u")
	ns.Data = json.RawMessage("{\"k\":\"caf\xe9\"}")
	if _, _, err := s.Create(ctxT(t), ns); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("Create with invalid UTF-8 data = %v, want ErrInvalidData", err)
	}
	id := mustCreate(t, s, newSess("u"))
	if err := s.UpdateData(ctxT(t), id, json.RawMessage("{\"k\":\"\xff\"}")); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("UpdateData with invalid UTF-8 = %v, want ErrInvalidData", err)
	}
}
