package redisenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RunKeyPrefixBase starts every run-specific key prefix in URL mode:
// "sb:run-<8 hex>:". Session keys then read sb:run-1a2b3c4d:s:…, so a
// shared Redis shows plainly which keys a load run wrote.
const RunKeyPrefixBase = "sb:run-"

// cleanupTimeout bounds removing a run's keys at Close.
const cleanupTimeout = 2 * time.Minute

// urlProvider connects to a Redis someone else runs (Memorystore Basic,
// Standard or Cluster, or any redis:// URL). It starts nothing, and the
// run writes only under a run-specific key prefix, removed at Close.
type urlProvider struct{}

func isURL(s string) bool {
	return strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://")
}

func (urlProvider) Start(ctx context.Context, s Spec) (Env, error) {
	raw := s.Mode
	var password string
	hasPassword := false
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, configErrorf("--redis-password-file: %v", err)
		}
		password, hasPassword = strings.TrimRight(string(b), "\r\n"), true
	}
	var roots *x509.CertPool
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, configErrorf("--redis-ca-file: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, configErrorf("--redis-ca-file %s: no PEM certificate in it", s.CAFile)
		}
	}
	applyTLS := func(c *tls.Config) error {
		if roots == nil {
			return nil
		}
		if c == nil {
			return configErrorf("--redis-ca-file needs a rediss:// URL (TLS); got %s", RedactURL(raw))
		}
		c.RootCAs = roots
		return nil
	}
	prefix := ""
	if !s.Observe {
		var err error
		if prefix, err = runPrefix(); err != nil {
			return nil, err
		}
	}
	e := &env{
		facts:  Facts{Mode: ModeURL, KeyPrefix: prefix},
		conn:   Conn{URL: raw, CAFile: s.CAFile, PasswordFile: s.PasswordFile, ClusterSeeds: s.ClusterSeeds},
		prefix: prefix,
	}
	var dials dialErrors
	if s.Cluster || len(s.ClusterSeeds) > 0 {
		opt, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, configErrorf("--redis %s: %v (use redis://[user:password@]host:port)", RedactURL(raw), err)
		}
		if len(s.ClusterSeeds) > 0 {
			opt.Addrs = s.ClusterSeeds
		}
		if hasPassword {
			opt.Password = password
		}
		if err := applyTLS(opt.TLSConfig); err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		opt.Dialer = dials.dialer(opt.DialTimeout, opt.TLSConfig)
		cc := redis.NewClusterClient(opt)
		e.client = cc
		e.onClose(cc.Close)
		e.facts.Cluster, e.facts.Addr = true, RedactURL(opt.Addrs[0])
	} else {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, configErrorf("--redis %s: %v (use redis://[user:password@]host:port/db or rediss://…)", RedactURL(raw), err)
		}
		if hasPassword {
			opt.Password = password
		}
		if err := applyTLS(opt.TLSConfig); err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		opt.Dialer = dials.dialer(opt.DialTimeout, opt.TLSConfig)
		c := redis.NewClient(opt)
		e.client = c
		e.nodes = []*redis.Client{c}
		e.onClose(c.Close)
		e.facts.Addr = opt.Addr
		e.facts.TLS = opt.TLSConfig != nil
	}
	u := &urlEnv{env: e, keep: s.KeepKeys || s.Observe}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.client.Ping(pctx).Err(); err != nil {
		_ = e.Close()
		if cerr := pingConfigError(err, e.facts.Addr, raw, s.Cluster || len(s.ClusterSeeds) > 0); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("redis at %s does not answer PING: %w", e.facts.Addr, dials.cause(err))
	}
	if e.facts.Cluster {
		e.facts.Primaries = u.primaryAddrs(pctx)
	}
	first, err := u.firstPrimary(pctx)
	if err == nil {
		err = describe(pctx, first, &e.facts)
	}
	if err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("redis at %s: %w", e.facts.Addr, err)
	}
	// Closers run in reverse: the key cleanup needs the client, so it is
	// registered last and runs first.
	e.onClose(u.removeKeys)
	return u, nil
}

// urlEnv is a Redis reached by URL: INFO on every primary of a cluster,
// and the run's keys removed at Close.
type urlEnv struct {
	*env
	keep bool
}

func (u *urlEnv) Info(ctx context.Context, section string) ([]map[string]string, error) {
	cc, ok := u.client.(*redis.ClusterClient)
	if !ok {
		return u.env.Info(ctx, section)
	}
	var mu sync.Mutex
	var out []map[string]string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		m, err := infoOn(ctx, c, section)
		if err != nil {
			return fmt.Errorf("INFO %s on %s: %w", section, c.Options().Addr, err)
		}
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
		return nil
	})
	return out, err
}

func (u *urlEnv) primaryAddrs(ctx context.Context) []string {
	cc, ok := u.client.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	var mu sync.Mutex
	var addrs []string
	_ = cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		addrs = append(addrs, c.Options().Addr)
		mu.Unlock()
		return nil
	})
	return addrs
}

// firstPrimary is a client of one primary, for INFO-based facts.
func (u *urlEnv) firstPrimary(ctx context.Context) (redis.Cmdable, error) {
	cc, ok := u.client.(*redis.ClusterClient)
	if !ok {
		return u.client, nil
	}
	var first *redis.Client
	var mu sync.Mutex
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		if first == nil {
			first = c
		}
		mu.Unlock()
		return nil
	})
	if first == nil && err == nil {
		err = errors.New("cluster reports no primary")
	}
	return first, err
}

// removeKeys deletes every key under the run's prefix (SCAN MATCH, then
// UNLINK in batches, on every primary), unless they are to be kept. It
// never touches a key outside the prefix.
func (u *urlEnv) removeKeys() error {
	if u.keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := DeletePrefix(ctx, u.client, u.prefix)
	if err != nil {
		return fmt.Errorf("remove the run's keys under %s: %w (they expire with their sessions)", u.prefix, err)
	}
	return nil
}

// DeletePrefix removes every key that starts with prefix, on every
// primary of a cluster, and returns how many it removed. prefix must be
// non-empty and free of glob characters.
func DeletePrefix(ctx context.Context, c redis.UniversalClient, prefix string) (int64, error) {
	if prefix == "" || strings.ContainsAny(prefix, "*?[]\\") {
		return 0, fmt.Errorf("redisenv: refusing to delete by prefix %q", prefix)
	}
	var mu sync.Mutex
	var total int64
	err := forEachKeys(ctx, c, prefix+"*", func(ctx context.Context, n redis.Cmdable, keys []string) (bool, error) {
		for _, k := range keys { // SCAN's MATCH is the filter; check it anyway
			if !strings.HasPrefix(k, prefix) {
				return false, fmt.Errorf("SCAN MATCH %s* returned %q", prefix, k)
			}
		}
		// One key per UNLINK: keys of a batch may live in different
		// cluster slots.
		pipe := n.Pipeline()
		for _, k := range keys {
			pipe.Unlink(ctx, k)
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			return false, err
		}
		mu.Lock()
		for _, cmd := range cmds {
			total += cmd.(*redis.IntCmd).Val()
		}
		mu.Unlock()
		return true, nil
	})
	return total, err
}

// ScanKeys returns up to limit keys matching pattern (SCAN, never KEYS),
// from every primary of a cluster.
func ScanKeys(ctx context.Context, c redis.UniversalClient, pattern string, limit int) ([]string, error) {
	var mu sync.Mutex
	var out []string
	err := forEachKeys(ctx, c, pattern, func(_ context.Context, _ redis.Cmdable, keys []string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, keys...)
		return len(out) < limit, nil
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// forEachKeys SCANs pattern on every primary and hands fn each non-empty
// batch, on the node it came from; fn returns false to stop that node.
func forEachKeys(ctx context.Context, c redis.UniversalClient, pattern string, fn func(context.Context, redis.Cmdable, []string) (bool, error)) error {
	one := func(ctx context.Context, n redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := n.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				more, err := fn(ctx, n, keys)
				if err != nil || !more {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return one(ctx, n) })
	}
	return one(ctx, c)
}

// runPrefix is a fresh run-specific key prefix.
func runPrefix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("run key prefix: %w", err)
	}
	return RunKeyPrefixBase + hex.EncodeToString(b[:]) + ":", nil
}

// pingConfigError returns the configuration error a failed first PING
// means, or nil when it means an outage: Redis answered, and what it
// said is about the settings (password, database number, cluster mode).
func pingConfigError(err error, addr, raw string, cluster bool) error {
	msg := err.Error()
	switch {
	case isAuthError(err):
		return configErrorf("redis at %s refused the password: %v; check the URL's password or --redis-password-file", addr, err)
	case strings.Contains(msg, "DB index is out of range"):
		return configErrorf("--redis %s: Redis has no such database (%v); use a database number below its `databases` setting (16 by default: /0 to /15), or leave it out for /0", RedactURL(raw), err)
	case cluster && strings.Contains(msg, "cluster support disabled"):
		return configErrorf("--redis-cluster: %s is not a Redis Cluster (%v); drop --redis-cluster for a single Redis or a primary with replicas", addr, err)
	}
	return nil
}

// isAuthError reports a refused password (WRONGPASS, NOAUTH, …).
func isAuthError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "WRONGPASS") || strings.Contains(s, "NOAUTH") || strings.Contains(s, "invalid password") ||
		strings.Contains(s, "invalid username-password")
}

// RedactURL hides the password of a Redis URL for messages.
func RedactURL(u string) string {
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

// dialErrors remembers the first dial error of a client, so that a
// command that ran out of time while go-redis retried the dial reports
// why ("connection refused"), not only "context deadline exceeded".
type dialErrors struct {
	mu    sync.Mutex
	first error
}

func (d *dialErrors) dialer(timeout time.Duration, tlsConf *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	nd := &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if tlsConf != nil {
			c, err = (&tls.Dialer{NetDialer: nd, Config: tlsConf}).DialContext(ctx, network, addr)
		} else {
			c, err = nd.DialContext(ctx, network, addr)
		}
		if err != nil && ctx.Err() == nil {
			d.mu.Lock()
			if d.first == nil {
				d.first = err
			}
			d.mu.Unlock()
		}
		return c, err
	}
}

// cause puts the first dial error in front of err when err is only a
// deadline.
func (d *dialErrors) cause(err error) error {
	d.mu.Lock()
	first := d.first
	d.mu.Unlock()
	if first != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%v (then: %w)", first, err)
	}
	return err
}
