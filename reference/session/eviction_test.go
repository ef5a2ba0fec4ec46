package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Issue 6: under an evicting maxmemory-policy Redis evicts the user
// index (its least recently used key: validates keep the sessions warm)
// and "log out everywhere" then reported success while sessions stayed
// valid. It must never report success while a session of the user
// validates.
func TestLogoutEverywhereUnderEvictionNeverClaimsSuccess(t *testing.T) {
	e := realEnv(t)
	rdb := e.rdb.(*redis.Client)
	ctx := ctxT(t)
	s := e.store(t, Config{MaxSessionsPerUser: -1})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, mustCreate(t, s, newSess("alice")))
	}
	info, _ := rdb.Info(ctx, "memory").Result()
	used, _ := strconv.ParseInt(infoFields(info)["used_memory"], 10, 64)
	for _, kv := range [][2]string{{"maxmemory-policy", "allkeys-lru"}, {"maxmemory", strconv.FormatInt(used+512<<10, 10)}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Memory pressure while the user keeps using the sessions.
	pad := strings.Repeat("x", 2048)
	for i := 0; i < 2000; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("filler:%d", i), pad, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			for _, id := range ids {
				_, _ = s.Validate(ctx, id)
			}
		}
	}
	evicted, err := s.evictedKeys(ctx)
	if err != nil || evicted == 0 {
		t.Fatalf("no eviction happened (%d, %v): the test proves nothing", evicted, err)
	}
	indexSurvived := rdb.Exists(ctx, s.indexKey("alice")).Val() == 1
	n, err := s.DestroyAll(ctx, "alice")
	live := 0
	for _, id := range ids {
		if _, verr := s.Validate(ctx, id); verr == nil {
			live++
		}
	}
	t.Logf("evicted_keys %d, index survived %v, DestroyAll = %d, %v; %d sessions still validate", evicted, indexSurvived, n, err, live)
	if err == nil && live > 0 {
		t.Fatalf("DestroyAll reported success while %d sessions of the user validate", live)
	}
	if !errors.Is(err, ErrLogoutUnconfirmed) {
		t.Fatalf("DestroyAll after evictions = %v, want ErrLogoutUnconfirmed", err)
	}
}

// Evictions older than AbsoluteTimeout cannot have hit a live session's
// index entry: the risk ends then, and a Redis that never evicted has
// none. The marker is shared, so another store (instance) agrees.
func TestEvictionRiskWindow(t *testing.T) {
	e := realEnv(t)
	rdb := e.rdb.(*redis.Client)
	ctx := ctxT(t)
	s := e.store(t, Config{AbsoluteTimeout: time.Hour})
	if risk, err := s.evictionRisk(ctx); err != nil || risk {
		t.Fatalf("fresh Redis: risk %v, %v; want none", risk, err)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "allkeys-random"}, {"maxmemory", "2mb"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	pad := strings.Repeat("x", 4096)
	for i := 0; i < 2000; i++ {
		_ = rdb.Set(ctx, fmt.Sprintf("filler:%d", i), pad, time.Hour).Err()
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if risk, err := s.evictionRisk(ctx); err != nil || !risk {
		t.Fatalf("after evictions: risk %v, %v; want risk", risk, err)
	}
	other := e.store(t, Config{AbsoluteTimeout: time.Hour})
	e.clock.Advance(59 * time.Minute)
	if risk, _ := other.evictionRisk(ctx); !risk {
		t.Fatal("another instance, within the window: no risk")
	}
	e.clock.Advance(2 * time.Minute)
	if risk, err := s.evictionRisk(ctx); err != nil || risk {
		t.Fatalf("AbsoluteTimeout after the last eviction: risk %v, %v; want none", risk, err)
	}
	assertAllKeysHaveTTL(t, e.rdb)
}
