package session

import (
	"strings"
	"testing"
	"time"
)

// Keys under the prefix that are not the store's are strays: counted
// apart, never as live sessions, never touched, and they do not stop GC.
func TestGCCountsStraysApart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		mustCreate(t, s, newSess("u1"))
		ctx := ctxT(t)
		p := s.cfg.KeyPrefix
		strays := map[string]func() error{
			p + "s:x":                          func() error { return e.rdb.Set(ctx, p+"s:x", "y", 0).Err() },
			p + "s:0123456789abcdef":           func() error { return e.rdb.Set(ctx, p+"s:0123456789abcdef", "not a record", time.Hour).Err() },
			p + "s:" + strings.Repeat("A", 43): func() error { return e.rdb.HSet(ctx, p+"s:"+strings.Repeat("A", 43), "x", "1").Err() },
			p + "s:fedcba9876543210":           func() error { return e.rdb.HSet(ctx, p+"s:fedcba9876543210", "a", "1").Err() },
			p + "u:notazset":                   func() error { return e.rdb.Set(ctx, p+"u:notazset", "1", 0).Err() },
			p + "other":                        func() error { return e.rdb.SAdd(ctx, p+"other", "1").Err() },
		}
		for k, set := range strays {
			if err := set(); err != nil {
				t.Fatalf("writing stray %q: %v", k, err)
			}
		}
		rep, err := s.GC(ctx)
		if err != nil {
			t.Fatalf("GC with strays: %v", err)
		}
		if rep.LiveSessions != 1 || rep.Users != 1 || rep.StrayKeys != int64(len(strays)) || rep.KeysWithoutTTL != 0 ||
			len(rep.StraySamples) != maxStraySamples || rep.ScannedKeys != int64(2+len(strays)) {
			t.Fatalf("GC = %+v; want 1 live session, 1 user, %d strays (reported apart, TTL or not)", rep, len(strays))
		}
		for _, q := range rep.StraySamples {
			if !strings.HasPrefix(q, p) || strings.Contains(q, `"`) {
				t.Fatalf("stray sample %s is not an escaped key under the prefix (without quotes)", q)
			}
		}
		for k := range strays {
			if e.rdb.Exists(ctx, k).Val() != 1 {
				t.Fatalf("GC touched stray %q", k)
			}
		}
	})
}
