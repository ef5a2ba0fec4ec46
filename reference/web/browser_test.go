package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// howTo is the one-line fix when a tool of the browser suite is missing.
const howTo = "apt-get install -y chromium nodejs npm && make web-deps (npm ci in reference/web)"

// recheckInterval is sessiond's --recheck-user in the suite: short, so
// the suite can see a disabled user's live session end.
const recheckInterval = 2 * time.Second

// tools finds what the suite needs, or reports it unavailable (fail in
// CI, skip elsewhere).
func tools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testsvc.Unavailable(t, "node", err, howTo)
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	// A missing file is a tool not installed (the how-to applies).
	if _, err := os.Stat(chromium); err != nil {
		testsvc.Unavailable(t, "chromium", fmt.Errorf("%w: %w", exec.ErrNotFound, err), howTo)
	}
	for _, p := range []string{"node_modules/playwright-core", "node_modules/firebase", "node_modules/.bin/esbuild"} {
		if _, err := os.Stat(p); err != nil {
			testsvc.Unavailable(t, "npm packages of reference/web", fmt.Errorf("%w: %w", exec.ErrNotFound, err), howTo)
		}
	}
	return node, chromium
}

// run runs a command with a deadline and fails the test with its output.
func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// goTool is the go command of the toolchain running the test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildSessiond builds the sessiond binary into a temporary directory.
func buildSessiond(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessiond")
	run(t, ".", nil, goTool(), "build", "-o", bin, "github.com/sessionbench/sessionbench/reference/cmd/sessiond")
	return bin
}

// startSessiond starts the sessiond binary; it returns its address and
// stops it (SIGTERM) when the test ends.
func startSessiond(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	ready := filepath.Join(dir, "addr")
	logf, err := os.Create(filepath.Join(dir, "sessiond.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--ready-file", ready, "--shutdown-delay", "0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sessiond log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("sessiond exited (%v):\n%s", err, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("sessiond did not listen within 30s")
	return ""
}

// serve serves h on a free loopback port until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestBrowserSuite drives the reference web client in headless Chromium
// against a real sessiond, redis-server and Auth emulator: sign-up, the
// HttpOnly cookie, reloads, two devices, per-device and everywhere
// logout, rotation on repeated login, cross-site refusals, a disabled
// user's session ending under --recheck-user, and plain-http development
// on another hostname with and without --dev-insecure-cookie (see
// e2e/suite.mjs).
func TestBrowserSuite(t *testing.T) {
	node, chromium := tools(t)
	start := time.Now()
	redisAddr := testsvc.StartRedis(t)
	emuHost, project := testsvc.StartAuthEmulator(t)

	dist := t.TempDir()
	run(t, ".", nil, "node_modules/.bin/esbuild", "src/app.js", "--bundle", "--format=esm", "--target=es2020",
		"--outfile="+filepath.Join(dist, "app.js"), "--log-level=warning")

	bin := buildSessiond(t)
	emuEnv := []string{auth.EmulatorHostEnv + "=" + emuHost}
	common := []string{"--auth", "emulator", "--firebase-project", project, "--redis-url", "redis://" + redisAddr + "/0"}
	api := startSessiond(t, bin, emuEnv, append(common, "--recheck-user", recheckInterval.String())...)
	devAPI := startSessiond(t, bin, emuEnv, append(common, "--dev-insecure-cookie")...)

	index, err := os.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	config, _ := json.Marshal(map[string]string{
		"apiKey": "fake-api-key", "projectId": project, "authDomain": project + ".firebaseapp.com",
		"authEmulatorUrl": "http://" + emuHost,
	})
	// The page and the API on one origin: the test serves the page and
	// proxies /v1/ to sessiond, as a production reverse proxy would.
	app := func(apiAddr string) http.Handler {
		target, _ := url.Parse("http://" + apiAddr)
		mux := http.NewServeMux()
		mux.Handle("/v1/", httputil.NewSingleHostReverseProxy(target))
		mux.HandleFunc("/config.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(config)
		})
		mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, filepath.Join(dist, "app.js"))
		})
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
		})
		return mux
	}
	_, appPort, _ := net.SplitHostPort(serve(t, app(api)))
	_, devPort, _ := net.SplitHostPort(serve(t, app(devAPI)))
	appURL := "http://localhost:" + appPort // localhost: a secure context, so the __Host- cookie is kept

	// Another site (127.0.0.1 is not localhost's site) with forms and
	// scripts aimed at the API.
	evilAddr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>another site</title>
<form id="create" method="POST" action="%[1]s/v1/sessions" enctype="text/plain"><input name='{"data":{"x":"' value='"}}'></form>
<script>
async function attack() {
  const out = {};
  for (const [name, init] of Object.entries({
    logoutEverywhere: {method: "DELETE"},
    logout: {method: "DELETE", path: "/v1/sessions/current"},
    createTextPlain: {method: "POST", headers: {"Content-Type": "text/plain"}, body: '{"data":{}}'},
    list: {method: "GET"},
  })) {
    try {
      const r = await fetch("%[1]s" + (init.path || "/v1/sessions"), {credentials: "include", ...init});
      out[name] = "status " + r.status;
    } catch (e) { out[name] = "blocked: " + e.name; }
  }
  return out;
}
</script>`, appURL)
	}))

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/suite.mjs")
	cmd.Env = append(os.Environ(),
		"APP_URL="+appURL, "EVIL_URL=http://"+evilAddr, "CHROMIUM="+chromium,
		// app.test resolves to 127.0.0.1 in the browser: plain http on a
		// name other than localhost, where browsers drop Secure cookies.
		"PLAIN_HTTP_URL=http://app.test:"+appPort, "DEV_COOKIE_URL=http://app.test:"+devPort,
		"EMULATOR_HOST="+emuHost, "PROJECT="+project, "RECHECK_MS="+fmt.Sprint(recheckInterval.Milliseconds()))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	setup := time.Since(start)
	suiteStart := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	passed := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(line, "ok ") {
			passed++
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser suite failed (%v) after %d passing checks", err, passed)
	}
	if passed == 0 {
		t.Fatal("the browser suite reported no check")
	}
	t.Logf("browser suite: %d checks passed; setup %.1fs (redis, emulator, builds), suite %.1fs",
		passed, setup.Seconds(), time.Since(suiteStart).Seconds())
}
