// Package target provides what a load run measures: an external server
// (--target URL), or a sessiond process that loadgen starts itself, and
// the Redis behind it (in-process miniredis or a redis:// URL), with the
// facts the summary reports (server version, Redis version and memory).
package target

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sessionbench/sessionbench/internal/proc"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// Redis modes.
const (
	RedisEmbedded = "embedded" // miniredis in this process, on loopback
	RedisURL      = "url"      // a Redis the user runs, given as redis://…
)

// SessiondEnv names the environment variable that, when set, is the path
// of the sessiond binary to start (tests set it; it wins over the search).
const SessiondEnv = "LOADGEN_SESSIOND"

// DefaultReadyTimeout bounds how long a started sessiond may take to
// become ready.
const DefaultReadyTimeout = 15 * time.Second

// ErrUnreachable wraps every failure to reach an external target.
var ErrUnreachable = errors.New("target unreachable")

// Config says what to measure. Zero values take the documented defaults.
type Config struct {
	// URL is an external target (--target); when set nothing is started
	// and Redis is ignored unless NeedRedis.
	URL string
	// Redis is "embedded" (default) or a redis:// or rediss:// URL.
	Redis string
	// StartServer starts sessiond when URL is empty (the http driver);
	// false with NeedRedis is the store driver: Redis only.
	StartServer bool
	// NeedRedis: the run needs a Redis client (the store driver).
	NeedRedis bool
	// Auth is sessiond's --auth: "local" (with PublicKeyFile) or
	// "emulator" (with EmulatorHost).
	Auth          string
	PublicKeyFile string
	EmulatorHost  string
	// Project is sessiond's --firebase-project.
	Project string
	// Sessiond is the binary to start; empty searches (see FindSessiond).
	Sessiond string
	// Dir receives sessiond.log. Required when a server is started.
	Dir string
	// ReadyTimeout bounds sessiond's start. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Log receives notes such as "building bin/sessiond". Default io.Discard.
	Log io.Writer
}

// Target is a running (or external) target. Close releases it.
type Target struct {
	// URL is the HTTP base URL; empty for a store-driver run.
	URL string
	// Server is "sessiond <version>" or "external".
	Server string
	// RedisMode is RedisEmbedded, RedisURL, or "" when loadgen does not
	// know the Redis (external target).
	RedisMode string
	// RedisAddr is host:port of the Redis, when known.
	RedisAddr string

	redisURL string
	rdb      *redis.Client
	mr       *miniredis.Miniredis
	proc     *process
}

// Start brings up what cfg asks for. On error everything already started
// is stopped.
func Start(ctx context.Context, cfg Config) (*Target, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	t := &Target{}
	if err := t.start(ctx, cfg); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Target) start(ctx context.Context, cfg Config) error {
	if cfg.URL != "" {
		t.URL = strings.TrimRight(cfg.URL, "/")
		if err := t.probeExternal(ctx); err != nil {
			return err
		}
		if !cfg.NeedRedis {
			return nil
		}
	}
	if err := t.startRedis(cfg.Redis); err != nil {
		return err
	}
	if cfg.URL == "" && cfg.StartServer {
		return t.startSessiond(ctx, cfg)
	}
	return nil
}

func (t *Target) startRedis(mode string) error {
	switch {
	case mode == "" || mode == RedisEmbedded:
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start embedded redis: %w", err)
		}
		t.mr = mr
		t.RedisMode = RedisEmbedded
		t.RedisAddr = mr.Addr()
		t.redisURL = "redis://" + mr.Addr() + "/0"
	case strings.HasPrefix(mode, "redis://") || strings.HasPrefix(mode, "rediss://"):
		opt, err := redis.ParseURL(mode)
		if err != nil {
			return fmt.Errorf("--redis %s: %w", redactURL(mode), err)
		}
		t.RedisMode = RedisURL
		t.RedisAddr = opt.Addr
		t.redisURL = mode
	default:
		return &ConfigError{fmt.Sprintf("--redis %q: want embedded or a redis:// URL", mode)}
	}
	opt, err := redis.ParseURL(t.redisURL)
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	t.rdb = redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s does not answer PING: %w", t.RedisAddr, err)
	}
	return nil
}

// ConfigError is a bad setting (exit 2), as opposed to a failure to start
// or reach something (exit 1).
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Redis is a client for the target's Redis, or nil when unknown.
func (t *Target) Redis() *redis.Client { return t.rdb }

// RedisURL is the URL sessiond was given, or "" when unknown.
func (t *Target) RedisURL() string { return t.redisURL }

// RedisVersion reports the Redis server version ("miniredis <module
// version>" for the embedded one), or "" when unknown.
func (t *Target) RedisVersion(ctx context.Context) string {
	if t.mr != nil {
		return "miniredis " + moduleVersion("github.com/alicebob/miniredis/v2")
	}
	if t.rdb == nil {
		return ""
	}
	info, err := t.rdb.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	return infoField(info, "redis_version")
}

// RedisUsedMemory reports INFO memory used_memory in bytes; ok is false
// when unknown (no Redis, or miniredis, which does not report memory).
func (t *Target) RedisUsedMemory(ctx context.Context) (uint64, bool) {
	if t.rdb == nil || t.mr != nil {
		return 0, false
	}
	info, err := t.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(infoField(info, "used_memory"), 10, 64)
	return n, err == nil
}

// infoField returns the value of key in an INFO reply.
func infoField(info, key string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && k == key {
			return v
		}
	}
	return ""
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// Close stops sessiond (SIGTERM, then SIGKILL after 10 s), closes the
// Redis client and the embedded Redis.
func (t *Target) Close() error {
	var errs []error
	if t.proc != nil {
		errs = append(errs, t.proc.stop(10*time.Second))
		t.proc = nil
	}
	if t.rdb != nil {
		_ = t.rdb.Close()
		t.rdb = nil
	}
	if t.mr != nil {
		t.mr.Close()
		t.mr = nil
	}
	return errors.Join(errs...)
}

// probeExternal checks the external target answers HTTP and reads its
// identity from /healthz.
func (t *Target) probeExternal(ctx context.Context) error {
	server, err := probe(ctx, t.URL)
	if err != nil {
		return err
	}
	t.Server = server
	return nil
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
// directory (needs a go toolchain). The error says how to fix it.
func FindSessiond(ctx context.Context, log io.Writer) (string, error) {
	if p := os.Getenv(SessiondEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", SessiondEnv, p, err)
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
		return "", errors.New("sessiond binary not found (looked next to loadgen and in ./bin); build it with `make build` " +
			"(or go build -o bin/sessiond ./reference/cmd/sessiond), or point --target at a running server")
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

// redactURL hides a password in a redis URL for messages.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "***" + u[at:]
		}
	}
	return u
}

// process is a started sessiond.
type process struct {
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func (t *Target) startSessiond(ctx context.Context, cfg Config) error {
	bin := cfg.Sessiond
	if bin == "" {
		var err error
		if bin, err = FindSessiond(ctx, cfg.Log); err != nil {
			return err
		}
	}
	if cfg.Dir == "" {
		return errors.New("target: Config.Dir is required to start sessiond (its log goes there)")
	}
	readyFile := filepath.Join(cfg.Dir, ".sessiond.ready")
	_ = os.Remove(readyFile)
	args := []string{"serve", "--listen", "127.0.0.1:0", "--ready-file", readyFile,
		"--redis-url", t.redisURL, "--shutdown-delay", "0s"}
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
