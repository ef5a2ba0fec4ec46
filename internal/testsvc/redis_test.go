package testsvc

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// command runs one command on addr and returns its reply as text.
func command(addr string, args ...any) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Text()
	return v, err
}

func TestStartRedisAnswersPing(t *testing.T) {
	addr := StartRedis(t)
	if strings.HasSuffix(addr, ":6379") {
		t.Fatalf("StartRedis used the default port: %s", addr)
	}
	reply, err := command(addr, "PING")
	if err != nil || reply != "PONG" {
		t.Fatalf("PING %s = %q, %v; want PONG", addr, reply, err)
	}
	// Persistence must be off so tests leave nothing behind.
	info, err := command(addr, "INFO", "persistence")
	if err != nil {
		t.Fatalf("INFO persistence: %v", err)
	}
	if !strings.Contains(info, "aof_enabled:0") {
		t.Fatalf("appendonly is on: %s", info)
	}
}

func TestStartRedisTwiceUsesDistinctPorts(t *testing.T) {
	a, b := StartRedis(t), StartRedis(t)
	if a == b {
		t.Fatalf("two servers share %s", a)
	}
}

func TestStartClusterIsHealthy(t *testing.T) {
	addrs := StartCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("got %d nodes, want 3", len(addrs))
	}
	for _, a := range addrs {
		info, err := command(a, "CLUSTER", "INFO")
		if err != nil {
			t.Fatalf("CLUSTER INFO %s: %v", a, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
			t.Fatalf("node %s not healthy: %s", a, info)
		}
	}
}

func TestStartMiniredis(t *testing.T) {
	m := StartMiniredis(t)
	if err := m.Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("k"); got != "v" {
		t.Fatalf("Get = %q, want v", got)
	}
}
