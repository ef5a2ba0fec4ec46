package target_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/target"
)

func TestEmbeddedRedis(t *testing.T) {
	ctx := context.Background()
	tg, err := target.Start(ctx, target.Config{NeedRedis: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.RedisMode != target.RedisEmbedded || !strings.HasPrefix(tg.RedisAddr, "127.0.0.1:") {
		t.Fatalf("mode %q addr %q", tg.RedisMode, tg.RedisAddr)
	}
	if err := tg.Redis().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v := tg.RedisVersion(ctx); !strings.HasPrefix(v, "miniredis ") {
		t.Errorf("version %q", v)
	}
	if _, ok := tg.RedisUsedMemory(ctx); ok {
		t.Error("miniredis reported used_memory; it has none")
	}
	if tg.URL != "" {
		t.Errorf("URL %q without a server", tg.URL)
	}
}

func TestRedisURLReportsVersionAndMemory(t *testing.T) {
	addr := testsvc.StartRedis(t)
	ctx := context.Background()
	tg, err := target.Start(ctx, target.Config{NeedRedis: true, Redis: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.RedisMode != target.RedisURL || tg.RedisAddr != addr {
		t.Fatalf("mode %q addr %q", tg.RedisMode, tg.RedisAddr)
	}
	if v := tg.RedisVersion(ctx); v == "" || !strings.Contains(v, ".") {
		t.Errorf("redis_version %q", v)
	}
	before, ok := tg.RedisUsedMemory(ctx)
	if !ok || before == 0 {
		t.Fatalf("used_memory %d %v", before, ok)
	}
	if err := tg.Redis().Set(ctx, "big", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if after, _ := tg.RedisUsedMemory(ctx); after < before+1<<20 {
		t.Errorf("used_memory %d -> %d after writing 1 MiB", before, after)
	}
}

func TestBadRedisIsConfigError(t *testing.T) {
	_, err := target.Start(context.Background(), target.Config{NeedRedis: true, Redis: "memcached://x"})
	var ce *target.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--redis") {
		t.Fatalf("got %v, want a ConfigError naming --redis", err)
	}
}

func TestExternalTarget(t *testing.T) {
	sessiondLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok","auth":"local","version":"v9"}`))
	}))
	defer sessiondLike.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	for _, tc := range []struct{ url, server string }{
		{sessiondLike.URL, "sessiond v9"},
		{other.URL + "/", "external"},
	} {
		tg, err := target.Start(context.Background(), target.Config{URL: tc.url, StartServer: true})
		if err != nil {
			t.Fatal(err)
		}
		if tg.Server != tc.server || strings.HasSuffix(tg.URL, "/") || tg.Redis() != nil {
			t.Errorf("%s: server %q url %q redis %v", tc.url, tg.Server, tg.URL, tg.Redis())
		}
		tg.Close()
	}
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	_, err = target.Start(context.Background(), target.Config{URL: url, StartServer: true})
	if !errors.Is(err, target.ErrUnreachable) || !strings.Contains(err.Error(), url) {
		t.Fatalf("got %v, want ErrUnreachable naming %s", err, url)
	}
}

func TestSessiondMissingSaysHowToFix(t *testing.T) {
	t.Setenv(target.SessiondEnv, "/nonexistent/sessiond")
	_, err := target.FindSessiond(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), target.SessiondEnv) {
		t.Fatalf("got %v", err)
	}
}

func TestMissingFirebaseSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := target.StartAuthEmulator(context.Background(), "demo-x", t.TempDir()+"/log")
	if !errors.Is(err, target.ErrFirebaseMissing) || !strings.Contains(err.Error(), "npm install -g firebase-tools") {
		t.Fatalf("got %v", err)
	}
}

// TestRedisRefusedNamesTheCause: a Redis URL nobody listens on fails
// with "connection refused", not only "context deadline exceeded".
func TestRedisRefusedNamesTheCause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = target.Start(context.Background(), target.Config{Redis: "redis://" + addr + "/0", NeedRedis: true})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v; want it to say connection refused", err)
	}
}
