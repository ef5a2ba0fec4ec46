package redisenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/proc"
)

// RedisServerHowTo is how to get redis-server.
const RedisServerHowTo = "apt-get install -y redis-server (or brew install redis)"

// DefaultStartTimeout bounds how long a started redis-server may take to
// answer PING.
const DefaultStartTimeout = 15 * time.Second

// ServerOptions configure one redis-server process.
type ServerOptions struct {
	// Args are appended to the command line (after --port, --bind,
	// --dir, --daemonize no and the no-persistence defaults, which they
	// may override), e.g. "--maxmemory", "10mb".
	Args []string
	// Dir is the working directory (RDB/AOF files, cluster config, the
	// log); it is created if needed. Required.
	Dir string
	// TLS, when set, makes the server TLS-only on its port.
	TLS *tlsFiles
	// Bus also reserves port+10000 (the cluster bus).
	Bus bool
	// StartTimeout: default DefaultStartTimeout.
	StartTimeout time.Duration
}

// Server is a redis-server process started by StartServer.
type Server struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Dir is its working directory (its log is Dir/redis.log).
	Dir string

	cmd      *exec.Cmd
	done     chan struct{}
	tlsConf  *tls.Config
	stopOnce sync.Once
}

// PID is the process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Client returns a new client of this one server (TLS when it serves
// TLS); the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.tlsConf, MaxRetries: -1, ContextTimeoutEnabled: true})
}

// Stop kills the process and waits for it; it is safe to call twice.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// FindRedisServer returns the redis-server in PATH, or an error wrapping
// ErrUnavailable (and exec.ErrNotFound) with the fix.
func FindRedisServer() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server %w (%w): install it with %s", ErrUnavailable, err, RedisServerHowTo)
	}
	return bin, nil
}

// StartServer runs redis-server on a free loopback port (never 6379)
// with persistence off unless Args turn it on, and waits until it
// answers PING. A port taken between choosing and binding is retried
// with another port.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	bin, err := FindRedisServer()
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("redisenv: ServerOptions.Dir is required")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("redis dir: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort(o.Bus)
		if err != nil {
			return nil, err
		}
		s, err := startServerOn(ctx, bin, port, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

func startServerOn(ctx context.Context, bin string, port int, o ServerOptions) (*Server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"--bind", "127.0.0.1", "--dir", o.Dir, "--daemonize", "no", "--logfile", ""}
	if o.TLS != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", o.TLS.Cert, "--tls-key-file", o.TLS.Key, "--tls-ca-cert-file", o.TLS.CA,
			"--tls-auth-clients", "no", "--tls-replication", "yes", "--tls-cluster", "yes")
	} else {
		args = append(args, "--port", strconv.Itoa(port))
	}
	args = append(append(args, baseArgs()...), o.Args...)
	logPath := filepath.Join(o.Dir, "redis.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("redis log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = proc.ChildAttr() // dies with us, even on SIGKILL
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{Addr: addr, Dir: o.Dir, cmd: cmd, done: make(chan struct{})}
	if o.TLS != nil {
		s.tlsConf = o.TLS.clientConfig("127.0.0.1")
	}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	c := s.Client()
	defer c.Close()
	deadline := time.Now().Add(o.StartTimeout)
	for {
		select {
		case <-s.done:
			log, _ := os.ReadFile(logPath)
			tail := proc.Tail(string(log), 800)
			if strings.Contains(tail, "Address already in use") {
				return nil, fmt.Errorf("redis-server on %s: %w: %s", addr, errPortTaken, tail)
			}
			return nil, fmt.Errorf("redis-server on %s exited early: %s", addr, tail)
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil || isAuthError(err) { // a password-protected server answers too
			return s, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within %v: %w", addr, o.StartTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port (never 6379, the
// port of any Redis the user runs). With bus it also checks port+10000,
// the cluster bus port.
func freePort(bus bool) (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("listen on a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port == 6379 || (bus && port+10000 > 65535) {
			continue
		}
		if bus {
			bl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
			if err != nil {
				continue
			}
			_ = bl.Close()
		}
		return port, nil
	}
	return 0, errors.New("no free loopback port found")
}

// signalAlive reports whether pid is still running (for tests of Close).
func signalAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
