// Package sut is the system under test of a load run: a sessiond that
// loadgen starts on the run's Redis (redisenv.Env), or a server someone
// else runs, given by URL and probed. Either way the run learns the base
// URL, what the server says it is, and where its metrics are.
package sut

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sessionbench/sessionbench/internal/proc"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// SessiondEnv names the environment variable that, when set, is the path
// of the sessiond binary to start (tests set it; it wins over the search).
const SessiondEnv = "LOADGEN_SESSIOND"

// DefaultReadyTimeout bounds how long a started sessiond may take to
// become ready.
const DefaultReadyTimeout = 15 * time.Second

// ErrUnreachable wraps every failure to reach an external server.
var ErrUnreachable = errors.New("target unreachable")

// ConfigError is a bad setting (exit 2), as opposed to a failure to
// start or reach something (exit 1).
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// SUT is the server a run measures. Close stops what Start started.
type SUT struct {
	// URL is the HTTP base URL, without a trailing slash.
	URL string
	// Server is "sessiond <version>" or "external".
	Server string
	// PID is the server process when loadgen started it (0 otherwise).
	PID int
	// MetricsURL is its Prometheus endpoint ("" when it has none).
	MetricsURL string

	proc *process
}

// Probe checks that the server at base answers and reads its identity
// from /healthz; nothing is started.
func Probe(ctx context.Context, base string) (*SUT, error) {
	s := &SUT{URL: strings.TrimRight(base, "/")}
	server, err := probe(ctx, s.URL)
	if err != nil {
		return nil, err
	}
	s.Server = server
	s.MetricsURL = metricsURL(ctx, s.URL)
	return s, nil
}

// Sessiond configures a sessiond loadgen starts.
type Sessiond struct {
	// Env is the Redis it serves from.
	Env redisenv.Env
	// Auth is its --auth: "local" (with PublicKeyFile) or "emulator"
	// (with EmulatorHost).
	Auth          string
	PublicKeyFile string
	EmulatorHost  string
	// Project is its --firebase-project.
	Project string
	// Binary is the sessiond to run; empty searches (see FindSessiond).
	Binary string
	// Dir receives sessiond.log. Required.
	Dir string
	// Args are extra flags (a profile's needs, e.g. an evicting Redis).
	Args []string
	// ReadyTimeout: default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Log receives notes such as "building bin/sessiond". Default io.Discard.
	Log io.Writer
}

// Start runs sessiond on a free loopback port against c.Env and waits
// until /readyz answers 200. On error nothing is left running, and the
// error carries the end of sessiond's log.
func Start(ctx context.Context, c Sessiond) (*SUT, error) {
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Env == nil || c.Dir == "" {
		return nil, errors.New("sut: Sessiond needs Env and Dir")
	}
	s := &SUT{}
	if err := s.startSessiond(ctx, c); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops a started sessiond (SIGTERM, then SIGKILL after 10 s).
func (s *SUT) Close() error {
	if s == nil || s.proc == nil {
		return nil
	}
	err := s.proc.stop(10 * time.Second)
	s.proc = nil
	return err
}

// Exited says how a sessiond loadgen started ended when it exited on its
// own (killed, crashed, or stopped by someone else); "" while it runs,
// and always for an external server, which loadgen cannot watch.
func (s *SUT) Exited() string {
	if s == nil || s.proc == nil {
		return ""
	}
	select {
	case err := <-s.proc.done:
		s.proc.done <- err
		if err == nil {
			return "exit status 0"
		}
		return err.Error()
	default:
		return ""
	}
}

// metricsURL is base/metrics when it answers 200 with Prometheus text.
func metricsURL(ctx context.Context, base string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "# TYPE ") {
		return ""
	}
	return base + "/metrics"
}

func probe(ctx context.Context, base string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return "", &ConfigError{fmt.Sprintf("--target %q: %v", base, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrUnreachable, base, err)
	}
	defer resp.Body.Close()
	var h struct {
		Auth    string `json:"auth"`
		Version string `json:"version"`
	}
	if resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h) == nil && h.Auth != "" {
		v := h.Version
		if v == "" {
			v = "unknown"
		}
		return "sessiond " + v, nil
	}
	return "external", nil
}

// FindSessiond returns the sessiond binary to start: $LOADGEN_SESSIOND,
// else "sessiond" next to the running executable, else ./bin/sessiond,
// else it builds bin/sessiond at the module root found from the working
// directory (needs a go toolchain). Not finding one is a *ConfigError
// that says how to fix it.
func FindSessiond(ctx context.Context, log io.Writer) (string, error) {
	if p := os.Getenv(SessiondEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", &ConfigError{fmt.Sprintf("%s=%s: %v; set it to the sessiond binary (make build writes bin/sessiond)", SessiondEnv, p, err)}
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "sessiond")
		if isExecutable(p) {
			return p, nil
		}
	}
	if isExecutable(filepath.Join("bin", "sessiond")) {
		return filepath.Abs(filepath.Join("bin", "sessiond"))
	}
	root, rootErr := moduleRoot()
	goBin, goErr := exec.LookPath("go")
	if rootErr != nil || goErr != nil {
		return "", &ConfigError{"sessiond binary not found (looked in " + SessiondEnv + ", next to loadgen and in ./bin); build it with `make build` " +
			"(or go build -o bin/sessiond ./reference/cmd/sessiond) and set " + SessiondEnv + " to its path, or point --target at a running server"}
	}
	out := filepath.Join(root, "bin", "sessiond")
	fmt.Fprintf(log, "loadgen: building %s\n", out)
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./reference/cmd/sessiond")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build sessiond: %w\n%s", err, b)
	}
	return out, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// moduleRoot walks up from the working directory to the sessionbench
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/sessionbench/sessionbench") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the sessionbench module")
		}
		dir = parent
	}
}

// process is a started sessiond.
type process struct {
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func (t *SUT) startSessiond(ctx context.Context, cfg Sessiond) error {
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = FindSessiond(ctx, cfg.Log); err != nil {
			return err
		}
	}
	readyFile := filepath.Join(cfg.Dir, ".sessiond.ready")
	_ = os.Remove(readyFile)
	conn := cfg.Env.Conn()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--ready-file", readyFile,
		"--redis-url", conn.URL, "--shutdown-delay", "0s"}
	if len(conn.ClusterSeeds) > 0 {
		args = append(args, "--redis-cluster="+strings.Join(conn.ClusterSeeds, ","))
	}
	if conn.CAFile != "" {
		args = append(args, "--redis-ca-file", conn.CAFile)
	}
	if conn.PasswordFile != "" {
		args = append(args, "--redis-password-file", conn.PasswordFile)
	}
	if p := cfg.Env.KeyPrefix(); p != "" {
		args = append(args, "--key-prefix", p)
	}
	env := proc.WithoutEnv(os.Environ(), auth.EmulatorHostEnv)
	switch cfg.Auth {
	case "local", "":
		args = append(args, "--auth=local", "--auth-public-key", cfg.PublicKeyFile)
	case "emulator":
		args = append(args, "--auth=emulator")
		env = append(env, auth.EmulatorHostEnv+"="+cfg.EmulatorHost)
	default:
		return &ConfigError{fmt.Sprintf("sessiond auth %q: want local or emulator", cfg.Auth)}
	}
	if cfg.Project != "" {
		args = append(args, "--firebase-project", cfg.Project)
	}
	args = append(args, cfg.Args...)
	logPath := filepath.Join(cfg.Dir, "sessiond.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("sessiond log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = proc.ChildAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), log: logf}
	go func() { p.done <- cmd.Wait() }()
	t.proc = p
	t.PID = cmd.Process.Pid

	addr, err := p.waitReady(ctx, readyFile, cfg.ReadyTimeout)
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("sessiond did not become ready: %w; %s says:\n%s", err, logPath, proc.Tail(string(out), 1500))
	}
	_ = os.Remove(readyFile)
	t.URL = "http://" + addr
	if t.Server, err = probe(ctx, t.URL); err != nil {
		return err
	}
	t.MetricsURL = t.URL + "/metrics"
	return nil
}

// waitReady waits for the ready file, then for /readyz to answer 200.
func (p *process) waitReady(ctx context.Context, readyFile string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	addr := ""
	for {
		if addr == "" {
			if b, err := os.ReadFile(readyFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
				addr = strings.TrimSpace(string(b))
			}
		}
		if addr != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
			if resp, err := hc.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return addr, nil
				}
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return "", fmt.Errorf("sessiond exited: %v", err)
		case <-ctx.Done():
			return "", fmt.Errorf("not ready after %v: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM to the process group and waits; after grace it kills.
func (p *process) stop(grace time.Duration) error {
	defer p.log.Close()
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return fmt.Errorf("sessiond: %w", err)
		}
		return nil
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("sessiond did not stop within %v of SIGTERM; killed", grace)
	}
}
