// Package firebaseemu launches the Firebase Auth emulator (the firebase
// CLI from the npm package firebase-tools) on free loopback ports and
// stops it with all its children. The load generator starts one when a
// run asks for emulator tokens and none is running; the test helpers in
// internal/testsvc start one for tests that need the real thing.
package firebaseemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sessionbench/sessionbench/internal/proc"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// HowTo is how to get the firebase CLI.
const HowTo = "npm install -g firebase-tools"

// HostEnv is the variable that points Firebase clients at an emulator.
const HostEnv = auth.EmulatorHostEnv

// DefaultStartTimeout bounds the wait for the emulator to answer: a cold
// start takes about 10 s on an idle 2-core machine, but over 60 s was
// seen with both cores busy (the test suite runs several packages, each
// with its own emulator, in parallel).
const DefaultStartTimeout = 180 * time.Second

// ErrCLIMissing means the firebase CLI is not in PATH; the fix is HowTo.
var ErrCLIMissing = errors.New("firebase CLI not found in PATH")

// Options configure Start.
type Options struct {
	// Project is the project ID to serve. Use a "demo-" ID: the CLI then
	// refuses to touch any real project. Required.
	Project string
	// LogPath receives the CLI's output. Default: a file in the
	// emulator's temporary directory, removed by Close.
	LogPath string
	// StartTimeout bounds the wait for readiness. Default
	// DefaultStartTimeout.
	StartTimeout time.Duration

	// pickPorts chooses the ports of one attempt; nil is freePorts
	// (tests make the first choice collide).
	pickPorts func(n int) ([]int, error)
}

// Emulator is a running Firebase Auth emulator.
type Emulator struct {
	// Host is host:port, the value for FIREBASE_AUTH_EMULATOR_HOST.
	Host string
	// Project is the project ID it serves.
	Project string

	cmd       *exec.Cmd
	dir       string
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// Start runs `firebase emulators:start --only auth` in a fresh temporary
// directory whose firebase.json puts the auth emulator, the hub and the
// logging emulator on free loopback ports and disables the UI. It
// returns once the emulator reports ready. The caller must Close it.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	if o.Project == "" {
		return nil, errors.New("firebaseemu: Options.Project is required (e.g. demo-sessionbench)")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	bin, err := exec.LookPath("firebase")
	if err != nil {
		return nil, fmt.Errorf("%w: install it with `%s`", ErrCLIMissing, HowTo)
	}
	// The ports are free when chosen but released before firebase binds
	// them, so anything else on the machine can take one in between; the
	// emulator then exits saying so, and a new set of ports is tried.
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		e, err := startOnce(ctx, bin, o)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("auth emulator: a chosen port was taken on each of %d attempts: %w", startAttempts, lastErr)
}

// startAttempts bounds retries of a start that lost a port race.
const startAttempts = 4

// errPortTaken marks a start that failed because a chosen port was bound
// by someone else first.
var errPortTaken = errors.New("a chosen port was taken")

// portTakenRE matches what the firebase CLI prints when a port it was
// told to use is already bound.
var portTakenRE = regexp.MustCompile(`(?i)port \d+ is not open|port taken|EADDRINUSE|address already in use`)

func startOnce(ctx context.Context, bin string, o Options) (*Emulator, error) {
	pick := o.pickPorts
	if pick == nil {
		pick = freePorts
	}
	ports, err := pick(3)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sessionbench-auth-emulator-")
	if err != nil {
		return nil, fmt.Errorf("emulator temp dir: %w", err)
	}
	e := &Emulator{
		Host:    net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Project: o.Project,
		dir:     dir,
		done:    make(chan error, 1),
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Join(dir, "emulator.log")
	}
	if err := e.start(ctx, bin, ports, o); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return e, nil
}

func (e *Emulator) start(ctx context.Context, bin string, ports []int, o Options) error {
	conf, err := json.MarshalIndent(map[string]any{"emulators": map[string]any{
		"auth":              map[string]any{"host": "127.0.0.1", "port": ports[0]},
		"hub":               map[string]any{"host": "127.0.0.1", "port": ports[1]},
		"logging":           map[string]any{"host": "127.0.0.1", "port": ports[2]},
		"ui":                map[string]any{"enabled": false},
		"singleProjectMode": true,
	}}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode firebase.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "firebase.json"), conf, 0o600); err != nil {
		return fmt.Errorf("write firebase.json: %w", err)
	}
	logf, err := os.Create(o.LogPath)
	if err != nil {
		return fmt.Errorf("create emulator log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor

	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", e.Project)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The emulator must not inherit a host pointing at another emulator.
	cmd.Env = proc.WithoutEnv(os.Environ(), HostEnv)
	// firebase spawns node children: a process group lets Close stop all.
	cmd.SysProcAttr = proc.ChildAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	e.cmd = cmd
	go func() { e.done <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := e.waitReady(ctx); err != nil {
		_ = e.kill()
		out, _ := os.ReadFile(o.LogPath)
		if portTakenRE.Match(out) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fmt.Errorf("auth emulator did not become ready: %w; output:\n%s", err, proc.Tail(string(out), 2000))
	}
	return nil
}

// waitReady polls GET http://host/ until the emulator answers 200 with
// its {"authEmulator":{"ready":true}} banner, the process exits, or ctx
// ends.
func (e *Emulator) waitReady(ctx context.Context) error {
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
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil && banner.AuthEmulator.Ready {
				return nil
			}
		}
		select {
		case err := <-e.done:
			e.done <- err // keep it for kill
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
func (e *Emulator) Close() error {
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

func (e *Emulator) kill() error {
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case err := <-e.done:
		e.done <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		e.done <- <-e.done
	}
	// Children that ignored SIGTERM after the parent exited.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill emulator process group %d: %w", pgid, err)
	}
	return nil
}

// freePorts reserves n distinct free loopback TCP ports. All listeners
// are held until every port is chosen (so the n are distinct) and closed
// before return (so firebase can bind them); another process could take
// one in between, and the emulator then fails loudly.
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
