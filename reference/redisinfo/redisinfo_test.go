package redisinfo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/redisinfo"
)

// The fixture is a real redis-server 7.0 INFO reply (maxmemory 64mb,
// volatile-lru) with evicted_keys edited from 0 to 1234, so that a parser
// that leaves the field at zero cannot pass.
func TestParseRealReply(t *testing.T) {
	b, err := os.ReadFile("testdata/info-redis-7.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	in, err := redisinfo.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := redisinfo.Info{UsedMemory: 916928, MaxMemory: 64 << 20, MaxMemoryPolicy: "volatile-lru", EvictedKeys: 1234, HasMemory: true, HasEvicted: true}
	if in != want {
		t.Fatalf("Parse = %+v, want %+v", in, want)
	}
}

func TestParseMissingAndBadFields(t *testing.T) {
	in, err := redisinfo.Parse("# Stats\r\nevicted_keys:7\r\n")
	if err != nil || in.HasMemory || !in.HasEvicted || in.EvictedKeys != 7 {
		t.Fatalf("stats only: %+v %v; want HasMemory false, evicted 7", in, err)
	}
	// used_memory without maxmemory_policy is not a memory reading.
	if in, _ := redisinfo.Parse("used_memory:1\nmaxmemory:2\n"); in.HasMemory {
		t.Fatalf("HasMemory without a policy: %+v", in)
	}
	_, err = redisinfo.Parse("used_memory:lots\n")
	if err == nil || !strings.Contains(err.Error(), "used_memory") {
		t.Fatalf("bad number: err = %v, want one naming used_memory", err)
	}
}

// gather collects the poller's metrics into name -> label string -> value.
func gather(t *testing.T, p *redisinfo.Poller) map[string]map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		m := map[string]float64{}
		for _, s := range mf.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			m[strings.Join(ls, ",")] = value(s)
		}
		out[mf.GetName()] = m
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return -1
}

func TestNothingExportedBeforeTheFirstRead(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	if got := gather(t, redisinfo.New(rdb, redisinfo.Options{})); len(got) != 0 {
		t.Fatalf("metrics before any read: %v", got)
	}
}

func TestRealRedisMemoryPolicyAndPolicyChange(t *testing.T) {
	addr := testsvc.StartRedis(t, "--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	p := redisinfo.New(rdb, redisinfo.Options{})
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	node := "node=" + addr
	m := gather(t, p)
	if m["sessiond_redis_up"][""] != 1 {
		t.Fatalf("up = %v, want 1", m["sessiond_redis_up"])
	}
	if m["sessiond_redis_maxmemory_bytes"][node] != 10<<20 {
		t.Fatalf("maxmemory = %v, want 10 MiB for %s", m["sessiond_redis_maxmemory_bytes"], node)
	}
	if u := m["sessiond_redis_used_memory_bytes"][node]; u <= 0 || u >= 10<<20 {
		t.Fatalf("used memory = %v, want between 0 and 10 MiB", u)
	}
	if pol := m["sessiond_redis_maxmemory_policy"]; len(pol) != 1 || pol[node+",policy=allkeys-lru"] != 1 {
		t.Fatalf("policy = %v, want only allkeys-lru", pol)
	}
	if _, ok := m["sessiond_redis_evicted_keys_total"][node]; !ok {
		t.Fatalf("evicted keys missing: %v", m)
	}

	// The operator fixes the policy: the old label must disappear, or
	// the eviction-policy alert would keep firing.
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if pol := gather(t, p)["sessiond_redis_maxmemory_policy"]; len(pol) != 1 || pol[node+",policy=noeviction"] != 1 {
		t.Fatalf("after CONFIG SET: policy = %v, want only noeviction", pol)
	}
}

func TestUnreachableRedisIsDownAndLoggedOncePerOutage(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	addr := mr.Addr()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	logs := &testsvc.SyncBuffer{}
	p := redisinfo.New(rdb, redisinfo.Options{Timeout: 500 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Explain: func(err error) error { return fmt.Errorf("%w (cause: EXPLAINED)", err) }})
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	// miniredis answers INFO without a memory section: up, no gauges.
	m := gather(t, p)
	if m["sessiond_redis_up"][""] != 1 || m["sessiond_redis_used_memory_bytes"] != nil {
		t.Fatalf("miniredis: %v; want up 1 and no memory gauges", m)
	}
	testsvc.StopMiniredis(mr)
	for i := 0; i < 3; i++ {
		if err := p.Poll(ctx); err == nil {
			t.Fatal("Poll of a closed Redis returned nil")
		}
	}
	m = gather(t, p)
	if m["sessiond_redis_up"][""] != 0 || len(m) != 1 {
		t.Fatalf("closed Redis: %v; want only up 0", m)
	}
	if n := strings.Count(logs.String(), "INFO read failed"); n != 1 {
		t.Fatalf("%d failure lines for one outage of 3 reads, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "(cause: EXPLAINED)") {
		t.Fatalf("the failure line does not carry Options.Explain's cause:\n%s", logs)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if gather(t, p)["sessiond_redis_up"][""] != 1 || !strings.Contains(logs.String(), "answers again") {
		t.Fatalf("after restart: up not 1 or recovery not logged:\n%s", logs)
	}
}

func TestClusterReportsEveryMaster(t *testing.T) {
	addrs := testsvc.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { rdb.Close() })
	p := redisinfo.New(rdb, redisinfo.Options{})
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := gather(t, p)
	if m["sessiond_redis_up"][""] != 1 {
		t.Fatalf("up = %v", m["sessiond_redis_up"])
	}
	for _, a := range addrs {
		if _, ok := m["sessiond_redis_used_memory_bytes"]["node="+a]; !ok {
			t.Errorf("no used memory for master %s: %v", a, m["sessiond_redis_used_memory_bytes"])
		}
	}
}

// Run reads at once (not only after the first interval) and returns when
// its context ends.
func TestRunReadsAtOnceAndStopsWithContext(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p := redisinfo.New(rdb, redisinfo.Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for gather(t, p)["sessiond_redis_up"][""] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not read INFO before its first hour-long interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// TestCancelledReadIsNotAnOutage: a configuration error that ends
// sessiond's start-up cancels the first INFO read; it logged "redis INFO
// read failed … context canceled" beside the real error. A read cut
// short by its context records and logs nothing.
func TestCancelledReadIsNotAnOutage(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	logs := &testsvc.SyncBuffer{}
	p := redisinfo.New(rdb, redisinfo.Options{Timeout: time.Second, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Poll(ctx); err == nil {
		t.Fatal("Poll with a cancelled context returned nil")
	}
	if strings.Contains(logs.String(), "INFO read failed") {
		t.Fatalf("a cancelled read was logged as a failure:\n%s", logs)
	}
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gather(t, p)["sessiond_redis_up"][""] != 1 || strings.Contains(logs.String(), "answers again") {
		t.Fatalf("after a cancelled read: up not 1, or a recovery logged for an outage that never was:\n%s", logs)
	}
}
