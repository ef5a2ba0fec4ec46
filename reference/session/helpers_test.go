package session

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// fakeClock is an injectable clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Now().Truncate(time.Millisecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one backend under test: a client, the raw server handle when it
// is miniredis, and helpers that read Redis state directly.
type env struct {
	rdb   redis.UniversalClient
	mini  *miniredis.Miniredis // nil for a real server
	addr  string
	clock *fakeClock
}

func (e *env) store(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	s, err := New(e.rdb, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
}

func miniEnv(t testing.TB) *env {
	m := testsvc.StartMiniredis(t)
	rdb := newClient(m.Addr())
	t.Cleanup(func() { _ = rdb.Close() })
	clock := newFakeClock()
	// Pin miniredis's clock: otherwise its PEXPIRETIME drifts with real
	// time (it stores TTLs as durations). FastForward still expires keys.
	m.SetTime(clock.Now())
	return &env{rdb: rdb, mini: m, addr: m.Addr(), clock: clock}
}

func realEnv(t testing.TB) *env {
	addr := testsvc.StartRedis(t)
	rdb := newClient(addr)
	t.Cleanup(func() { _ = rdb.Close() })
	return &env{rdb: rdb, addr: addr, clock: newFakeClock()}
}

// forEachBackend runs f once on miniredis and once on a real
// redis-server (which fails in CI and skips elsewhere when missing).
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { f(t, miniEnv(t)) })
	t.Run("redis-server", func(t *testing.T) { f(t, realEnv(t)) })
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSess(uid string) NewSession {
	return NewSession{UserID: uid, Email: uid + "@example.com", UserAgent: "test-agent", ClientIP: "127.0.0.1"}
}

func mustCreate(t testing.TB, s *Store, ns NewSession) string {
	t.Helper()
	id, _, err := s.Create(ctxT(t), ns)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return id
}

// sessionKey is the Redis key of id in s.
func sessionKey(t testing.TB, s *Store, id string) string {
	t.Helper()
	h, ok := KeyHash(id)
	if !ok {
		t.Fatalf("KeyHash(%q) not ok", id)
	}
	return s.sessionKeyFromHash(h)
}

// expireTimeMS is PEXPIRETIME of key: -1 no TTL, -2 missing.
func expireTimeMS(t testing.TB, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	v, err := rdb.Do(ctxT(t), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	return v
}

// assertAllKeysHaveTTL scans every key (every master on a cluster) and
// fails if one lacks a TTL.
func assertAllKeysHaveTTL(t testing.TB, rdb redis.UniversalClient) int {
	t.Helper()
	ctx := ctxT(t)
	var mu sync.Mutex
	n := 0
	check := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, "*", 1000).Iterator()
		for it.Next(ctx) {
			k := it.Val()
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			n++
			mu.Unlock()
			if ttl == -1 {
				t.Errorf("key %q has no TTL", k)
			}
		}
		return it.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	}
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return n
}

// commandStats returns INFO commandstats call counts by command name.
func commandStats(t testing.TB, rdb *redis.Client) map[string]int64 {
	t.Helper()
	info, err := rdb.Info(ctxT(t), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				var n int64
				for _, c := range v {
					n = n*10 + int64(c-'0')
				}
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

// advance moves the store clock and, on miniredis, the server clock.
func (e *env) advance(d time.Duration) {
	e.clock.Advance(d)
	if e.mini != nil {
		e.mini.SetTime(e.clock.Now())
	}
}
