package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/httpapi"
)

// runServe serves the HTTP API until ctx is cancelled, then shuts down
// gracefully: /readyz fails first, after --shutdown-delay the listener
// closes and in-flight requests drain, then the Redis client closes.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	var c serveConfig
	fs := newFlagSet("sessiond serve", "sessiond [serve] [flags]", stderr)
	registerServeFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageExit(stderr, err)
	}
	if err := c.check(); err != nil {
		return usageExit(stderr, err)
	}
	if err := auth.CheckEmulatorGuard(c.Auth, getenv(auth.EmulatorHostEnv)); err != nil {
		return usageExit(stderr, err)
	}
	if c.FirebaseProject == "" {
		c.FirebaseProject = auth.ProjectFromEnv(getenv)
	}
	if c.FirebaseProject == "" {
		return usageExit(stderr, errors.New("--firebase-project is required (or set GOOGLE_CLOUD_PROJECT / FIREBASE_CONFIG): tokens are checked against the project ID"))
	}
	log := newLogger(stderr, c.LogLevel, c.FirebaseProject)
	if w := auth.Warning(c.Auth); w != "" {
		log.Warn(w, "auth", c.Auth)
	}

	verifier, err := newVerifier(ctx, &c.authConfig, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sessiond: %v\n", err)
		if errors.Is(err, errConfig) {
			return exitUsage
		}
		return exitFailure
	}
	routeRedisLog(log)
	dials := &dialWatch{}
	rdb, err := newRedis(&c.redisConfig, dials)
	if err != nil {
		return usageExit(stderr, err)
	}
	defer func() {
		if err := rdb.Close(); err != nil {
			log.Warn("closing redis client", "err", err)
		}
	}()
	st, sealer, err := newStore(&c.redisConfig, rdb, getenv)
	if err != nil {
		return usageExit(stderr, err)
	}
	obs, err := startObservability(ctx, &c, getenv, rdb, dials, log)
	if err != nil {
		return usageExit(stderr, err)
	}
	defer obs.stop()
	if c.CheckRevoked {
		// Without the Admin API every login would answer 503 (or, in
		// local mode, the check would silently not happen).
		if _, err := auth.UsersOf(verifier); err != nil {
			return usageExit(stderr, fmt.Errorf("--check-revoked: %w", err))
		}
	}
	var users auth.Users
	if c.RecheckUser > 0 {
		if users, err = auth.UsersOf(verifier); err != nil {
			return usageExit(stderr, fmt.Errorf("--recheck-user: %w", err))
		}
	}
	sameSite, _ := httpapi.ParseSameSite(c.CookieSameSite)
	cookieName := c.CookieName
	if c.DevInsecureCookie {
		// Browsers refuse a __Host- or __Secure- cookie without Secure.
		cookieName = strings.TrimPrefix(strings.TrimPrefix(cookieName, "__Host-"), "__Secure-")
		log.Warn("WARNING: --dev-insecure-cookie: the session cookie is sent over plain HTTP, without Secure and without the __Host- prefix. Development on this machine only.",
			"cookie", cookieName, "listen", c.Listen)
	}
	api, err := httpapi.New(httpapi.Config{
		Store:              st,
		Verifier:           verifier,
		Logger:             log,
		CookieName:         cookieName,
		CookieSameSite:     sameSite,
		CookieInsecure:     c.DevInsecureCookie,
		RecentAuth:         c.RecentAuth,
		CheckRevoked:       c.CheckRevoked,
		RequestTimeout:     c.RequestTimeout,
		VerifyTimeout:      c.VerifyTimeout,
		MaxBodyBytes:       c.MaxBodyBytes,
		BindUserAgent:      c.BindUserAgent,
		OmitEmail:          c.OmitEmail,
		TrustProxy:         c.TrustProxy,
		TrustedOrigins:     c.TrustedOrigins,
		CORSOrigins:        c.CORSOrigins,
		PublicOrigin:       c.PublicOrigin,
		AllowEvictingRedis: c.AllowEvictingRedis,
		Users:              users,
		RecheckUser:        c.RecheckUser,
		AccessLog:          c.AccessLog,
		PoolStats:          rdb.PoolStats,
		Version:            version,
		Registry:           obs.registry,
		TracerProvider:     obs.tracerProvider(),
		TraceSampler:       obs.sample,
	})
	if err != nil {
		return usageExit(stderr, cliError(err))
	}
	isrv, err := newInternalServer(&c, api, st, log)
	if err != nil {
		return usageExit(stderr, err)
	}
	// Only once the configuration is known to be whole: a start that
	// then fails must not have claimed what the keys protect.
	logSealing(log, sealer, c.InternalListen, c.OmitEmail)
	if isrv != nil && c.TLSCert == "" && !isLoopbackListen(c.InternalListen) {
		log.Warn("the internal API is served over plain HTTP on a non-loopback address: the bearer secret and the sealed values cross the network unencrypted; serve it with --tls-cert/--tls-key (and --internal-client-ca-file for mTLS), or on loopback",
			"internal_listen", c.InternalListen)
	}
	if c.RecheckUser > 0 {
		log.Info("--recheck-user: a live session's user is checked with Firebase at most once per interval per user (fails closed); creates check revocation",
			"interval", c.RecheckUser.String())
	}

	pctx, cancel := context.WithTimeout(ctx, c.RequestTimeout)
	backend, err := st.Backend(pctx)
	cancel()
	if err == nil {
		// Writes carry their deadline in Redis time (see package session);
		// measuring the clock offset now spares the first requests a round
		// trip. If it fails, the first write measures it.
		sctx, scancel := context.WithTimeout(ctx, c.RequestTimeout)
		if serr := st.SyncClock(sctx); serr != nil {
			log.Warn("could not read Redis's clock yet; the first write will", "err", serr)
		}
		scancel()
	}
	switch {
	case err != nil:
		if reason := redisConfigError(err); reason != "" {
			return usageExit(stderr, fmt.Errorf("redis %s: %s", redisTarget(&c.redisConfig), reason))
		}
		log.Warn("redis not reachable yet; /readyz answers 503 until it is (and checks maxmemory-policy then)", "redis", redisTarget(&c.redisConfig), "err", dials.explain(err))
	case backend.Evicting() && !c.AllowEvictingRedis:
		return usageExit(stderr, evictingError(backend.MaxmemoryPolicy))
	case backend.Evicting():
		log.Warn("WARNING: --allow-evicting-redis: Redis maxmemory-policy is "+backend.MaxmemoryPolicy+
			"; Redis may evict the user index that logout everywhere relies on. Logout everywhere answers 503 (logout_unconfirmed) once Redis has evicted keys. Set maxmemory-policy noeviction.",
			"policy", backend.MaxmemoryPolicy)
	case backend.MaxmemoryPolicy == "":
		log.Warn("Redis does not report maxmemory_policy (INFO memory); cannot verify noeviction. Fine for an in-process test Redis (miniredis never evicts); a production Redis reports it",
			"redis", redisTarget(&c.redisConfig))
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		log.Error("cannot listen", "listen", c.Listen, "err", err)
		return exitFailure
	}
	addr := ln.Addr().String()
	var iln net.Listener
	if isrv != nil {
		if iln, err = net.Listen("tcp", c.InternalListen); err != nil {
			ln.Close()
			log.Error("cannot listen for the internal API", "internal_listen", c.InternalListen, "err", err)
			return exitFailure
		}
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.HTTPIdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 2)
	go func() {
		if c.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, c.TLSCert, c.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	if isrv != nil {
		go func() {
			var err error
			if isrv.TLSConfig != nil || c.TLSCert != "" {
				err = isrv.ServeTLS(iln, c.TLSCert, c.TLSKey)
			} else {
				err = isrv.Serve(iln)
			}
			serveErr <- fmt.Errorf("internal API: %w", err)
		}()
		log.Info("internal API listening (sealed fields; backends only)", "addr", iln.Addr().String(),
			"bearer_token", c.InternalTokenFile != "", "mtls", c.InternalClientCA != "", "tls", c.TLSCert != "")
	}
	log.Info("listening", "addr", addr, "auth", verifier.Mode(), "tls", c.TLSCert != "", "redis", redisTarget(&c.redisConfig),
		"write_record_format", c.WriteFormat, "version", version)
	if c.WriteFormat == 1 {
		log.Warn("--write-record-format 1: new sessions are written in the format older sessiond reads, for a rolling upgrade; once no older instance runs, restart every instance with --write-record-format 2 (smaller records, user agents bound on the whole header)")
	}
	if c.ReadyFile != "" {
		if err := writeFileAtomic(c.ReadyFile, []byte(addr)); err != nil {
			log.Error("writing --ready-file", "err", err)
			_ = srv.Close()
			return exitFailure
		}
	}

	select {
	case err := <-serveErr:
		log.Error("server failed", "err", err)
		_ = srv.Close()
		if isrv != nil {
			_ = isrv.Close()
		}
		return exitFailure
	case <-ctx.Done():
	}
	log.Info("shutting down: readiness off", "shutdown_delay", c.ShutdownDelay.String())
	api.BeginShutdown()
	if c.ShutdownDelay > 0 {
		t := time.NewTimer(c.ShutdownDelay)
		<-t.C
	}
	sctx, scancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer scancel()
	if isrv != nil {
		if err := isrv.Shutdown(sctx); err != nil {
			log.Error("internal API: graceful shutdown incomplete; closing remaining connections", "err", err)
			_ = isrv.Close()
		}
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("graceful shutdown incomplete; closing remaining connections", "err", err)
		_ = srv.Close()
		return exitFailure
	}
	servers := 1
	if isrv != nil {
		servers = 2
	}
	for range servers {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server failed", "err", err)
			return exitFailure
		}
	}
	// Failed creates clean up in the background; let them finish (a
	// leftover would only be a stale index entry, pruned later).
	dctx, dcancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer dcancel()
	if err := st.Drain(dctx); err != nil {
		log.Warn("background clean-ups of failed creates still running at exit", "err", err)
	}
	log.Info("stopped")
	return exitOK
}

// evictingError is why sessiond refuses a Redis that evicts, and how to
// fix it (Memorystore blocks CONFIG SET; its API sets the policy).
func evictingError(policy string) error {
	return fmt.Errorf("Redis maxmemory-policy is %s: under memory pressure Redis evicts the least recently used keys, and the per-user session index "+
		"(read only at login and logout) goes first, so \"log out everywhere\" would miss sessions that stay valid. "+
		"Set maxmemory-policy to noeviction: redis-cli CONFIG SET maxmemory-policy noeviction; on Memorystore for Redis "+
		"gcloud redis instances update INSTANCE --region=REGION --update-redis-config=maxmemory-policy=noeviction "+
		"(Redis Cluster: gcloud redis clusters update CLUSTER --region=REGION --update-redis-config=maxmemory-policy=noeviction). "+
		"With noeviction a full Redis refuses new sessions (503) instead of dropping data; size maxmemory for your sessions. "+
		"Or pass --allow-evicting-redis to run anyway (logged, shown on /healthz; logout everywhere then answers 503 after evictions)", policy)
}

// cliError rewrites an httpapi.Config error in terms of the flags.
func cliError(err error) error {
	r := strings.NewReplacer(
		"Config.CORSOrigins", "--cors-origin", "Config.PublicOrigin", "--public-origin",
		"Config.TrustedOrigins", "--trusted-origin", "Config.CookieInsecure", "--dev-insecure-cookie",
		"Config.CookieName", "--cookie-name", "Config.CookieSameSite", "--cookie-samesite")
	return errors.New(r.Replace(err.Error()))
}

// errConfig marks verifier errors caused by configuration (exit 2).
var errConfig = errors.New("configuration error")

// newVerifier builds the token verifier for --auth.
func newVerifier(ctx context.Context, c *authConfig, getenv func(string) string) (auth.Verifier, error) {
	switch c.Auth {
	case auth.ModeFirebase:
		v, err := auth.NewFirebase(ctx, auth.FirebaseConfig{
			ProjectID:       c.FirebaseProject,
			EmulatorHost:    getenv(auth.EmulatorHostEnv),
			CredentialsFile: c.FirebaseCredsFile,
		})
		if err != nil {
			return nil, fmt.Errorf("--auth=firebase: %w", err)
		}
		return v, nil
	case auth.ModeEmulator:
		v, err := auth.NewEmulator(ctx, auth.EmulatorConfig{
			ProjectID:    c.FirebaseProject,
			EmulatorHost: getenv(auth.EmulatorHostEnv),
		})
		if err != nil {
			return nil, fmt.Errorf("--auth=emulator: %w", err)
		}
		return v, nil
	case auth.ModeLocal:
		pem, err := os.ReadFile(c.AuthPublicKey)
		if err != nil {
			return nil, fmt.Errorf("--auth-public-key: %w: %w", errConfig, err)
		}
		v, err := auth.NewLocal(auth.LocalConfig{ProjectID: c.FirebaseProject, PublicKeyPEM: pem})
		if err != nil {
			return nil, fmt.Errorf("--auth=local --auth-public-key %s: %w: %w", c.AuthPublicKey, errConfig, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("--auth %q: %w", c.Auth, errConfig)
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it, so a reader polling path never sees a partial address.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func timeAfter(d time.Duration) <-chan time.Time { return time.After(d) }
