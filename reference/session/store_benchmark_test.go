package session

import (
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// benchEnv returns a store on miniredis or on a real redis-server (the
// latter skipped outside CI when redis-server is missing).
func benchStore(b *testing.B, real bool) (*Store, *redis.Client) {
	b.Helper()
	var addr string
	if real {
		addr = testsvc.StartRedis(b)
	} else {
		addr = testsvc.StartMiniredis(b).Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	s, err := New(rdb, Config{MaxSessionsPerUser: -1})
	if err != nil {
		b.Fatal(err)
	}
	return s, rdb
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

func benchmarkCreate(b *testing.B, real bool) {
	s, rdb := benchStore(b, real)
	ctx := context.Background()
	ns := newSess("bench-user")
	ns.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	var before int64
	if real {
		before = usedMemory(b, rdb)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// One user per 8 sessions, like a real population.
		ns.UserID = "user-" + strconv.Itoa(i/8)
		if _, _, err := s.Create(ctx, ns); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if real {
		b.ReportMetric(float64(usedMemory(b, rdb)-before)/float64(b.N), "redis-bytes/session")
	}
}

func benchmarkValidate(b *testing.B, real bool, touch bool) {
	s, _ := benchStore(b, real)
	if touch {
		s.cfg.TouchThreshold = 0
		s.touchArg = "-1" // every call slides the expiry (writes)
	}
	ctx := context.Background()
	ids := make([]string, 256)
	for i := range ids {
		ids[i] = mustCreate(b, s, newSess("u"+strconv.Itoa(i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Validate(ctx, ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkCreateMiniredis(b *testing.B)   { benchmarkCreate(b, false) }
func BenchmarkCreateRedis(b *testing.B)       { benchmarkCreate(b, true) }
func BenchmarkValidateMiniredis(b *testing.B) { benchmarkValidate(b, false, false) }
func BenchmarkValidateRedis(b *testing.B)     { benchmarkValidate(b, true, false) }
func BenchmarkValidateTouchRedis(b *testing.B) {
	benchmarkValidate(b, true, true)
}

// BenchmarkKeyHash measures the per-request ID check and key hashing.
func BenchmarkKeyHash(b *testing.B) {
	id, _ := newID()
	var sum [sha256.Size]byte
	var buf [64]byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := appendSessionKey(buf[:0], DefaultKeyPrefix, id, &sum); !ok {
			b.Fatal("bad id")
		}
	}
}
