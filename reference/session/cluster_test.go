package session

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

func TestClusterMode(t *testing.T) {
	addrs := testsvc.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	clock := newFakeClock()
	s, err := New(rdb, Config{Now: clock.Now, MaxSessionsPerUser: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if b, err := s.Backend(ctxT(t)); err != nil || b.MaxmemoryPolicy != PolicyNoEviction || b.OutOfMemory {
		t.Fatalf("Backend on a cluster = %+v, %v; want noeviction, not out of memory", b, err)
	}
	// Enough users and sessions to land keys on every master.
	var ids []string
	for u := 0; u < 10; u++ {
		for i := 0; i < 4; i++ {
			ids = append(ids, mustCreate(t, s, newSess(fmt.Sprintf("user-%d", u))))
			clock.Advance(time.Millisecond)
		}
	}
	live := 0
	for _, id := range ids {
		if _, err := s.Validate(ctxT(t), id); err == nil {
			live++
		} else if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Validate: %v", err)
		}
	}
	if live != 30 {
		t.Fatalf("%d live sessions, want 30 (cap 3 x 10 users)", live)
	}
	clock.Advance(DefaultIdleTimeout / 5)
	got, err := s.Validate(ctxT(t), ids[len(ids)-1])
	if err != nil || !got.Touched {
		t.Fatalf("touch on cluster: %v %v", got, err)
	}
	list, err := s.List(ctxT(t), "user-0", ids[3])
	if err != nil || len(list) != 3 || !list[2].Current {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.Destroy(ctxT(t), ids[3]); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DestroyAll(ctxT(t), "user-1"); err != nil || n != 3 {
		t.Fatalf("DestroyAll = %d, %v", n, err)
	}
	rep, err := s.GC(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.LiveSessions != 26 || rep.Users != 9 || rep.KeysWithoutTTL != 0 || rep.ScannedKeys != 35 {
		t.Fatalf("GC on cluster = %+v; want 26 live, 9 users, 0 without TTL, 35 keys", rep)
	}
	if n := assertAllKeysHaveTTL(t, rdb); n != 35 {
		t.Fatalf("scanned %d keys across masters, want 35", n)
	}
}
