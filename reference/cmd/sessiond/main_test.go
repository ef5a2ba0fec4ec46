package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

const testProject = "demo-sessionbench"

func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// runSync runs sessiond to completion and returns exit code, stdout, stderr.
func runSync(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb testsvc.SyncBuffer
	code := run(context.Background(), args, getenv, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlagWinsOverEnv(t *testing.T) {
	var c serveConfig
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	registerServeFlags(fs, &c)
	err := parseFlags(fs, []string{"--listen", "127.0.0.1:9999"}, envMap(
		"SESSIOND_LISTEN", "0.0.0.0:1",
		"SESSIOND_REDIS_URL", "redis://10.0.0.1:6380/2",
		"SESSIOND_TRUSTED_ORIGIN", "https://a.example,https://b.example",
		"SESSIOND_CHECK_REVOKED", "true",
	))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" {
		t.Fatalf("listen = %q, want the flag's value", c.Listen)
	}
	if c.URL != "redis://10.0.0.1:6380/2" || !c.CheckRevoked {
		t.Fatalf("env not applied: redis-url %q check-revoked %v", c.URL, c.CheckRevoked)
	}
	if strings.Join(c.TrustedOrigins, " ") != "https://a.example https://b.example" {
		t.Fatalf("trusted origins = %q", c.TrustedOrigins)
	}
}

func TestDefaultsMatchTheContract(t *testing.T) {
	var c serveConfig
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	registerServeFlags(fs, &c)
	if err := parseFlags(fs, nil, envMap()); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.URL != "redis://127.0.0.1:6379/0" || c.RequestTimeout != 500*time.Millisecond ||
		c.Auth != "firebase" || c.RecentAuth != 5*time.Minute || c.IdleTimeout != 30*time.Minute ||
		c.AbsoluteTimeout != 24*time.Hour || c.MaxSessions != 10 || c.MaxDataBytes != 4096 ||
		c.CookieName != "__Host-sid" || c.CookieSameSite != "lax" || c.BindUserAgent != "detect" ||
		c.ShutdownDelay != 5*time.Second {
		t.Fatalf("defaults differ from the documented contract: %+v", c)
	}
}

func TestEnvNameMapping(t *testing.T) {
	if got := envName("redis-url"); got != "SESSIOND_REDIS_URL" {
		t.Fatalf("envName = %q", got)
	}
}

func TestBadFlagValueExits2NamingTheFlag(t *testing.T) {
	code, _, stderr := runSync(t, envMap(), "--request-timeout", "soon")
	if code != exitUsage || !strings.Contains(stderr, "request-timeout") {
		t.Fatalf("exit %d, stderr %q; want 2 naming request-timeout", code, stderr)
	}
}

// A duration without its unit is the usual mistake: the message says
// what a duration looks like (the flag package said only "parse error"),
// on the command line, in the environment and for gc's --interval.
func TestDurationWithoutUnitSaysSo(t *testing.T) {
	for _, args := range [][]string{{"--idle-timeout", "30"}, {"gc", "--interval", "5"}} {
		code, _, stderr := runSync(t, envMap(), args...)
		if code != exitUsage || !strings.Contains(stderr, "a duration needs its unit, e.g. 500ms, 30s or 5m") || strings.Contains(stderr, "parse error") {
			t.Errorf("%v: exit %d, stderr %q; want 2 saying a duration needs its unit", args, code, stderr)
		}
	}
	code, _, stderr := runSync(t, envMap("SESSIOND_REDIS_INFO_INTERVAL", "abc"))
	if code != exitUsage || !strings.Contains(stderr, "SESSIOND_REDIS_INFO_INTERVAL") || !strings.Contains(stderr, "not a duration; write e.g. 500ms") {
		t.Errorf("env: exit %d, stderr %q; want 2 naming the variable and what a duration looks like", code, stderr)
	}
}

func TestBadEnvValueExits2NamingFlagAndVariable(t *testing.T) {
	code, _, stderr := runSync(t, envMap("SESSIOND_REQUEST_TIMEOUT", "soon"))
	if code != exitUsage || !strings.Contains(stderr, "SESSIOND_REQUEST_TIMEOUT") || !strings.Contains(stderr, "--request-timeout") {
		t.Fatalf("exit %d, stderr %q; want 2 naming the variable and the flag", code, stderr)
	}
}

func TestBadEnumValueExits2(t *testing.T) {
	for _, tc := range []struct{ flag, value string }{
		{"bind-user-agent", "maybe"}, {"cookie-samesite", "sometimes"}, {"auth", "trust-me"},
	} {
		code, _, stderr := runSync(t, envMap(), "--"+tc.flag, tc.value, "--firebase-project", testProject)
		if code != exitUsage || !strings.Contains(stderr, tc.flag) {
			t.Errorf("--%s=%s: exit %d, stderr %q; want 2 naming the flag", tc.flag, tc.value, code, stderr)
		}
	}
}

func TestLocalAuthWithoutKeyExits2(t *testing.T) {
	code, _, stderr := runSync(t, envMap(), "--auth", "local", "--firebase-project", testProject)
	if code != exitUsage || !strings.Contains(stderr, "--auth-public-key") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestFirebaseModeRefusesEmulatorHost(t *testing.T) {
	code, _, stderr := runSync(t, envMap("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"), "--auth", "firebase", "--firebase-project", testProject)
	if code != exitUsage || !strings.Contains(stderr, "FIREBASE_AUTH_EMULATOR_HOST") {
		t.Fatalf("exit %d, stderr %q; want 2 naming FIREBASE_AUTH_EMULATOR_HOST", code, stderr)
	}
}

func TestUnexpectedArgumentExits2(t *testing.T) {
	if code, _, _ := runSync(t, envMap(), "serve", "extra"); code != exitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	if code, _, _ := runSync(t, envMap(), "frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestHelpExits0AndDocumentsEnv(t *testing.T) {
	code, _, stderr := runSync(t, envMap(), "-h")
	if code != exitOK || !strings.Contains(stderr, "SESSIOND_REDIS_URL") || !strings.Contains(stderr, "-redis-url") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runSync(t, envMap(), "version")
	if code != exitOK || !strings.HasPrefix(out, "sessiond ") {
		t.Fatalf("exit %d out %q", code, out)
	}
}

func TestGCPrintsReportJSON(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	code, out, stderr := runSync(t, envMap(), "gc", "--redis-url", "redis://"+mr.Addr()+"/0")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v: %q", err, out)
	}
	for _, k := range []string{"live_sessions", "users", "stale_index_entries_pruned", "keys_without_ttl", "scanned_keys", "duration_ms"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q: %s", k, out)
		}
	}
}

func TestGCRedisDownExits1(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	addr := mr.Addr()
	testsvc.StopMiniredis(mr)
	code, _, _ := runSync(t, envMap(), "gc", "--redis-url", "redis://"+addr+"/0", "--request-timeout", "200ms")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
}

// server is a sessiond started by run() in the background.
type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan int
	stderr *testsvc.SyncBuffer
	key    *rsa.PrivateKey
}

func writeKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, path
}

func startServer(t *testing.T, redisURL string, extra ...string) *server {
	t.Helper()
	key, pub := writeKey(t)
	ready := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan int, 1), stderr: &testsvc.SyncBuffer{}, key: key}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--ready-file", ready}
	if redisURL != "" { // "": the flag's default (or what extra says)
		args = append(args, "--redis-url", redisURL)
	}
	args = append(append(args, "--auth", "local", "--auth-public-key", pub, "--firebase-project", testProject, "--shutdown-delay", "0"), extra...)
	go func() { s.done <- run(ctx, args, envMap(), io.Discard, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			s.addr = string(b)
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code // for the cleanup
			t.Fatalf("sessiond exited %d before listening: %s", code, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no ready file after 10s: %s", s.stderr.String())
	return nil
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// create logs uid in and returns the cookie header value.
func (s *server) create(t *testing.T, uid string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url("/v1/sessions"), nil)
	req.Header.Set("Authorization", "Bearer "+authtest.Mint(s.key, testProject, uid))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", res.StatusCode)
	}
	ck := res.Cookies()
	if len(ck) != 1 {
		t.Fatalf("create set %d cookies", len(ck))
	}
	return ck[0].Name + "=" + ck[0].Value
}

func (s *server) get(t *testing.T, path, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url(path), nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServeMainFlowAndLocalModeWarning(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0")
	cookie := s.create(t, "alice")
	if code, body := s.get(t, "/v1/sessions/current", cookie); code != http.StatusOK || !strings.Contains(body, `"user_id":"alice"`) {
		t.Fatalf("validate: %d %s", code, body)
	}
	if code, body := s.get(t, "/healthz", ""); code != http.StatusOK || !strings.Contains(body, `"auth":"local"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"severity":"WARNING"`) || !strings.Contains(logs, "--auth=local") {
		t.Fatalf("no loud local-mode warning in logs: %s", logs)
	}
	if !strings.Contains(logs, `"addr":"`+s.addr+`"`) {
		t.Fatalf("listen address %s not logged: %s", s.addr, logs)
	}
}

func TestGracefulShutdown(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--shutdown-delay", "400ms")

	// Start a create whose body is still being uploaded: the handler is
	// running when the signal comes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.url("/v1/sessions"), pr)
	req.Header.Set("Authorization", "Bearer "+authtest.Mint(s.key, testProject, "alice"))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(`{"data":{"k":1}}`)) // sessiond refuses chunked bodies
	type result struct {
		code int
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- result{0, err}
			return
		}
		res.Body.Close()
		inflight <- result{res.StatusCode, nil}
	}()
	if _, err := pw.Write([]byte(`{"data":`)); err != nil {
		t.Fatal(err)
	}

	s.cancel() // SIGTERM
	// Readiness fails first, while the listener still answers.
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		code, _ := s.get(t, "/readyz", "")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d after shutdown began", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // past the delay: Shutdown is draining
	if _, err := pw.Write([]byte(`{"k":1}}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-inflight
	if r.err != nil || r.code != http.StatusCreated {
		t.Fatalf("in-flight request: %d %v, want 201", r.code, r.err)
	}
	select {
	case code := <-s.done:
		if code != exitOK {
			t.Fatalf("exit %d, want 0: %s", code, s.stderr.String())
		}
		s.done <- code // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("sessiond did not exit after draining")
	}
}

// Regression (issue 11): `sessiond --version` was refused as an unknown
// flag of serve (exit 2).
func TestDashDashVersionExits0(t *testing.T) {
	for _, arg := range []string{"--version", "-version"} {
		code, out, stderr := runSync(t, envMap(), arg)
		if code != exitOK || !strings.HasPrefix(out, "sessiond ") {
			t.Errorf("sessiond %s: exit %d out %q stderr %q; want 0 and the version", arg, code, out, stderr)
		}
	}
}

// Regression (issue 11): the usage line printed by -h omitted the gc
// command.
func TestUsageListsEveryCommand(t *testing.T) {
	code, _, stderr := runSync(t, envMap(), "-h")
	if code != exitOK {
		t.Fatalf("-h: exit %d", code)
	}
	_, out, _ := runSync(t, envMap(), "help")
	for _, text := range []string{stderr, out} {
		for _, cmd := range []string{"sessiond [serve]", "sessiond gc", "sessiond version"} {
			if !strings.Contains(text, cmd) {
				t.Errorf("usage lacks %q:\n%s", cmd, text)
			}
		}
	}
}

// TestBadTLSFilesExit2BeforeListening: a missing certificate was found
// only after "listening" was logged and --ready-file written, then
// "server failed", exit 1. It is a configuration error: exit 2 naming
// --tls-cert, and no ready file.
func TestBadTLSFilesExit2BeforeListening(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	code, _, stderr := runSync(t, envMap(), "--listen", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "none.crt"),
		"--tls-key", filepath.Join(dir, "none.key"), "--ready-file", ready, "--firebase-project", testProject)
	if code != exitUsage || !strings.Contains(stderr, "--tls-cert") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --tls-cert", code, stderr)
	}
	if _, err := os.Stat(ready); !os.IsNotExist(err) {
		t.Errorf("ready file written for a server that never served (%v)", err)
	}
}
