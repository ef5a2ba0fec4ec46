package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// ErrFirebaseMissing means the firebase CLI is not installed; the fix is
// FirebaseHowTo.
var ErrFirebaseMissing = errors.New("firebase CLI not found in PATH")

// FirebaseHowTo is how to get the Firebase Auth emulator.
const FirebaseHowTo = "npm install -g firebase-tools"

// AuthEmulator is a Firebase Auth emulator started by loadgen.
type AuthEmulator struct {
	// Host is host:port, the value for FIREBASE_AUTH_EMULATOR_HOST.
	Host string
	proc *process
	dir  string
}

// StartAuthEmulator runs `firebase emulators:start --only auth --project
// project` in a temporary directory whose firebase.json puts the auth
// emulator, hub and logging on free loopback ports (UI off). Its output
// goes to logPath. It returns once the emulator is ready (timeout 60 s).
func StartAuthEmulator(ctx context.Context, project, logPath string) (*AuthEmulator, error) {
	bin, err := exec.LookPath("firebase")
	if err != nil {
		return nil, fmt.Errorf("%w: install it with `%s`, or set FIREBASE_AUTH_EMULATOR_HOST to a running emulator", ErrFirebaseMissing, FirebaseHowTo)
	}
	// Three distinct free ports: each listener is held until all are
	// chosen, then closed before firebase binds them.
	var ports [3]int
	var ls []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return startEmulatorOn(ctx, bin, project, logPath, ports)
}

func startEmulatorOn(ctx context.Context, bin, project, logPath string, ports [3]int) (*AuthEmulator, error) {
	dir, err := os.MkdirTemp("", "loadgen-auth-emulator-")
	if err != nil {
		return nil, fmt.Errorf("emulator dir: %w", err)
	}
	conf, _ := json.Marshal(map[string]any{"emulators": map[string]any{
		"auth":              map[string]any{"host": "127.0.0.1", "port": ports[0]},
		"hub":               map[string]any{"host": "127.0.0.1", "port": ports[1]},
		"logging":           map[string]any{"host": "127.0.0.1", "port": ports[2]},
		"ui":                map[string]any{"enabled": false},
		"singleProjectMode": true,
	}})
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), conf, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write firebase.json: %w", err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("emulator log: %w", err)
	}
	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", project)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = withoutEnv(os.Environ(), "FIREBASE_AUTH_EMULATOR_HOST")
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start firebase: %w", err)
	}
	e := &AuthEmulator{
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		proc: &process{cmd: cmd, done: make(chan error, 1), log: logf},
		dir:  dir,
	}
	go func() { e.proc.done <- cmd.Wait() }()
	if err := e.waitReady(ctx, 60*time.Second); err != nil {
		_ = e.Close()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("auth emulator did not start: %w; output:\n%s", err, tail(string(out), 1500))
	}
	return e, nil
}

func (e *AuthEmulator) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
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
		case err := <-e.proc.done:
			e.proc.done <- err
			return fmt.Errorf("firebase exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops the emulator's process group and removes its directory.
func (e *AuthEmulator) Close() error {
	err := e.proc.stop(10 * time.Second)
	os.RemoveAll(e.dir)
	return err
}
