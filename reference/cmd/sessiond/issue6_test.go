package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/auth/emulator"
)

// runFor runs sessiond in the background and returns its exit code, or
// -1 if it is still running after d (then it is stopped).
func runFor(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errb testsvc.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, envMap(), io.Discard, &errb) }()
	select {
	case code := <-done:
		cancel()
		return code, errb.String()
	case <-time.After(d):
		cancel()
		<-done
		return -1, errb.String()
	}
}

// Issue 6: nothing checked Redis's eviction policy. Each policy other
// than noeviction is refused at start (exit 2, saying why and how to set
// it on Memorystore) unless --allow-evicting-redis, which is logged and
// reported on /healthz.
func TestEvictionPolicyAtStart(t *testing.T) {
	addr := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	_, pub := writeKey(t)
	base := []string{"serve", "--listen", "127.0.0.1:0", "--redis-url", "redis://" + addr + "/0", "--auth", "local",
		"--auth-public-key", pub, "--firebase-project", testProject, "--shutdown-delay", "0"}
	for _, policy := range []string{"volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random", "volatile-ttl"} {
		if err := rdb.ConfigSet(context.Background(), "maxmemory-policy", policy).Err(); err != nil {
			t.Fatal(err)
		}
		code, stderr := runFor(t, 10*time.Second, base...)
		if code != exitUsage {
			t.Fatalf("%s: exit %d, want 2; stderr %s", policy, code, stderr)
		}
		for _, want := range []string{policy, "noeviction", "gcloud redis instances update", "--allow-evicting-redis"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: the refusal does not say %q: %s", policy, want, stderr)
			}
		}
	}
	s := startServer(t, "redis://"+addr+"/0", "--allow-evicting-redis")
	if !strings.Contains(s.stderr.String(), "WARNING: --allow-evicting-redis") {
		t.Fatalf("no loud warning: %s", s.stderr.String())
	}
	if code, body := s.get(t, "/healthz", ""); code != http.StatusOK || !strings.Contains(body, `"allow_evicting_redis":true`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, _ := s.get(t, "/readyz", ""); code != http.StatusOK {
		t.Fatalf("readyz with the override: %d", code)
	}
	if err := rdb.ConfigSet(context.Background(), "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, "redis://"+addr+"/0")
	if code, _ := s2.get(t, "/readyz", ""); code != http.StatusOK {
		t.Fatalf("readyz on noeviction: %d", code)
	}
}

// Issue 6: plain-http development on a hostname other than localhost
// failed silently (browsers drop a Secure cookie there).
// --dev-insecure-cookie drops Secure and the __Host- prefix, only on a
// loopback listen address, loudly.
func TestDevInsecureCookie(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	_, pub := writeKey(t)
	for _, listen := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		code, stderr := runFor(t, 10*time.Second, "serve", "--listen", listen, "--dev-insecure-cookie", "--redis-url", "redis://"+mr.Addr()+"/0",
			"--auth", "local", "--auth-public-key", pub, "--firebase-project", testProject)
		if code != exitUsage || !strings.Contains(stderr, "loopback") {
			t.Errorf("--dev-insecure-cookie --listen %s: exit %d, %s; want 2 naming loopback", listen, code, stderr)
		}
	}
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--dev-insecure-cookie")
	req, _ := http.NewRequest("POST", s.url("/v1/sessions"), nil)
	req.Header.Set("Authorization", "Bearer "+mintFor(s, "alice"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sc := res.Header.Get("Set-Cookie")
	if res.StatusCode != http.StatusCreated || !strings.HasPrefix(sc, "sid=") || strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("create: %d Set-Cookie %q; want sid=..., HttpOnly, no Secure", res.StatusCode, sc)
	}
	if !strings.Contains(s.stderr.String(), "WARNING: --dev-insecure-cookie") {
		t.Fatal("no loud warning")
	}
	if _, body := s.get(t, "/healthz", ""); !strings.Contains(body, `"insecure_cookie":true`) || !strings.Contains(body, `"cookie_name":"sid"`) {
		t.Fatalf("healthz: %s", body)
	}
}

func TestRecheckUserNeedsAdminAPI(t *testing.T) {
	_, pub := writeKey(t)
	code, _, stderr := runSync(t, envMap(), "--auth", "local", "--auth-public-key", pub, "--firebase-project", testProject, "--recheck-user", "5m")
	if code != exitUsage || !strings.Contains(stderr, "--recheck-user") {
		t.Fatalf("exit %d, %s; want 2 naming --recheck-user", code, stderr)
	}
	code, _, stderr = runSync(t, envMap(), "--auth", "local", "--auth-public-key", pub, "--firebase-project", testProject, "--check-revoked")
	if code != exitUsage || !strings.Contains(stderr, "--check-revoked") {
		t.Fatalf("exit %d, %s; want 2 naming --check-revoked", code, stderr)
	}
}

func TestCORSFlagsReachTheServer(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	_, pub := writeKey(t)
	code, _, stderr := runSync(t, envMap(), "--listen", "127.0.0.1:0", "--redis-url", "redis://"+mr.Addr()+"/0", "--auth", "local",
		"--auth-public-key", pub, "--firebase-project", testProject, "--cors-origin", "https://app.other.com", "--public-origin", "https://api.example.com")
	if code != exitUsage || !strings.Contains(stderr, "--cookie-samesite none") {
		t.Fatalf("cross-site --cors-origin with Lax: exit %d, %s", code, stderr)
	}
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--cors-origin", "https://app.other.com", "--cookie-samesite", "none")
	req, _ := http.NewRequest("OPTIONS", s.url("/v1/sessions"), nil)
	req.Header.Set("Origin", "https://app.other.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.other.com" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
}

// Issue 6: there was no operator command to end a user's sessions.
func TestRevokeUID(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	url := "redis://" + mr.Addr() + "/0"
	s := startServer(t, url)
	a1, a2, b := s.create(t, "alice"), s.create(t, "alice"), s.create(t, "bob")
	code, out, stderr := runSync(t, envMap(), "revoke", "--redis-url", url, "--uid", "alice", "--uid", "nobody")
	if code != exitOK {
		t.Fatalf("revoke: exit %d, %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != `{"uid":"alice","destroyed":2}` || lines[1] != `{"uid":"nobody","destroyed":0}` {
		t.Fatalf("revoke output %q", out)
	}
	for _, ck := range []string{a1, a2} {
		if code, _ := s.get(t, "/v1/sessions/current", ck); code != http.StatusUnauthorized {
			t.Fatalf("alice's session after revoke: %d", code)
		}
	}
	if code, _ := s.get(t, "/v1/sessions/current", b); code != http.StatusOK {
		t.Fatalf("bob's session after alice's revoke: %d", code)
	}
	if code, _, stderr := runSync(t, envMap(), "revoke", "--redis-url", url); code != exitUsage || !strings.Contains(stderr, "--uid") {
		t.Fatalf("revoke without users: exit %d %s", code, stderr)
	}
	if code, _, stderr := runSync(t, envMap(), "revoke", "--redis-url", url, "--all-disabled", "--auth", "local", "--auth-public-key", "x"); code != exitUsage || !strings.Contains(stderr, "Admin API") {
		t.Fatalf("revoke --all-disabled in local mode: exit %d %s", code, stderr)
	}
}

// revoke --all-disabled lists the project's users with the Admin API
// (here the Auth emulator) and ends the sessions of the disabled ones.
func TestRevokeAllDisabledWithEmulator(t *testing.T) {
	host, project := testsvc.StartAuthEmulator(t)
	t.Setenv(auth.EmulatorHostEnv, host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := emulator.New(host, project, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.BatchCreate(ctx, []emulator.User{{UID: "ann"}, {UID: "ben", Disabled: true}, {UID: "cat", Disabled: true}}); err != nil {
		t.Fatal(err)
	}
	mr := testsvc.StartMiniredis(t)
	url := "redis://" + mr.Addr() + "/0"
	s := startServer(t, url)
	ann, ben, cat := s.create(t, "ann"), s.create(t, "ben"), s.create(t, "cat")
	env := envMap(auth.EmulatorHostEnv, host)
	code, out, stderr := runSync(t, env, "revoke", "--redis-url", url, "--all-disabled", "--auth", "emulator", "--firebase-project", project)
	if code != exitOK {
		t.Fatalf("revoke --all-disabled: exit %d %s", code, stderr)
	}
	got := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r revokeResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[r.UID] = r.Destroyed
	}
	if len(got) != 2 || got["ben"] != 1 || got["cat"] != 1 {
		t.Fatalf("revoked %v, want ben and cat (one session each)", got)
	}
	for ck, want := range map[string]int{ann: 200, ben: 401, cat: 401} {
		if code, _ := s.get(t, "/v1/sessions/current", ck); code != want {
			t.Errorf("session after revoke: %d, want %d", code, want)
		}
	}
}

func mintFor(s *server, uid string) string { return authtest.Mint(s.key, testProject, uid) }
