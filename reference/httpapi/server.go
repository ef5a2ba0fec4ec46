// Package httpapi is sessiond's HTTP API: it turns a Firebase ID token into
// a server-side session held in a hardened cookie, and validates, lists and
// destroys sessions.
//
// Routes:
//
//	POST   /v1/sessions          create (Authorization: Bearer <ID token>);
//	                             replaces the session of a cookie sent along
//	GET    /v1/sessions          list the caller's sessions (by cookie)
//	DELETE /v1/sessions          log out everywhere
//	GET    /v1/sessions/current  validate the cookie's session
//	DELETE /v1/sessions/current  log out (idempotent)
//	DELETE /v1/sessions/{id}     log out one of the caller's sessions (an id
//	                             from the list)
//	OPTIONS (the above)          CORS preflight, for Config.CORSOrigins
//	GET    /healthz              liveness (no Redis)
//	GET    /readyz               readiness (Redis reachable, noeviction, not out of memory; not shutting down)
//	GET    /metrics              Prometheus metrics (own registry)
//
// Errors are JSON {"error": "<code>", "message": "..."}. The server fails
// closed: when Redis or the token verifier cannot decide, the answer is 503,
// never "valid" and never "anonymous".
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/session"
)

// User-agent binding modes for Config.BindUserAgent.
const (
	// BindOff ignores the User-Agent on validate.
	BindOff = "off"
	// BindDetect counts and logs a validate from another User-Agent but
	// accepts it (browsers update their UA string; this is the default).
	BindDetect = "detect"
	// BindEnforce destroys the session and answers 401 when a validate
	// comes from another User-Agent than the one that created it.
	BindEnforce = "enforce"
)

// Defaults of Config fields, exported so that flags can show them.
const (
	DefaultCookieName     = "__Host-sid"
	DefaultRecentAuth     = 5 * time.Minute
	DefaultRequestTimeout = 500 * time.Millisecond
	DefaultVerifyTimeout  = 5 * time.Second
	DefaultMaxBodyBytes   = 16 << 10
)

// Config configures the API handler. Zero values take the documented
// defaults; Store and Verifier are required.
type Config struct {
	// Store keeps the sessions. Required.
	Store session.API
	// Verifier checks Firebase ID tokens on create. Required.
	Verifier auth.Verifier
	// Logger receives structured logs. Default: JSON to stderr.
	Logger *slog.Logger

	// CookieName is the session cookie's name. Default "__Host-sid". A name
	// starting with "__Host-" forces Secure, Path=/ and no Domain, as
	// browsers require for that prefix.
	CookieName string
	// CookieSameSite is the SameSite attribute. Default http.SameSiteLaxMode.
	// SameSiteNoneMode requires a Secure cookie.
	CookieSameSite http.SameSite
	// CookieDomain is the Domain attribute. Default none (host-only).
	// Refused with a "__Host-" name.
	CookieDomain string
	// CookiePath is the Path attribute. Default "/"; forced to "/" with a
	// "__Host-" name.
	CookiePath string
	// CookieInsecure drops the Secure attribute (plain-HTTP development
	// only). Default false. Refused with a "__Host-" name or SameSite=None.
	CookieInsecure bool

	// RecentAuth is how recent the token's auth_time must be for create
	// (a fresh sign-in, not a silently refreshed token). Default 5m.
	RecentAuth time.Duration
	// CheckRevoked asks the verifier to check revocation on create.
	// Default false (it costs a Firebase round trip).
	CheckRevoked bool
	// RequestTimeout bounds each store call; a slow Redis yields 503 within
	// it. Default 500ms.
	RequestTimeout time.Duration
	// VerifyTimeout bounds a token verification (a Firebase key fetch may
	// be slow the first time). Default 5s.
	VerifyTimeout time.Duration
	// MaxBodyBytes caps a create request body; larger bodies get 413.
	// Default 16 KiB.
	MaxBodyBytes int64
	// BindUserAgent is BindOff, BindDetect or BindEnforce. Default BindDetect.
	BindUserAgent string
	// OmitEmail keeps the token's email out of new sessions (it is
	// personal data, and costs about 26 bytes of Redis per session with
	// a 20-byte email, as measured): the API then answers "email": "",
	// as for a user who has none. Sessions created before keep theirs
	// until they end. /healthz says omit_email. Default false.
	OmitEmail bool
	// TrustProxy takes the client IP from the right-most X-Forwarded-For
	// entry (the one the nearest proxy appended) instead of RemoteAddr.
	// Enable only behind exactly one trusted proxy. Default false.
	TrustProxy bool
	// TrustedOrigins are origins ("https://app.example.com") allowed to
	// make cross-origin state-changing requests. Default none.
	TrustedOrigins []string
	// CORSOrigins are origins whose pages may call the API from the
	// browser (fetch with credentials): preflights are answered and
	// responses carry Access-Control-Allow-Origin for exactly these
	// origins (never "*"); they are trusted origins too. A page on
	// another site needs CookieSameSite None; with Lax or Strict every
	// CORS origin must be the same site as PublicOrigin.
	CORSOrigins []string
	// PublicOrigin is the origin browsers use to reach this API
	// ("https://api.example.com"). Needed to check CORSOrigins are
	// same-site when CookieSameSite is Lax or Strict.
	PublicOrigin string
	// AllowEvictingRedis lets readiness pass on a Redis whose
	// maxmemory-policy evicts keys (logout everywhere then answers 503
	// when Redis has evicted keys recently). Default false: such a Redis
	// fails readiness. Reported on /healthz and as a metric.
	AllowEvictingRedis bool
	// Users, with RecheckUser, asks Firebase whether the user of a live
	// session was disabled, deleted or had its tokens revoked after the
	// session's sign-in.
	Users auth.Users
	// RecheckUser is how often per user and instance (at most) a
	// validate asks Users about the session's user; 0 (default) never.
	// Needs Users; implies CheckRevoked on create (a new session counts as
	// checked). Fails closed: when Firebase cannot answer, a validate that
	// needs a check answers 503.
	RecheckUser time.Duration
	// AccessLog logs one line per request at Info. Default false.
	AccessLog bool

	// Registry receives the metrics. Default: a new registry with the Go
	// runtime and process collectors.
	Registry *prometheus.Registry
	// PoolStats, when set, exports the Redis connection pool statistics
	// (pass the go-redis client's PoolStats method).
	PoolStats func() *redis.PoolStats
	// TracerProvider turns tracing on (see tracing.go): an otelhttp span
	// per request, spans around the store and the verifier. Default nil:
	// off, and nothing is installed.
	TracerProvider trace.TracerProvider
	// TraceSampler, with TracerProvider, decides per request and before
	// any tracing work whether the request is traced; parent is the
	// caller's traceparent (invalid without one). A refused request
	// bypasses otelhttp and starts no span, so a low ratio costs little.
	// Give the provider an always-on sampler then: the decision is made
	// here. Default nil: every request goes through otelhttp and the
	// provider's sampler decides.
	TraceSampler func(parent trace.SpanContext) bool
	// Version is reported on /healthz. Default "dev".
	Version string
	// Now is the clock for the recent-auth check. Default time.Now.
	Now func() time.Time
}

// Server is the API's http.Handler. Safe for concurrent use.
type Server struct {
	cfg     Config
	store   session.API
	verify  auth.Verifier
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	tracer  trace.Tracer // nil: tracing off
	traced  http.Handler // otelhttp around serve; nil: tracing off
	sample  func(trace.SpanContext) bool

	cookieName   string
	cookieSuffix string // "; Path=/; HttpOnly; Secure; SameSite=Lax"
	clearCookie  string // full Set-Cookie value that expires the cookie
	healthBody   []byte
	cors         map[string]bool // CORSOrigins, normalised
	recheck      *recheck        // nil without RecheckUser
	shutdown     atomic.Bool
	ready        readyState
	readyEvery   time.Duration // readyEvery; tests shorten it
	uaLog        logLimiter    // user-agent mismatches
	storeLog     logLimiter    // store failures (an outage fails every request)
	verifyLog    logLimiter    // token verifier undecided
	recheckLog   logLimiter    // Firebase user lookups failing
	recPool      sync.Pool
	bufs         bufPool
}

// New checks cfg and returns the API handler. Errors name the field and
// the fix.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: Config.Store is required")
	}
	if cfg.Verifier == nil {
		return nil, errors.New("httpapi: Config.Verifier is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.CookieSameSite == 0 || cfg.CookieSameSite == http.SameSiteDefaultMode {
		cfg.CookieSameSite = http.SameSiteLaxMode
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.RecentAuth <= 0 {
		cfg.RecentAuth = DefaultRecentAuth
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BindUserAgent == "" {
		cfg.BindUserAgent = BindDetect
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch cfg.BindUserAgent {
	case BindOff, BindDetect, BindEnforce:
	default:
		return nil, fmt.Errorf("httpapi: Config.BindUserAgent %q is not one of off, detect, enforce", cfg.BindUserAgent)
	}
	suffix, err := cookieAttributes(&cfg)
	if err != nil {
		return nil, err
	}
	cors, err := corsOrigins(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.RecheckUser < 0 {
		return nil, fmt.Errorf("httpapi: Config.RecheckUser %v must be >= 0 (0: never)", cfg.RecheckUser)
	}
	if cfg.RecheckUser > 0 && cfg.Users == nil {
		return nil, errors.New("httpapi: Config.RecheckUser needs Config.Users (the Firebase Admin API; --auth=firebase with credentials, or --auth=emulator)")
	}
	if cfg.RecheckUser > 0 {
		cfg.CheckRevoked = true // a new session is then a checked one
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	m, err := newMetrics(cfg.Registry, cfg.PoolStats)
	if err != nil {
		return nil, err
	}
	m.setConfig(cfg.AllowEvictingRedis, cfg.CookieInsecure)
	s := &Server{
		cfg:          cfg,
		store:        cfg.Store,
		verify:       cfg.Verifier,
		log:          cfg.Logger,
		metrics:      m,
		cookieName:   cfg.CookieName,
		cookieSuffix: suffix,
		clearCookie:  cfg.CookieName + "=" + strings.Replace(suffix, "; HttpOnly", "; Max-Age=0; HttpOnly", 1),
	}
	s.healthBody = fmt.Appendf(nil, `{"status":"ok","auth":%q,"version":%q,"allow_evicting_redis":%t,"insecure_cookie":%t,"cookie_name":%q,"recheck_user":%q,"omit_email":%t}`+"\n",
		cfg.Verifier.Mode(), cfg.Version, cfg.AllowEvictingRedis, cfg.CookieInsecure, cfg.CookieName, recheckLabel(cfg.RecheckUser), cfg.OmitEmail)
	s.recPool.New = func() any { return new(recorder) }
	s.readyEvery = readyEvery
	s.cors = cors
	if cfg.RecheckUser > 0 {
		s.recheck = newRecheck(cfg.Users, cfg.RecheckUser, cfg.VerifyTimeout, m)
	}

	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("httpapi: Config.TrustedOrigins: %w (use scheme://host[:port], e.g. https://app.example.com)", err)
		}
	}
	for o := range cors {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("httpapi: Config.CORSOrigins: %w", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(s.denyCrossOrigin))
	s.handler = cop.Handler(http.HandlerFunc(s.route))
	s.setupTracing(cfg.TracerProvider, cfg.TraceSampler)
	return s, nil
}

// BeginShutdown makes /readyz answer 503 so that load balancers stop
// sending new traffic before the listener closes. It cannot be undone.
func (s *Server) BeginShutdown() { s.shutdown.Store(true) }

// Registry returns the registry the metrics are registered in.
func (s *Server) Registry() *prometheus.Registry { return s.cfg.Registry }

// ServeHTTP serves the request, through otelhttp when tracing is on.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.traced != nil {
		s.serveTraced(w, r)
		return
	}
	s.serve(w, r)
}

// serve counts, times and (optionally) logs the request, recovers
// panics as 500, and dispatches through the cross-origin protection.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := s.recPool.Get().(*recorder)
	rec.ResponseWriter, rec.status, rec.wrote, rec.code = w, 0, false, ""
	route := routeLabel(r.Method, r.URL.Path)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "route", route, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				s.writeError(rec, http.StatusInternalServerError, "internal", "internal server error")
			}
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observe(route, status, d)
		if s.tracer != nil {
			annotateRequest(r.Context(), route, status, rec.code)
		}
		if s.cfg.AccessLog {
			s.log.InfoContext(r.Context(), "request", "method", r.Method, "route", route, "status", status,
				"duration_ms", float64(d.Microseconds())/1000, "remote", r.RemoteAddr)
		}
		rec.ResponseWriter = nil
		s.recPool.Put(rec)
	}()
	if len(r.TransferEncoding) > 0 {
		// Go's server would serve a chunked request and, when it also
		// carries Content-Length, drop that header without a trace: the
		// request smuggling shape RFC 9112 §6.1 says to answer and then
		// close. No browser sends a chunked body to this API (fetch sends
		// Content-Length; streaming bodies need HTTP/2, which has no
		// Transfer-Encoding), so every chunked request is refused.
		rec.Header().Set("Connection", "close")
		s.writeError(rec, http.StatusBadRequest, "chunked_body_refused",
			"send the request body with Content-Length, not Transfer-Encoding (a request with both is refused, RFC 9112 §6.1); the connection is closed")
		return
	}
	if len(s.cors) > 0 && s.applyCORS(rec, r) {
		return // a preflight, answered
	}
	s.handler.ServeHTTP(rec, r)
}

// route dispatches by path, then method; unknown paths get 404 JSON and
// known paths with another method get 405 JSON with Allow.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/sessions/current":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.handleCurrent(w, r)
		case http.MethodDelete:
			s.handleDestroy(w, r)
		default:
			s.methodNotAllowed(w, "GET, HEAD, DELETE")
		}
	case "/v1/sessions":
		switch r.Method {
		case http.MethodPost:
			s.handleCreate(w, r)
		case http.MethodGet, http.MethodHead:
			s.handleList(w, r)
		case http.MethodDelete:
			s.handleDestroyAll(w, r)
		default:
			s.methodNotAllowed(w, "GET, HEAD, POST, DELETE")
		}
	case "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, "GET, HEAD")
			return
		}
		s.handleHealth(w, r)
	case "/readyz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, "GET, HEAD")
			return
		}
		s.handleReady(w, r)
	case "/metrics":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, "GET, HEAD")
			return
		}
		s.metrics.handler.ServeHTTP(w, r)
	default:
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/sessions/"); ok && id != "" && !strings.Contains(id, "/") {
			if r.Method != http.MethodDelete {
				s.methodNotAllowed(w, "DELETE")
				return
			}
			s.handleDestroyHandle(w, r, id)
			return
		}
		s.writeError(w, http.StatusNotFound, "not_found", "no such route; see /v1/sessions, /v1/sessions/current, /v1/sessions/{id}, /healthz, /readyz, /metrics")
	}
}

// Route labels of the metrics: one per API route, "other" for the rest.
const (
	rtCreate     = "POST /v1/sessions"
	rtList       = "GET /v1/sessions"
	rtDestroyAll = "DELETE /v1/sessions"
	rtCurrent    = "GET /v1/sessions/current"
	rtDestroy    = "DELETE /v1/sessions/current"
	rtDestroyOne = "DELETE /v1/sessions/{id}"
	rtPreflight  = "OPTIONS (CORS preflight)"
	rtHealth     = "GET /healthz"
	rtReady      = "GET /readyz"
	rtMetrics    = "GET /metrics"
	rtOther      = "other"
)

// routeLabels lists every label routeLabel returns, so metrics can
// create each series up front.
func routeLabels() []string {
	return []string{rtCreate, rtList, rtDestroyAll, rtCurrent, rtDestroy, rtDestroyOne, rtPreflight, rtHealth, rtReady, rtMetrics, rtOther}
}

// routeLabel is the metrics label of a request: a fixed set, so a scanner
// probing random paths cannot blow up the series count.
func routeLabel(method, path string) string {
	if method == http.MethodOptions && isAPIPath(path) {
		return rtPreflight
	}
	switch path {
	case "/v1/sessions/current":
		switch method {
		case http.MethodGet, http.MethodHead:
			return rtCurrent
		case http.MethodDelete:
			return rtDestroy
		}
	case "/v1/sessions":
		switch method {
		case http.MethodPost:
			return rtCreate
		case http.MethodGet, http.MethodHead:
			return rtList
		case http.MethodDelete:
			return rtDestroyAll
		}
	case "/healthz":
		return rtHealth
	case "/readyz":
		return rtReady
	case "/metrics":
		return rtMetrics
	}
	if method == http.MethodDelete && isAPIPath(path) && path != "/v1/sessions" {
		return rtDestroyOne
	}
	return rtOther
}

// isAPIPath reports the paths of the session API (CORS applies to them).
func isAPIPath(path string) bool {
	if path == "/v1/sessions" {
		return true
	}
	id, ok := strings.CutPrefix(path, "/v1/sessions/")
	return ok && id != "" && !strings.Contains(id, "/")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; allowed: "+allow)
}

func (s *Server) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusForbidden, "cross_origin", crossOriginHint)
}

// crossOriginHint is the message of every cross-origin refusal.
const crossOriginHint = "cross-origin request refused; if the page's origin is yours, allow it with --cors-origin ORIGIN " +
	"(a page on another site also needs --cookie-samesite none), or serve the page and the API from one origin behind a reverse proxy"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.healthBody)
}

// readyEvery is how long a readiness verdict is reused: /readyz is public
// and probes may come often; Redis sees at most one INFO a second.
const readyEvery = time.Second

// readyState is the last readiness reading of the store.
type readyState struct {
	mu      sync.Mutex
	at      time.Time
	backend session.Backend
	err     error
}

// backend returns the store's Backend, read at most once per readyEvery
// (concurrent probes wait for the one reading).
func (s *Server) backend(ctx context.Context) (session.Backend, error) {
	rs := &s.ready
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.at.IsZero() && time.Since(rs.at) < s.readyEvery {
		return rs.backend, rs.err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rs.backend, rs.err = s.store.Backend(ctx)
	rs.at = time.Now()
	return rs.backend, rs.err
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.shutdown.Load() {
		s.writeError(w, http.StatusServiceUnavailable, "shutting_down", "server is shutting down")
		return
	}
	b, err := s.backend(r.Context())
	if err != nil {
		s.log.Warn("readiness: store unreachable", "err", err)
		s.writeError(w, http.StatusServiceUnavailable, "store_unavailable", "session store unreachable")
		return
	}
	if b.Evicting() && !s.cfg.AllowEvictingRedis {
		s.log.Warn("readiness: Redis evicts keys; logout everywhere could miss sessions", "policy", b.MaxmemoryPolicy)
		s.writeError(w, http.StatusServiceUnavailable, "store_evicting",
			"Redis maxmemory-policy is "+b.MaxmemoryPolicy+": it may evict the index that logout everywhere relies on; set it to noeviction (or start sessiond with --allow-evicting-redis)")
		return
	}
	if b.OutOfMemory {
		s.log.Warn("readiness: Redis is out of memory; creates fail", "used_memory", b.UsedMemory, "maxmemory", b.MaxMemory, "policy", b.MaxmemoryPolicy)
		s.writeError(w, http.StatusServiceUnavailable, "store_full",
			"Redis refuses writes: out of memory (maxmemory); logins fail until it has room (raise maxmemory or lower --absolute-timeout / --max-sessions-per-user)")
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// recorder remembers the status for metrics and the panic handler, and
// the error code for the trace.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	code   string // writeError's code
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
