package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/httpapi"
	"github.com/sessionbench/sessionbench/reference/session"
)

// envPrefix prefixes the environment equivalent of every flag:
// --redis-url <-> SESSIOND_REDIS_URL. A flag given on the command line
// wins over the environment.
const envPrefix = "SESSIOND_"

// sealingKeysEnv holds the sealing key set itself (not a file name), so
// that secrets never appear on a command line.
const sealingKeysEnv = "SESSIOND_SEALING_KEYS"

// redisConfig is what both `serve` and `gc` need to reach Redis and build
// the store.
type redisConfig struct {
	URL             string
	CAFile          string
	PasswordFile    string
	Cluster         string
	PoolSize        int
	RequestTimeout  time.Duration
	KeyPrefix       string
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	TouchThreshold  time.Duration
	MaxSessions     int
	MaxDataBytes    int
	SealingKeysFile string
	WriteFormat     int
	LogLevel        string
}

// authConfig is how to verify tokens and reach the Firebase Admin API
// (serve, and revoke --all-disabled).
type authConfig struct {
	Auth              string
	FirebaseProject   string
	AuthPublicKey     string
	FirebaseCredsFile string
}

// serveConfig is the configuration of `sessiond serve`.
type serveConfig struct {
	redisConfig
	authConfig
	telemetryConfig
	Listen             string
	ReadyFile          string
	InternalListen     string
	InternalTokenFile  string
	InternalClientCA   string
	AllowEvictingRedis bool
	CORSOrigins        stringList
	PublicOrigin       string
	DevInsecureCookie  bool
	RecheckUser        time.Duration
	CheckRevoked       bool
	RecentAuth         time.Duration
	VerifyTimeout      time.Duration
	CookieName         string
	CookieSameSite     string
	BindUserAgent      string
	OmitEmail          bool
	TrustProxy         bool
	TrustedOrigins     stringList
	MaxBodyBytes       int64
	AccessLog          bool
	TLSCert            string
	TLSKey             string
	ShutdownDelay      time.Duration
	ShutdownTimeout    time.Duration
	ReadHeaderTimeout  time.Duration
	ReadTimeout        time.Duration
	WriteTimeout       time.Duration
	HTTPIdleTimeout    time.Duration
	MaxHeaderBytes     int
}

// gcConfig is the configuration of `sessiond gc`.
type gcConfig struct {
	redisConfig
	Interval time.Duration
}

// revokeConfig is the configuration of `sessiond revoke`.
type revokeConfig struct {
	redisConfig
	authConfig
	UIDs        stringList
	AllDisabled bool
}

// stringList is a repeatable flag; each value may also hold a
// comma-separated list (the form the environment variable uses).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// clusterFlag is --redis-cluster: a boolean flag ("--redis-cluster" alone,
// or =true, means "url": seed from --redis-url) that also takes a seed
// list ("--redis-cluster=a:7000,b:7000"). Stored as "", "url" or the list.
type clusterFlag string

func (f *clusterFlag) String() string { return string(*f) }

func (f *clusterFlag) Set(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "url":
		*f = "url"
	case "false", "":
		*f = ""
	default:
		*f = clusterFlag(v)
	}
	return nil
}

// IsBoolFlag lets --redis-cluster stand alone on the command line.
func (f *clusterFlag) IsBoolFlag() bool { return true }

func registerRedisFlags(fs *flag.FlagSet, c *redisConfig) {
	fs.StringVar(&c.URL, "redis-url", "redis://127.0.0.1:6379/0", "Redis `URL`: redis://[user:password@]host:port/db, or rediss:// for TLS")
	fs.StringVar(&c.CAFile, "redis-ca-file", "", "PEM `file` of CA certificates to trust for rediss:// (default: system roots)")
	fs.StringVar(&c.PasswordFile, "redis-password-file", "", "`file` holding the Redis password (e.g. a Secret Manager mount); overrides a password in --redis-url")
	fs.Var((*clusterFlag)(&c.Cluster), "redis-cluster", "Redis Cluster: --redis-cluster alone uses the --redis-url host (and its ?addr= params) as seeds; --redis-cluster=host:port,host:port names the seeds. Unset: a single Redis")
	fs.IntVar(&c.PoolSize, "redis-pool-size", 0, "Redis connection pool size per node (default 0: go-redis's 10 x GOMAXPROCS)")
	durationVar(fs, &c.RequestTimeout, "request-timeout", httpapi.DefaultRequestTimeout, "deadline of each Redis call; a slower Redis yields HTTP 503")
	fs.StringVar(&c.KeyPrefix, "key-prefix", "sb:", "prefix of every Redis key")
	durationVar(fs, &c.IdleTimeout, "idle-timeout", 30*time.Minute, "sliding inactivity timeout of a session")
	durationVar(fs, &c.AbsoluteTimeout, "absolute-timeout", 24*time.Hour, "maximum session lifetime from creation")
	durationVar(fs, &c.TouchThreshold, "touch-threshold", 0, "validate writes a new expiry only when the idle window shrank by more than this (default 0: idle-timeout/10)")
	fs.IntVar(&c.MaxSessions, "max-sessions-per-user", 10, "live sessions per user; the oldest are evicted (negative: no cap)")
	fs.IntVar(&c.MaxDataBytes, "max-data-bytes", 4096, "maximum size of a session's custom JSON data")
	fs.StringVar(&c.SealingKeysFile, "sealing-keys-file", "", "`file` of sealing keys, lines \"kid:base64key\" (32 bytes), first is primary; or put the keys themselves in "+sealingKeysEnv+" (not both)")
	fs.IntVar(&c.WriteFormat, "write-record-format", session.DefaultWriteFormat, "record `format` new sessions are written in: 2, or 1 while a sessiond older than format 2 still serves the same Redis (rolling upgrade; see the README). Both are always read")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func registerAuthFlags(fs *flag.FlagSet, c *authConfig) {
	fs.StringVar(&c.Auth, "auth", auth.ModeFirebase, "token verifier: firebase (production), emulator (Firebase Auth emulator, development) or local (RS256 key, benchmarks)")
	fs.StringVar(&c.FirebaseProject, "firebase-project", "", "Firebase project `ID` (default: from FIREBASE_CONFIG, GOOGLE_CLOUD_PROJECT or GCLOUD_PROJECT)")
	fs.StringVar(&c.AuthPublicKey, "auth-public-key", "", "PEM `file` of the RSA public key(s) for --auth=local")
	fs.StringVar(&c.FirebaseCredsFile, "firebase-credentials-file", "", "service-account JSON `file` for the Admin API (--check-revoked, --recheck-user, revoke --all-disabled; default: Application Default Credentials)")
}

func registerServeFlags(fs *flag.FlagSet, c *serveConfig) {
	registerRedisFlags(fs, &c.redisConfig)
	registerAuthFlags(fs, &c.authConfig)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "listen `address` (port 0 picks a free port; see --ready-file)")
	fs.StringVar(&c.ReadyFile, "ready-file", "", "once listening, atomically write the bound address (host:port) to this `file`")
	fs.StringVar(&c.InternalListen, "internal-listen", "", "serve the internal API (sealed fields: PUT/GET "+httpapi.InternalSealedPath+") on this loopback or private `address`, for backends only; needs --internal-token-file and/or --internal-client-ca-file. Default: off")
	fs.StringVar(&c.InternalTokenFile, "internal-token-file", "", "`file` holding the bearer secret (at least 32 bytes) every internal API request must carry: Authorization: Bearer <secret>")
	fs.StringVar(&c.InternalClientCA, "internal-client-ca-file", "", "PEM `file` of the CA that signs backends' client certificates: the internal listener then requires mTLS (needs --tls-cert/--tls-key)")
	fs.BoolVar(&c.AllowEvictingRedis, "allow-evicting-redis", false, "run on a Redis whose maxmemory-policy evicts keys (logout everywhere then answers 503 once Redis has evicted keys); default: refuse to start, fail readiness")
	fs.Var(&c.CORSOrigins, "cors-origin", "`origin` (https://app.example.com) whose pages may call the API from the browser with credentials (CORS); repeatable. Another site needs --cookie-samesite none")
	fs.StringVar(&c.PublicOrigin, "public-origin", "", "the `origin` browsers use for this API (https://api.example.com); needed with --cors-origin and --cookie-samesite lax or strict, to check the origins are the same site")
	fs.BoolVar(&c.DevInsecureCookie, "dev-insecure-cookie", false, "DEVELOPMENT ONLY: plain-http cookie without Secure and without the __Host- prefix; only with a loopback --listen")
	durationVar(fs, &c.RecheckUser, "recheck-user", 0, "ask Firebase at most every `interval` per user whether a live session's user was disabled, deleted or revoked, and end such sessions (one Admin API call per active user per interval per instance; fails closed); 0: never")
	fs.BoolVar(&c.CheckRevoked, "check-revoked", false, "on create, also check that the user's tokens were not revoked (a Firebase round trip)")
	durationVar(fs, &c.RecentAuth, "recent-auth", httpapi.DefaultRecentAuth, "create needs a token whose auth_time is at most this old")
	durationVar(fs, &c.VerifyTimeout, "verify-timeout", httpapi.DefaultVerifyTimeout, "deadline of a token verification")
	fs.StringVar(&c.CookieName, "cookie-name", httpapi.DefaultCookieName, "session cookie name (a __Host- name forces Secure, Path=/, no Domain)")
	fs.StringVar(&c.CookieSameSite, "cookie-samesite", "lax", "cookie SameSite: lax, strict or none")
	fs.StringVar(&c.BindUserAgent, "bind-user-agent", httpapi.BindDetect, "user-agent binding: off, detect (log and count) or enforce (destroy the session, 401)")
	fs.BoolVar(&c.OmitEmail, "omit-email", false, "keep users' emails out of new sessions (personal data; about 26 bytes of Redis per session with a 20-byte email): the API then answers \"email\": \"\", as for a user without one")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", false, "take the client IP from the right-most X-Forwarded-For entry (only behind one trusted proxy)")
	fs.Var(&c.TrustedOrigins, "trusted-origin", "`origin` (https://app.example.com) allowed to make cross-origin state-changing requests; repeatable")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", httpapi.DefaultMaxBodyBytes, "maximum create request body; larger gets 413")
	fs.BoolVar(&c.AccessLog, "access-log", false, "log one line per request")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file`: serve HTTPS (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	durationVar(fs, &c.ShutdownDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, answer /readyz 503 this long before closing the listener (lets load balancers notice)")
	durationVar(fs, &c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests may take to drain on shutdown")
	durationVar(fs, &c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "http.Server ReadHeaderTimeout")
	durationVar(fs, &c.ReadTimeout, "read-timeout", 10*time.Second, "http.Server ReadTimeout")
	durationVar(fs, &c.WriteTimeout, "write-timeout", 15*time.Second, "http.Server WriteTimeout")
	durationVar(fs, &c.HTTPIdleTimeout, "http-idle-timeout", 120*time.Second, "http.Server IdleTimeout (keep-alive)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 16<<10, "http.Server MaxHeaderBytes")
	registerTelemetryFlags(fs, &c.telemetryConfig)
}

// envName is the environment variable of a flag: SESSIOND_ + upper case,
// dashes to underscores.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its SESSIOND_* variable. Errors name the flag (and variable).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; all settings are flags (see -h)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q in %s for flag --%s: %w", v, name, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// check validates the Redis and store settings.
func (c *redisConfig) check() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("--redis-url is empty; use e.g. redis://127.0.0.1:6379/0"))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout %s must be positive, e.g. 500ms", c.RequestTimeout))
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("--redis-pool-size %d must be >= 0 (0 = go-redis default)", c.PoolSize))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--idle-timeout %s must be positive, e.g. 30m", c.IdleTimeout))
	}
	if c.AbsoluteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--absolute-timeout %s must be positive, e.g. 24h", c.AbsoluteTimeout))
	}
	if c.AbsoluteTimeout > 0 && c.IdleTimeout > c.AbsoluteTimeout {
		errs = append(errs, fmt.Errorf("--idle-timeout %s exceeds --absolute-timeout %s; lower the idle timeout", c.IdleTimeout, c.AbsoluteTimeout))
	}
	if c.TouchThreshold < 0 || (c.IdleTimeout > 0 && c.TouchThreshold >= c.IdleTimeout) {
		errs = append(errs, fmt.Errorf("--touch-threshold %s must be >= 0 and below --idle-timeout %s", c.TouchThreshold, c.IdleTimeout))
	}
	if c.MaxDataBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-data-bytes %d must be positive, e.g. 4096", c.MaxDataBytes))
	}
	if c.MaxSessions == 0 {
		errs = append(errs, errors.New("--max-sessions-per-user 0 would refuse every session; use a positive cap or -1 for none"))
	}
	if c.WriteFormat != 1 && c.WriteFormat != 2 {
		errs = append(errs, fmt.Errorf("--write-record-format %d must be 1 (while an older sessiond runs on the same Redis) or 2 (default)", c.WriteFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// check validates the auth settings.
func (c *authConfig) check() error {
	switch c.Auth {
	case auth.ModeFirebase, auth.ModeEmulator:
	case auth.ModeLocal:
		if c.AuthPublicKey == "" {
			return errors.New("--auth=local needs --auth-public-key FILE (PEM RSA public key matching the token signer)")
		}
	default:
		return fmt.Errorf("--auth %q is not one of firebase, emulator, local", c.Auth)
	}
	return nil
}

// check validates the serve settings.
func (c *serveConfig) check() error {
	errs := []error{c.redisConfig.check(), c.authConfig.check(), c.telemetryConfig.check()}
	if c.RecheckUser < 0 {
		errs = append(errs, fmt.Errorf("--recheck-user %s must be >= 0 (0: never)", c.RecheckUser))
	}
	if c.RecheckUser > 0 && c.Auth == auth.ModeLocal {
		errs = append(errs, errors.New("--recheck-user needs the Firebase Admin API: use --auth=firebase (with credentials) or --auth=emulator, not --auth=local"))
	}
	if c.DevInsecureCookie {
		if err := checkLoopbackListen(c.Listen); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := httpapi.ParseSameSite(c.CookieSameSite); err != nil {
		errs = append(errs, fmt.Errorf("--cookie-samesite: %w", err))
	}
	switch c.BindUserAgent {
	case httpapi.BindOff, httpapi.BindDetect, httpapi.BindEnforce:
	default:
		errs = append(errs, fmt.Errorf("--bind-user-agent %q is not one of off, detect, enforce", c.BindUserAgent))
	}
	if c.RecentAuth <= 0 {
		errs = append(errs, fmt.Errorf("--recent-auth %s must be positive, e.g. 5m", c.RecentAuth))
	}
	if c.VerifyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--verify-timeout %s must be positive, e.g. 5s", c.VerifyTimeout))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-body-bytes %d must be positive", c.MaxBodyBytes))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together; give both or neither"))
	} else if c.TLSCert != "" {
		// Loaded now, not by ServeTLS after "listening" and --ready-file
		// have told the world the server is up.
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert %s / --tls-key %s: %v; give a PEM certificate and its private key", c.TLSCert, c.TLSKey, err))
		}
	}
	if c.ShutdownDelay < 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-delay %s must be >= 0 and --shutdown-timeout %s positive", c.ShutdownDelay, c.ShutdownTimeout))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", c.ReadHeaderTimeout}, {"read-timeout", c.ReadTimeout}, {"write-timeout", c.WriteTimeout}, {"http-idle-timeout", c.HTTPIdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s %s must be positive", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-header-bytes %d must be positive", c.MaxHeaderBytes))
	}
	if err := checkListenPort("listen", c.Listen); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.checkInternal())
	return errors.Join(errs...)
}

// checkInternal validates the internal API's settings: off unless
// --internal-listen is given; never open (a secret or mTLS); never on an
// address the public can reach.
func (c *serveConfig) checkInternal() error {
	if c.InternalListen == "" {
		if c.InternalTokenFile != "" || c.InternalClientCA != "" {
			return errors.New("--internal-token-file and --internal-client-ca-file configure the internal API, which is off: add --internal-listen ADDRESS (loopback or private)")
		}
		return nil
	}
	var errs []error
	if err := checkPrivateListen(c.InternalListen); err != nil {
		errs = append(errs, err)
	} else if err := checkListenPort("internal-listen", c.InternalListen); err != nil {
		errs = append(errs, err)
	}
	if c.InternalListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		errs = append(errs, fmt.Errorf("--internal-listen %s is the same address as --listen: the internal API needs its own listener, one browsers cannot reach", c.InternalListen))
	}
	if c.InternalTokenFile == "" && c.InternalClientCA == "" {
		errs = append(errs, errors.New("--internal-listen needs --internal-token-file FILE (a bearer secret of at least 32 bytes, e.g. head -c 32 /dev/urandom | base64 > FILE) and/or --internal-client-ca-file (mTLS): the internal API is never open"))
	}
	if c.InternalClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--internal-client-ca-file (mTLS) needs --tls-cert and --tls-key: the internal listener serves TLS with them"))
	}
	return errors.Join(errs...)
}

// checkPrivateListen refuses an internal listen address that is not a
// loopback or private IP address (RFC 1918, RFC 4193): a wildcard or a
// public address would put the sealed fields one bearer secret away from
// the internet.
func checkPrivateListen(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--internal-listen %q: %w (use host:port, e.g. 127.0.0.1:8081 or 10.0.0.5:8081)", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
		return nil
	}
	return fmt.Errorf("--internal-listen %q must be a loopback or private IP address (127.0.0.1:8081, 10.0.0.5:8081, [fd00::5]:8081), not a wildcard, hostname or public address: only backends may reach the internal API", listen)
}

// check validates the revoke settings.
func (c *revokeConfig) check() error {
	errs := []error{c.redisConfig.check()}
	if len(c.UIDs) == 0 && !c.AllDisabled {
		errs = append(errs, errors.New("name the users: --uid UID (repeatable) and/or --all-disabled"))
	}
	if c.AllDisabled {
		if err := c.authConfig.check(); err != nil {
			errs = append(errs, err)
		} else if c.Auth == auth.ModeLocal {
			errs = append(errs, errors.New("--all-disabled lists users with the Firebase Admin API: use --auth=firebase (with credentials) or --auth=emulator"))
		}
	}
	return errors.Join(errs...)
}

// isLoopbackListen reports whether a listen address is on loopback
// (localhost, 127.0.0.0/8, ::1).
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkListenPort refuses a listen address whose port is neither a
// number from 0 to 65535 nor a service name (listening would fail later,
// as if it were a runtime error).
func checkListenPort(flag, listen string) error {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--%s %q: %w (use host:port, e.g. 127.0.0.1:8080)", flag, listen, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupPort(ctx, "tcp", port); err != nil {
		return fmt.Errorf("--%s %q: the port must be a number from 0 to 65535 (0 picks a free one) or a known service name (%v)", flag, listen, err)
	}
	return nil
}

// checkLoopbackListen refuses a --listen address that is not loopback:
// --dev-insecure-cookie sends the session cookie over plain HTTP.
func checkLoopbackListen(listen string) error {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if isLoopbackListen(listen) {
		return nil
	}
	return fmt.Errorf("--dev-insecure-cookie only with a loopback --listen (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not %q: it sends the session cookie without Secure", listen)
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// documents the environment variables in -h.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nflags of %s:\n\nEvery flag may also be set by its environment variable: --redis-url <-> %sREDIS_URL\n(upper case, dashes to underscores); the command line wins. %s holds sealing keys directly (never together with --sealing-keys-file).\n\n", usageText, synopsis, envPrefix, sealingKeysEnv)
		fs.PrintDefaults()
	}
	return fs
}

// readSecretFile reads a one-line secret (a Secret Manager mount), without
// its trailing newline.
func readSecretFile(flagName, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
