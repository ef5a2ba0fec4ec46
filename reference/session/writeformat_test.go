package session

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scripts of the sessiond before record format 2 (main at d5cf00b,
// reference/session/scripts.go), verbatim: what an old instance runs on
// a session during a rolling upgrade. Its validate script is
// validateV1Lua unchanged, its list reads HMGET a l r.
const (
	oldDestroyLua = fenceLua + `
local r = redis.call('HGET', KEYS[1], 'r')
if redis.call('DEL', KEYS[1]) == 0 then return false end
return r or ''
`
)

func TestWriteFormatConfig(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil || c.WriteFormat != DefaultWriteFormat || DefaultWriteFormat != 2 {
		t.Fatalf("default WriteFormat = %d, %v; want 2", c.WriteFormat, err)
	}
	for _, wf := range []int{1, 2} {
		if c, err := (Config{WriteFormat: wf}).withDefaults(); err != nil || c.WriteFormat != wf {
			t.Fatalf("WriteFormat %d = %d, %v", wf, c.WriteFormat, err)
		}
	}
	for _, wf := range []int{-1, 3, 10} {
		if _, err := (Config{WriteFormat: wf}).withDefaults(); err == nil || !strings.Contains(err.Error(), "Config.WriteFormat") {
			t.Fatalf("WriteFormat %d: err = %v, want one naming Config.WriteFormat", wf, err)
		}
	}
}

// hashFields is HGETALL of key.
func hashFields(t *testing.T, rdb redis.UniversalClient, key string) map[string]string {
	t.Helper()
	m, err := rdb.HGetAll(ctxT(t), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// With WriteFormat 1 a new session is stored exactly as the sessiond
// before format 2 stored it: compared field by field with one written
// the old way (writeLegacySession) at the same instant.
func TestWriteFormat1WritesTheOldLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sealer, _ := NewSealer("k1", map[string][]byte{"k1": testKey(1)})
		s := e.store(t, Config{Sealer: sealer, WriteFormat: 1})
		ns := newSess("u1")
		ns.Data = json.RawMessage(`{"plan":"pro"}`)
		ns.AuthTime = e.clock.Now().Add(-time.Minute)
		ns.UserAgent = strings.Repeat("Mozilla/5.0 ", 60) // 720 bytes: past the 512 format 1 keeps
		sealed := map[string][]byte{"rt": []byte("refresh-token")}

		old := writeLegacySession(t, e, s, ns, sealed)
		ns.Sealed = sealed
		id, sess, err := s.Create(ctxT(t), ns)
		if err != nil {
			t.Fatal(err)
		}
		var sum, oldSum [sha256.Size]byte
		idSum(id, &sum)
		idSum(old, &oldSum)
		key, oldKey := legacyKey(s.cfg.KeyPrefix, &sum), legacyKey(s.cfg.KeyPrefix, &oldSum)

		// Key name: prefix "s:" base64url(SHA-256(raw id)); no format-2 key.
		if want := "sb:s:" + base64.RawURLEncoding.EncodeToString(sum[:]); key != want {
			t.Fatalf("legacy key %q, want %q", key, want)
		}
		if typ := e.rdb.Type(ctxT(t), key).Val(); typ != "hash" {
			t.Fatalf("session key %q is a %q, want a hash", key, typ)
		}
		if n := e.rdb.Exists(ctxT(t), sessionKey(t, s, id)).Val(); n != 0 {
			t.Fatal("WriteFormat 1 also wrote a format-2 key")
		}
		if n := e.rdb.DBSize(ctxT(t)).Val(); n != 3 {
			t.Fatalf("%d keys; want 3 (two sessions, one index)", n)
		}

		// Fields: the same names; the same values except the sealed blob
		// (a fresh nonce), which opens under the whole SHA-256 as before.
		got, want := hashFields(t, e.rdb, key), hashFields(t, e.rdb, oldKey)
		if strings.Join(sortedKeys(got), ",") != "a,d,l,r,s" || strings.Join(sortedKeys(want), ",") != "a,d,l,r,s" {
			t.Fatalf("fields %v, old layout %v; want a,d,l,r,s", sortedKeys(got), sortedKeys(want))
		}
		for _, f := range []string{"a", "l", "r", "d"} {
			if got[f] != want[f] {
				t.Errorf("field %s = %q, old layout %q", f, got[f], want[f])
			}
		}
		if m, err := s.openMap([]byte(got["s"]), sum[:]); err != nil || string(m["rt"]) != "refresh-token" {
			t.Fatalf("sealed field does not open under the whole SHA-256: %v, %v", m, err)
		}
		var rec record
		if err := decodeRecordV1([]byte(got["r"]), &rec); err != nil || len(rec.UserAgent) != maxUserAgentLen || rec.UserID != "u1" {
			t.Fatalf("record = %+v, %v", rec, err)
		}
		if a, b := expireTimeMS(t, e.rdb, key), expireTimeMS(t, e.rdb, oldKey); a != b || a <= 0 {
			t.Fatalf("session expiry %d, old layout %d", a, b)
		}

		// Index: 43-character members (base64url of the whole hash),
		// score the absolute expiry, as before.
		idx := s.indexKey("u1")
		member := key[len(s.sessPrefix):]
		if len(member) != legacyHashLen {
			t.Fatalf("index member %q: %d bytes, want %d", member, len(member), legacyHashLen)
		}
		zs := e.rdb.ZRangeWithScores(ctxT(t), idx, 0, -1).Val()
		if len(zs) != 2 {
			t.Fatalf("index = %v", zs)
		}
		byMember := map[string]float64{}
		for _, z := range zs {
			byMember[z.Member.(string)] = z.Score
		}
		if sc, ok := byMember[member]; !ok || sc != byMember[oldKey[len(s.sessPrefix):]] || int64(sc) != sess.AbsoluteExpiry.UnixMilli() {
			t.Fatalf("index %v; want %q scored %d like the old entry", byMember, member, sess.AbsoluteExpiry.UnixMilli())
		}
		assertAllKeysHaveTTL(t, e.rdb)

		// The session Create returns compares user agents the way a
		// later read of the stored record does (format 1: by the kept
		// 512 bytes).
		v, err := s.Validate(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		other := ns.UserAgent[:maxUserAgentLen] + "different tail"
		if !sess.UserAgentMatches(ns.UserAgent) || !v.UserAgentMatches(ns.UserAgent) ||
			sess.UserAgentMatches(other) != v.UserAgentMatches(other) {
			t.Fatal("Create's session and Validate's compare user agents differently")
		}
	})
}

// What an old sessiond does with a session written with WriteFormat 1:
// its validate script touches it and returns the record its decoder
// reads, its logout script deletes it and returns the record (to find
// the index), and its list reads the three fields. And this store's own
// format-1 paths (validate, list, update, sealed, destroy) serve it.
func TestWriteFormat1SessionsServeTheOldPaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		sealer, _ := NewSealer("k1", map[string][]byte{"k1": testKey(1)})
		s := e.store(t, Config{Sealer: sealer, WriteFormat: 1})
		ids := make([]string, 3)
		for i := range ids {
			ids[i] = mustCreate(t, s, newSess("u"))
		}
		keyOf := func(id string) string {
			var sum [sha256.Size]byte
			idSum(id, &sum)
			return legacyKey(s.cfg.KeyPrefix, &sum)
		}

		// The old validate (validateV1Lua is it, verbatim), past the
		// touch threshold.
		e.advance(DefaultIdleTimeout/10 + time.Second)
		nowMS := e.clock.Now().UnixMilli()
		res, err := s.scripts.validateV1.Run(ctxT(t), e.rdb, []string{keyOf(ids[0])}, nowMS, s.idleArg, s.touchArg, "0").Slice()
		if err != nil || len(res) != 6 || res[0].(int64) != 1 {
			t.Fatalf("old validate = %v, %v; want a touched session", res, err)
		}
		var rec record
		if err := decodeRecordV1([]byte(res[3].(string)), &rec); err != nil || rec.UserID != "u" || rec.Email != "u@example.com" || rec.UserAgent != "test-agent" {
			t.Fatalf("old decoder: %+v, %v", rec, err)
		}
		// The old list reads HMGET a l r of each index member's key.
		for _, m := range e.rdb.ZRange(ctxT(t), s.indexKey("u"), 0, -1).Val() {
			vals := e.rdb.HMGet(ctxT(t), s.sessPrefix+m, "a", "l", "r").Val()
			if len(vals) != 3 || vals[0] == nil || vals[1] == nil || vals[2] == nil {
				t.Fatalf("old list of member %q = %v", m, vals)
			}
		}
		// The old logout.
		r, err := redis.NewScript(oldDestroyLua).Run(ctxT(t), e.rdb, []string{keyOf(ids[1])}, "0").Text()
		if err != nil || decodeRecordV1([]byte(r), &rec) != nil || rec.UserID != "u" {
			t.Fatalf("old destroy = %q, %v", r, err)
		}
		if _, err := s.Validate(ctxT(t), ids[1]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Validate after the old destroy = %v", err)
		}

		// This store's own paths.
		if err := s.UpdateData(ctxT(t), ids[0], json.RawMessage(`{"x":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSealed(ctxT(t), ids[0], map[string][]byte{"k": []byte("v")}); err != nil {
			t.Fatal(err)
		}
		if f := hashFields(t, e.rdb, keyOf(ids[0])); f["d"] != `{"x":1}` || f["s"] == "" || len(f) != 5 {
			t.Fatalf("after UpdateData/SetSealed the session holds %v; want the format-1 fields updated in place", sortedKeys(f))
		}
		if got, err := s.Sealed(ctxT(t), ids[0]); err != nil || string(got.Sealed["k"]) != "v" || string(got.Data) != `{"x":1}` {
			t.Fatalf("Sealed = %+v, %v", got, err)
		}
		list, err := s.List(ctxT(t), "u", ids[0])
		if err != nil || len(list) != 2 {
			t.Fatalf("List = %+v, %v", list, err)
		}
		rep, err := s.GC(ctxT(t))
		if err != nil || rep.LiveSessions != 2 || rep.LegacySessions != 2 {
			t.Fatalf("GC = %+v, %v", rep, err)
		}
		if err := s.Destroy(ctxT(t), ids[0]); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DestroyAll(ctxT(t), "u"); err != nil || n != 1 {
			t.Fatalf("DestroyAll = %d, %v", n, err)
		}
		if n := e.rdb.DBSize(ctxT(t)).Val(); n != 0 {
			t.Fatalf("%d keys left", n)
		}
	})
}

// createV1Lua keeps the write rules: a second run of the same write
// reports success, another session's write over the key is refused.
func TestCreateV1ScriptIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{WriteFormat: 1})
		key := s.sessPrefix + strings.Repeat("r", legacyHashLen)
		now := e.clock.Now().UnixMilli()
		args := []any{"0", now + 1000, now + 2000, now, "record", "{}"}
		for i := 0; i < 2; i++ {
			if n, err := s.scripts.createV1.Run(ctxT(t), e.rdb, []string{key}, args...).Int64(); err != nil || n != 1 {
				t.Fatalf("run %d = %d, %v; want 1", i, n, err)
			}
		}
		other := append([]any{}, args...)
		other[4] = "another record"
		if n, _ := s.scripts.createV1.Run(ctxT(t), e.rdb, []string{key}, other...).Int64(); n != 0 {
			t.Fatalf("another session's write over an existing key = %d, want 0 (never overwritten)", n)
		}
		if r := e.rdb.HGet(ctxT(t), key, "r").Val(); r != "record" {
			t.Fatalf("record after the refused write = %q", r)
		}
	})
}

// With WriteFormat 1 a format-1 session is validated in one round trip
// (its key is tried first), and a format-2 one still in two.
func TestWriteFormat1ValidatesFormat1First(t *testing.T) {
	e := realEnv(t)
	rdb := e.rdb.(*redis.Client)
	s2 := e.store(t, Config{})
	s1 := e.store(t, Config{WriteFormat: 1})
	id1 := mustCreate(t, s1, newSess("u"))
	id2 := mustCreate(t, s2, newSess("u"))
	for _, tc := range []struct {
		id      string
		evalsha int64
	}{{id1, 1}, {id2, 2}} {
		before := commandStats(t, rdb)
		if _, err := s1.Validate(ctxT(t), tc.id); err != nil {
			t.Fatal(err)
		}
		d := diff(before, commandStats(t, rdb))
		if d["evalsha"] != tc.evalsha {
			t.Errorf("Validate = %v, want %d EVALSHA", d, tc.evalsha)
		}
	}
	if _, err := s1.Validate(ctxT(t), strings.Repeat("A", IDLen)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Validate of no session = %v, want ErrNotFound", err)
	}
}
