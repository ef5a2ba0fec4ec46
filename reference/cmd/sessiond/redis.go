package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/reference/session"
)

// newRedis builds the Redis client from the flags: a single client from
// --redis-url, or a cluster client when --redis-cluster is set. Every
// client respects context deadlines (ContextTimeoutEnabled), which is what
// turns a slow Redis into a 503 within --request-timeout. dials, if not
// nil, records every node's failed connection attempts (see dialWatch).
func newRedis(c *redisConfig, dials *dialWatch) (redis.UniversalClient, error) {
	password, hasPassword := "", false
	if c.PasswordFile != "" {
		p, err := readSecretFile("redis-password-file", c.PasswordFile)
		if err != nil {
			return nil, err
		}
		password, hasPassword = p, true
	}
	var roots *x509.CertPool
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--redis-ca-file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--redis-ca-file %s: no PEM certificate found", c.CAFile)
		}
	}
	// common applies what single and cluster clients share; go-redis has
	// one options type for each, hence the pointers.
	common := func(tlsCfg *tls.Config, pw *string, ctxTimeout *bool, poolSize *int) error {
		if roots != nil {
			if tlsCfg == nil {
				return fmt.Errorf("--redis-ca-file needs a rediss:// --redis-url (TLS); got %s", redactURL(c.URL))
			}
			tlsCfg.RootCAs = roots
		}
		if hasPassword {
			*pw = password
		}
		*ctxTimeout = true
		if c.PoolSize > 0 {
			*poolSize = c.PoolSize
		}
		return nil
	}

	if c.Cluster == "" {
		opt, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("--redis-url %s: %w (use redis://[user:password@]host:port/db or rediss://...)", redactURL(c.URL), err)
		}
		if err := common(opt.TLSConfig, &opt.Password, &opt.ContextTimeoutEnabled, &opt.PoolSize); err != nil {
			return nil, err
		}
		rdb := redis.NewClient(opt)
		if dials != nil {
			rdb.AddHook(dials)
		}
		return rdb, nil
	}

	opt, err := redis.ParseClusterURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url %s: %w (use redis://[user:password@]host:port)", redactURL(c.URL), err)
	}
	if c.Cluster != "url" {
		opt.Addrs = nil
		for _, a := range strings.Split(c.Cluster, ",") {
			if a = strings.TrimSpace(a); a != "" {
				if !strings.Contains(a, ":") {
					return nil, fmt.Errorf("--redis-cluster seed %q is not host:port", a)
				}
				opt.Addrs = append(opt.Addrs, a)
			}
		}
		if len(opt.Addrs) == 0 {
			return nil, fmt.Errorf("--redis-cluster %q names no seed address; use host:port,host:port or \"url\"", c.Cluster)
		}
	}
	if err := common(opt.TLSConfig, &opt.Password, &opt.ContextTimeoutEnabled, &opt.PoolSize); err != nil {
		return nil, err
	}
	if dials != nil {
		// Cluster nodes are clients of their own; the hook goes on each.
		opt.NewClient = func(o *redis.Options) *redis.Client {
			nc := redis.NewClient(o)
			nc.AddHook(dials)
			return nc
		}
	}
	return redis.NewClusterClient(opt), nil
}

// dialWatch remembers the last failed connection attempt to Redis, so
// an error that says only "context deadline exceeded" (go-redis retries
// a refused dial until the request's deadline) can name the cause:
// connection refused, no such host, a TLS failure. A successful dial
// clears it. It is a go-redis hook.
type dialWatch struct {
	last atomic.Pointer[dialFailure]
}

type dialFailure struct {
	addr string
	err  error
}

// DialHook implements redis.Hook.
func (w *dialWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		switch {
		case err == nil:
			w.last.Store(nil)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// The deadline is not a cause; keep the one before it.
		default:
			w.last.Store(&dialFailure{addr: addr, err: err})
		}
		return conn, err
	}
}

// ProcessHook implements redis.Hook.
func (w *dialWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook implements redis.Hook.
func (w *dialWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// explain adds the last dial failure to err when err does not already
// name it. A nil watch or a nil err change nothing.
func (w *dialWatch) explain(err error) error {
	if w == nil || err == nil {
		return err
	}
	f := w.last.Load()
	if f == nil || strings.Contains(err.Error(), f.err.Error()) {
		return err
	}
	return fmt.Errorf("%w (cause: connecting to %s failed: %v)", err, f.addr, f.err)
}

// redisTarget describes the Redis a command uses, for logs and errors:
// the cluster seeds when --redis-cluster names them (--redis-url then
// only lends its scheme and credentials, and its host is not used),
// else the URL without its password.
func redisTarget(c *redisConfig) string {
	switch c.Cluster {
	case "":
		return redactURL(c.URL)
	case "url":
		return "cluster " + redactURL(c.URL)
	}
	seeds := strings.Join(strings.Fields(strings.ReplaceAll(c.Cluster, ",", " ")), ",")
	if strings.HasPrefix(c.URL, "rediss://") {
		return "cluster seeds " + seeds + " (TLS)"
	}
	return "cluster seeds " + seeds
}

// redisLogEvery is how often go-redis's own log lines (failed dials,
// pool trouble) may repeat: during an outage it writes one per attempt.
const redisLogEvery = 10 * time.Second

// redisLogger routes go-redis's internal log lines through slog as
// warnings, at most one per redisLogEvery, with the count held back.
type redisLogger struct {
	log        *slog.Logger
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// Printf implements go-redis's internal logging interface.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.Before(l.next) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.next = now.Add(redisLogEvery)
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.log.WarnContext(ctx, "redis client: "+msg, "suppressed", n)
}

// routeRedisLog sends go-redis's log lines to log. go-redis has one
// logger per process (redis.SetLogger); each sessiond command sets it
// once, before it makes a client.
func routeRedisLog(log *slog.Logger) {
	redis.SetLogger(&redisLogger{log: log})
}

// newStore builds the session store on rdb from the flags and the sealing
// keys (SESSIOND_SEALING_KEYS or --sealing-keys-file, never both).
// It returns the sealer too (nil without keys), so serve can say what
// the keys protect.
func newStore(c *redisConfig, rdb redis.UniversalClient, getenv func(string) string) (*session.Store, *session.Sealer, error) {
	env := getenv(sealingKeysEnv)
	if strings.TrimSpace(env) != "" && c.SealingKeysFile != "" {
		// One would silently win: a leftover variable would make the
		// file's rotation steps do nothing, or split the instances.
		return nil, nil, fmt.Errorf("sealing keys: both %s and --sealing-keys-file are set; keep one (a key set in two places drifts apart during a rotation)", sealingKeysEnv)
	}
	sealer, err := session.LoadSealerKeys(env, c.SealingKeysFile)
	if err != nil {
		return nil, nil, fmt.Errorf("sealing keys (%s or --sealing-keys-file): %w", sealingKeysEnv, err)
	}
	st, err := session.New(rdb, session.Config{
		IdleTimeout:        c.IdleTimeout,
		AbsoluteTimeout:    c.AbsoluteTimeout,
		TouchThreshold:     c.TouchThreshold,
		MaxSessionsPerUser: c.MaxSessions,
		MaxDataBytes:       c.MaxDataBytes,
		KeyPrefix:          c.KeyPrefix,
		Sealer:             sealer,
		WriteFormat:        c.WriteFormat,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("session store: %w", err)
	}
	return st, sealer, nil
}

// redisConfigError returns why err means the Redis settings are wrong
// (a missing or wrong password, a user without the rights sessiond
// needs), or "" for any other error. Such errors do not heal by
// retrying, so a command that meets one at start exits 2 instead of
// serving 503 forever.
func redisConfigError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	switch {
	case redis.IsAuthError(err) && strings.Contains(msg, "NOAUTH"):
		return "Redis requires a password and none was given; put it in --redis-password-file (or redis://:PASSWORD@host/db): " + msg
	case redis.IsAuthError(err):
		return "Redis refused the password (or user); check --redis-password-file or the password in --redis-url: " + msg
	case strings.Contains(msg, "without any password configured"),
		strings.Contains(msg, "Client sent AUTH, but no password is set"):
		return "a password was given but this Redis has none; drop it from --redis-url / --redis-password-file, or set one on the server: " + msg
	case strings.Contains(msg, "ERR invalid password"):
		return "Redis refused the password; check --redis-password-file or the password in --redis-url: " + msg
	case strings.Contains(msg, "NOPERM"):
		return "the Redis user lacks a permission sessiond needs (EVALSHA, keys under --key-prefix, INFO): " + msg
	}
	return ""
}

// redactURL hides a password in a Redis URL for messages and logs.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return u
	}
	user := rest[:at]
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user = user[:i] + ":xxxxx"
	} else {
		user = "xxxxx"
	}
	return scheme + "://" + user + rest[at:]
}
