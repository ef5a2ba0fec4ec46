package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/reference/session"
)

// newRedis builds the Redis client from the flags: a single client from
// --redis-url, or a cluster client when --redis-cluster is set. Every
// client respects context deadlines (ContextTimeoutEnabled), which is what
// turns a slow Redis into a 503 within --request-timeout.
func newRedis(c *redisConfig) (redis.UniversalClient, error) {
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
		return redis.NewClient(opt), nil
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
	return redis.NewClusterClient(opt), nil
}

// newStore builds the session store on rdb from the flags and the sealing
// keys (SESSIOND_SEALING_KEYS wins over --sealing-keys-file).
func newStore(c *redisConfig, rdb redis.UniversalClient, getenv func(string) string, log *slog.Logger) (*session.Store, error) {
	sealer, err := session.LoadSealerKeys(getenv(sealingKeysEnv), c.SealingKeysFile)
	if err != nil {
		return nil, fmt.Errorf("sealing keys (%s or --sealing-keys-file): %w", sealingKeysEnv, err)
	}
	if sealer != nil {
		log.Info("sealing keys loaded", "primary_kid", sealer.PrimaryKID())
	}
	st, err := session.New(rdb, session.Config{
		IdleTimeout:        c.IdleTimeout,
		AbsoluteTimeout:    c.AbsoluteTimeout,
		TouchThreshold:     c.TouchThreshold,
		MaxSessionsPerUser: c.MaxSessions,
		MaxDataBytes:       c.MaxDataBytes,
		KeyPrefix:          c.KeyPrefix,
		Sealer:             sealer,
	})
	if err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	return st, nil
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
