package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// TestServeOnRealRedis runs the binary's main flow against a real
// redis-server, then `sessiond gc` on the same Redis.
func TestServeOnRealRedis(t *testing.T) {
	url := "redis://" + testsvc.StartRedis(t) + "/0"
	s := startServer(t, url)
	cookie := s.create(t, "alice")
	if code, body := s.get(t, "/v1/sessions/current", cookie); code != http.StatusOK {
		t.Fatalf("validate: %d %s", code, body)
	}
	if code, body := s.get(t, "/readyz", ""); code != http.StatusOK {
		t.Fatalf("readyz: %d %s", code, body)
	}
	code, out, stderr := runSync(t, envMap(), "gc", "--redis-url", url)
	if code != exitOK || !strings.Contains(out, `"live_sessions":1`) {
		t.Fatalf("gc: exit %d out %q stderr %s", code, out, stderr)
	}
}

// TestServeOnRedisCluster runs the main flow against a real three-master
// Redis Cluster given as --redis-cluster seeds.
func TestServeOnRedisCluster(t *testing.T) {
	addrs := testsvc.StartCluster(t)
	s := startServer(t, "redis://"+addrs[0], "--redis-cluster="+strings.Join(addrs, ","))
	cookie := s.create(t, "alice")
	if code, body := s.get(t, "/v1/sessions/current", cookie); code != http.StatusOK {
		t.Fatalf("validate: %d %s", code, body)
	}
	if code, body := s.get(t, "/v1/sessions", cookie); code != http.StatusOK || !strings.Contains(body, `"current":true`) {
		t.Fatalf("list: %d %s", code, body)
	}
}
