package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AuthEmulatorHowTo is the install hint given when the Firebase Auth
// emulator cannot be used.
const AuthEmulatorHowTo = "npm install -g firebase-tools (needs Node.js; the auth emulator needs no Java)"

// authEmulatorStartTimeout bounds how long LaunchAuthEmulator waits for the
// emulator to answer HTTP; a cold start takes about 10 s on a 2-core box.
const authEmulatorStartTimeout = 60 * time.Second

// AuthEmulator is a running Firebase Auth emulator owned by a test binary.
// Starting one takes ~10 s, so a package that needs it in many tests
// launches one in TestMain (or in one parent test with subtests) and
// closes it at the end, instead of starting one per test.
type AuthEmulator struct {
	// Host is the emulator's host:port, the value for
	// FIREBASE_AUTH_EMULATOR_HOST.
	Host string
	// Project is the demo project ID it serves ("demo-sessionbench-<hex>");
	// the "demo-" prefix makes the CLI refuse to touch any real project.
	Project string

	cmd       *exec.Cmd
	dir       string
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// StartAuthEmulator starts a Firebase Auth emulator for the calling test
// and stops it when the test ends. It returns the emulator's host:port and
// project ID. If the firebase CLI is missing or the emulator does not come
// up, the test fails in CI and is skipped elsewhere (see Unavailable).
func StartAuthEmulator(tb testing.TB) (host, project string) {
	tb.Helper()
	e, err := LaunchAuthEmulator(context.Background())
	if err != nil {
		Unavailable(tb, "Firebase Auth emulator", err.Error(), AuthEmulatorHowTo)
		return "", ""
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Logf("stop Firebase Auth emulator: %v", err)
		}
	})
	return e.Host, e.Project
}

// Require returns the emulator's host and project for tb, or reports it
// Unavailable (fail in CI, skip elsewhere) when launchErr, the error
// LaunchAuthEmulator returned in TestMain, is non-nil. It lets a TestMain
// launch once and every test decide by itself.
func (e *AuthEmulator) Require(tb testing.TB, launchErr error) (host, project string) {
	tb.Helper()
	if launchErr != nil || e == nil {
		reason := "not launched"
		if launchErr != nil {
			reason = launchErr.Error()
		}
		Unavailable(tb, "Firebase Auth emulator", reason, AuthEmulatorHowTo)
		return "", ""
	}
	return e.Host, e.Project
}

// LaunchAuthEmulator starts `firebase emulators:start --only auth` in a
// fresh temporary directory whose firebase.json puts the auth emulator, the
// hub and the logging emulator on free loopback ports and disables the UI.
// It returns once the emulator answers HTTP. The caller must Close it.
func LaunchAuthEmulator(ctx context.Context) (*AuthEmulator, error) {
	bin, err := exec.LookPath("firebase")
	if err != nil {
		return nil, fmt.Errorf("firebase CLI not found in PATH: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("random project suffix: %w", err)
	}
	project := "demo-sessionbench-" + hex.EncodeToString(rnd[:])
	dir, err := os.MkdirTemp("", "sessionbench-auth-emulator-")
	if err != nil {
		return nil, fmt.Errorf("emulator temp dir: %w", err)
	}
	e := &AuthEmulator{
		Host:    net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Project: project,
		dir:     dir,
		done:    make(chan error, 1),
	}
	if err := e.start(ctx, bin, ports); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return e, nil
}

func (e *AuthEmulator) start(ctx context.Context, bin string, ports []int) error {
	conf := map[string]any{
		"emulators": map[string]any{
			"auth":              map[string]any{"host": "127.0.0.1", "port": ports[0]},
			"hub":               map[string]any{"host": "127.0.0.1", "port": ports[1]},
			"logging":           map[string]any{"host": "127.0.0.1", "port": ports[2]},
			"ui":                map[string]any{"enabled": false},
			"singleProjectMode": true,
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode firebase.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "firebase.json"), b, 0o600); err != nil {
		return fmt.Errorf("write firebase.json: %w", err)
	}
	logPath := filepath.Join(e.dir, "emulator.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create emulator log: %w", err)
	}
	defer logf.Close()

	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", e.Project)
	cmd.Dir = e.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// firebase spawns node children; a process group lets Close stop all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The emulator must not inherit a host pointing at another emulator.
	cmd.Env = withoutEnv(os.Environ(), "FIREBASE_AUTH_EMULATOR_HOST")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	e.cmd = cmd
	go func() { e.done <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, authEmulatorStartTimeout)
	defer cancel()
	if err := e.waitReady(ctx); err != nil {
		e.kill()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("auth emulator did not become ready: %w; output:\n%s", err, tail(string(out), 2000))
	}
	return nil
}

// waitReady polls GET http://host/ until the emulator answers 200 with
// its {"authEmulator":{"ready":true}} banner, the process exits, or ctx ends.
func (e *AuthEmulator) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
		if err != nil {
			return fmt.Errorf("build readiness request: %w", err)
		}
		if resp, err := hc.Do(req); err == nil {
			var banner struct {
				AuthEmulator struct {
					Ready bool `json:"ready"`
				} `json:"authEmulator"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&banner)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil && banner.AuthEmulator.Ready {
				return nil
			}
		}
		select {
		case err := <-e.done:
			e.done <- err // keep it for Close
			return fmt.Errorf("firebase exited early: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s: %w", e.Host, ctx.Err())
		case <-tick.C:
		}
	}
}

// Close stops the emulator's whole process group (SIGTERM, then SIGKILL
// after 10 s) and removes its temporary directory. Calling it again
// returns the first result without signalling anything.
func (e *AuthEmulator) Close() error {
	if e == nil || e.cmd == nil {
		return nil
	}
	e.closeOnce.Do(func() {
		e.closeErr = e.kill()
		if err := os.RemoveAll(e.dir); err != nil && e.closeErr == nil {
			e.closeErr = fmt.Errorf("remove emulator dir: %w", err)
		}
	})
	return e.closeErr
}

func (e *AuthEmulator) kill() error {
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.done
	}
	// Children that ignored SIGTERM after the parent exited.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill emulator process group %d: %w", pgid, err)
	}
	return nil
}

// freePorts reserves n distinct free loopback TCP ports. They are released
// before return, so another process could take one in between; on a test
// machine that is rare enough, and the emulator then fails loudly.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
