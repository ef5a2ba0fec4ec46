package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// requirePassword turns on requirepass on a running test Redis (the
// helper waits for an unauthenticated PING, so the password is set after).
func requirePassword(t *testing.T, addr, pw string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.ConfigSet(context.Background(), "requirepass", pw).Err(); err != nil {
		t.Fatalf("CONFIG SET requirepass: %v", err)
	}
}

// Regression (issue 11): a wrong or missing Redis password was treated as
// a transient outage: sessiond started and answered 503 forever. It is a
// configuration error: exit 2 naming the cause, for serve and gc alike.
func TestRedisPasswordErrorAtStartExits2(t *testing.T) {
	addr := testsvc.StartRedis(t)
	requirePassword(t, addr, "s3cret")
	_, pub := writeKey(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := []string{"serve", "--listen", "127.0.0.1:0", "--auth", "local", "--auth-public-key", pub, "--firebase-project", testProject}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"serve without password", append(serve[:len(serve):len(serve)], "--redis-url", "redis://"+addr+"/0"), "none was given"},
		{"serve with wrong password", append(serve[:len(serve):len(serve)], "--redis-url", "redis://"+addr+"/0", "--redis-password-file", pwFile), "refused the password"},
		{"gc without password", []string{"gc", "--redis-url", "redis://" + addr + "/0"}, "none was given"},
		{"gc with wrong password", []string{"gc", "--redis-url", "redis://:wrong@" + addr + "/0"}, "refused the password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var code int
			var stderr string
			go func() {
				defer close(done)
				code, _, stderr = runSync(t, envMap(), tc.args...)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("sessiond kept running with a wrong password")
			}
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "wrong@") {
				t.Fatalf("stderr shows the password: %s", stderr)
			}
		})
	}
	// The right password starts normally.
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "redis://"+addr+"/0", "--redis-password-file", pwFile)
	if code, body := s.get(t, "/readyz", ""); code != http.StatusOK {
		t.Fatalf("readyz with the right password: %d %s", code, body)
	}
}
