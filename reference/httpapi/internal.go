package httpapi

// The internal API: sealed fields (OAuth access and refresh tokens, say)
// that backends keep with a user's session and that the browser must
// never see. It is served on its own listener (sessiond
// --internal-listen), never on the public one: a same-origin fetch
// carries the HttpOnly cookie, so any public route that returned sealed
// values would hand them to the page's JavaScript.
//
// Routes (the session is the one whose cookie the backend forwards in a
// Cookie header, as the browser sent it):
//
//	PUT /internal/v1/sessions/current/sealed   {"sealed": {"name": "value", ...}}
//	                                           replaces the sealed fields ({} removes them); 204
//	GET /internal/v1/sessions/current/sealed   200 {"user_id": ..., "sealed": {...}}
//
// Every request must authenticate: Authorization: Bearer <token>
// (compared in constant time) and/or a client certificate (mTLS):
// whichever InternalConfig configures, both when it configures both.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionbench/sessionbench/reference/session"
)

// InternalSealedPath is the internal API's one resource.
const InternalSealedPath = "/internal/v1/sessions/current/sealed"

// MinInternalTokenLen is the shortest bearer secret Internal accepts.
const MinInternalTokenLen = 32

// maxSealedNameLen bounds the name of a sealed field.
const maxSealedNameLen = 64

// InternalConfig configures the internal API.
type InternalConfig struct {
	// Store holds the sealed fields. Required; Sealing() false makes the
	// routes answer 501 with the reason.
	Store session.SealedAPI
	// Token is the bearer secret every request must carry
	// (Authorization: Bearer <Token>), at least MinInternalTokenLen
	// bytes. Empty: no bearer check (then RequireClientCert must be set).
	Token []byte
	// RequireClientCert refuses requests without a verified client
	// certificate. The listener's tls.Config must verify them
	// (ClientAuth RequireAndVerifyClientCert with the backends' CA); this
	// is the handler's own check that it did.
	RequireClientCert bool
}

// internal is the internal API's handler.
type internal struct {
	s       *Server
	store   session.SealedAPI
	sum     [sha256.Size]byte // SHA-256 of the token
	token   bool
	mtls    bool
	compare func(a, b []byte) int // subtle.ConstantTimeCompare; tests watch it
	reqs    *prometheus.CounterVec
	// authNeeds is the 401's message: what this configuration requires.
	authNeeds string
	authLog   logLimiter // refused credentials (a scan would flood the log)
}

// Internal returns the handler of the internal API. It shares the
// server's store, cookie name, logger and metrics registry; serve it on
// a listener only backends reach. Errors name the field and the fix.
func (s *Server) Internal(cfg InternalConfig) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: InternalConfig.Store is required")
	}
	if len(cfg.Token) == 0 && !cfg.RequireClientCert {
		return nil, errors.New("httpapi: the internal API needs InternalConfig.Token (a bearer secret) or RequireClientCert (mTLS); it must never be open")
	}
	if len(cfg.Token) > 0 && len(cfg.Token) < MinInternalTokenLen {
		return nil, fmt.Errorf("httpapi: InternalConfig.Token is %d bytes; use at least %d random bytes (e.g. head -c 32 /dev/urandom | base64)", len(cfg.Token), MinInternalTokenLen)
	}
	in := &internal{
		s: s, store: cfg.Store, token: len(cfg.Token) > 0, mtls: cfg.RequireClientCert,
		sum: sha256.Sum256(cfg.Token), compare: subtle.ConstantTimeCompare,
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_internal_requests_total",
			Help: "Internal API (sealed fields) requests by operation and status code.",
		}, []string{"op", "code"}),
	}
	const bearer, cert = "the bearer secret of --internal-token-file (Authorization: Bearer <token>)", "a client certificate signed by --internal-client-ca-file"
	switch {
	case in.token && in.mtls:
		in.authNeeds = "the internal API needs both " + bearer + " and " + cert
	case in.token:
		in.authNeeds = "the internal API needs " + bearer
	default:
		in.authNeeds = "the internal API needs " + cert
	}
	if err := s.cfg.Registry.Register(in.reqs); err != nil {
		return nil, fmt.Errorf("httpapi: registering internal metrics: %w (call Internal once per Server)", err)
	}
	for _, op := range []string{"get", "put", "other"} {
		for _, code := range []string{"200", "204", "401", "404", "501"} {
			in.reqs.WithLabelValues(op, code)
		}
	}
	return in, nil
}

// ServeHTTP authenticates, then serves the sealed-fields resource.
func (in *internal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	// The operation is known from the route before authentication, so
	// that refused requests count against the route they tried.
	op := "other"
	if r.URL.Path == InternalSealedPath {
		switch r.Method {
		case http.MethodGet:
			op = "get"
		case http.MethodPut:
			op = "put"
		}
	}
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		in.reqs.WithLabelValues(op, fmt.Sprint(status)).Inc()
	}()
	if !in.authenticated(r) {
		if ok, dropped := in.authLog.allow(in.s.cfg.Now()); ok {
			// Who knocked, never what they presented.
			in.s.log.WarnContext(r.Context(), "internal API request refused: missing or wrong credentials (logged at most once a second; sessiond_internal_requests_total counts every 401)",
				"op", op, "remote", r.RemoteAddr, "suppressed", dropped)
		}
		rec.Header().Set("WWW-Authenticate", `Bearer realm="sessiond-internal"`)
		in.s.writeInternalError(rec, http.StatusUnauthorized, "unauthorized", in.authNeeds)
		return
	}
	if len(r.TransferEncoding) > 0 {
		// As on the public listener: Go drops Content-Length when a
		// request also carries Transfer-Encoding (the smuggling shape).
		rec.Header().Set("Connection", "close")
		in.s.writeInternalError(rec, http.StatusBadRequest, "chunked_body_refused",
			"send the request body with Content-Length, not Transfer-Encoding (a request with both is refused, RFC 9112 §6.1); the connection is closed")
		return
	}
	if r.URL.Path != InternalSealedPath {
		in.s.writeInternalError(rec, http.StatusNotFound, "not_found", "no such route; the internal API serves "+InternalSealedPath)
		return
	}
	if op == "other" {
		in.s.methodNotAllowed(rec, "GET, PUT")
		return
	}
	if !in.store.Sealing() {
		in.s.writeInternalError(rec, http.StatusNotImplemented, "sealing_disabled",
			"sealed fields need sealing keys, and this sessiond has none: start it with --sealing-keys-file FILE or "+
				"SESSIOND_SEALING_KEYS (lines \"kid:base64key\" of 32-byte keys, the first is the primary; README: Sealed fields, key rotation)")
		return
	}
	id, st := parseSessionCookie(r.Header, in.s.cookieName)
	switch st {
	case cookieAbsent:
		in.s.writeInternalError(rec, http.StatusBadRequest, "no_session", "forward the browser's Cookie header: it has no "+in.s.cookieName+" cookie")
		return
	case cookieMalformed:
		in.s.writeInternalError(rec, http.StatusBadRequest, "invalid_session", "the forwarded "+in.s.cookieName+" cookie is malformed")
		return
	}
	if op == "get" {
		in.get(rec, r, id)
	} else {
		in.put(rec, r, id)
	}
}

// authenticated checks the bearer secret and the client certificate,
// whichever are configured. The secret is compared as SHA-256 digests
// with subtle.ConstantTimeCompare, so the time taken does not depend on
// how much of it a caller guessed, nor on its length; a missing header
// takes the same path as a wrong one.
func (in *internal) authenticated(r *http.Request) bool {
	ok := true
	if in.token {
		presented, _ := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(presented))
		ok = in.compare(sum[:], in.sum[:]) == 1
	}
	if in.mtls && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		ok = false
	}
	return ok
}

// sealedRequest is the body of PUT. Values are decoded one by one
// (sealedValue), so that none is silently altered.
type sealedRequest struct {
	Sealed map[string]json.RawMessage `json:"sealed"`
}

// sealedValue decodes one sealed value: a JSON string, stored exactly as
// sent. encoding/json would turn null into "" and an unpaired surrogate
// escape (\ud800) into U+FFFD: a secret stored altered, with a 204.
// The body was checked to be valid UTF-8, so any U+FFFD the decoded
// string has beyond those the raw text spells is such an escape.
func sealedValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	if n := strings.Count(v, "\uFFFD"); n > 0 {
		spelled := bytes.Count(raw, []byte("\uFFFD")) + countEscapedFFFD(raw)
		if n > spelled {
			return "", false
		}
	}
	return v, true
}

// countEscapedFFFD counts the \ufffd escapes (any case) in the JSON
// string literal b, walking its escapes so that an escaped backslash
// followed by "ufffd" is not one.
func countEscapedFFFD(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) && strings.EqualFold(string(b[i+2:i+6]), "fffd") {
			n++
			i += 5
			continue
		}
		i++ // the escaped character
	}
	return n
}

func (in *internal) put(w http.ResponseWriter, r *http.Request, id string) {
	s := in.s
	if ct := r.Header.Get("Content-Type"); !isJSONMediaType(ct) {
		s.writeInternalError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("send the body as Content-Type: application/json (got %q)", ct))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeInternalError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes (--max-body-bytes)", s.cfg.MaxBodyBytes))
			return
		}
		s.writeInternalError(w, http.StatusBadRequest, "bad_body", "could not read the request body")
		return
	}
	if !utf8.Valid(body) {
		s.writeInternalError(w, http.StatusBadRequest, "invalid_utf8", fmt.Sprintf("request body is not valid UTF-8 (byte %d); JSON must be UTF-8 (RFC 8259): encode binary values, e.g. as base64", invalidUTF8At(body)))
		return
	}
	var req sealedRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() || req.Sealed == nil {
		// The decoder's message may quote the body: never echo secrets.
		s.writeInternalError(w, http.StatusBadRequest, "bad_json", `body must be one JSON object {"sealed": {"name": "value", ...}} with string values ({} removes every field)`)
		return
	}
	m := make(map[string][]byte, len(req.Sealed))
	for name, raw := range req.Sealed {
		if !validSealedName(name) {
			s.writeInternalError(w, http.StatusBadRequest, "invalid_name", fmt.Sprintf("sealed field names are 1-%d characters of A-Z a-z 0-9 _ . - (got %q)", maxSealedNameLen, truncate(name, maxSealedNameLen)))
			return
		}
		v, ok := sealedValue(raw)
		if !ok {
			// Never echo the value: it is a secret.
			s.writeInternalError(w, http.StatusBadRequest, "invalid_value", fmt.Sprintf("sealed.%s must be a JSON string of valid Unicode (not null, a number or an unpaired surrogate escape such as \\ud800); encode binary values, e.g. as base64", name))
			return
		}
		m[name] = []byte(v)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	err = in.store.SetSealed(ctx, id, m)
	if !in.storeError(w, r, "set_sealed", err) {
		return
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	// Names only: the values are secrets.
	s.log.InfoContext(r.Context(), "sealed fields set", "handle_prefix", handlePrefix(id), "fields", strings.Join(names, ","))
	h := w.Header()
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
}

func (in *internal) get(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), in.s.cfg.RequestTimeout)
	defer cancel()
	sess, err := in.store.Sealed(ctx, id)
	if !in.storeError(w, r, "get_sealed", err) {
		return
	}
	names := make([]string, 0, len(sess.Sealed))
	for k := range sess.Sealed {
		names = append(names, k)
	}
	sort.Strings(names)
	bp := in.s.bufs.get()
	b := append(*bp, `{"user_id":`...)
	b = appendString(b, sess.UserID)
	b = append(b, `,"sealed":{`...)
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, string(sess.Sealed[k]))
	}
	b = append(b, "}}\n"...)
	writeJSON(w, http.StatusOK, b)
	clear(b) // the buffer goes back to a pool: leave no secret in it
	*bp = b
	in.s.bufs.put(bp)
}

// storeError answers a store failure and reports whether there was none.
func (in *internal) storeError(w http.ResponseWriter, r *http.Request, op string, err error) bool {
	s := in.s
	switch {
	case err == nil:
		return true
	case errors.Is(err, session.ErrNotFound):
		s.writeInternalError(w, http.StatusNotFound, "unknown_session", "no live session for the forwarded cookie")
	case errors.Is(err, session.ErrExpired):
		s.writeInternalError(w, http.StatusNotFound, "session_expired", "the forwarded cookie's session expired")
	case errors.Is(err, session.ErrMalformedID):
		s.writeInternalError(w, http.StatusBadRequest, "invalid_session", "the forwarded cookie is malformed")
	case errors.Is(err, session.ErrSealedTooLarge):
		s.writeInternalError(w, http.StatusRequestEntityTooLarge, "sealed_too_large", strings.TrimPrefix(err.Error(), "session: "))
	case errors.Is(err, session.ErrSealOpen):
		// A rotated-out key or a tampered blob: the operator's problem,
		// not the backend's request.
		if ok, dropped := s.storeLog.allow(s.cfg.Now()); ok {
			s.log.ErrorContext(r.Context(), "sealed fields cannot be decrypted (was their key removed from the sealing keys too early?)", "op", op, "err", err, "suppressed", dropped)
		}
		s.writeInternalError(w, http.StatusInternalServerError, "sealed_unreadable", "the session's sealed fields cannot be decrypted with the configured keys; set them again")
	case errors.Is(err, session.ErrNoSealer):
		s.writeInternalError(w, http.StatusNotImplemented, "sealing_disabled", "this sessiond has no sealing keys")
	default:
		s.storeFailed(w, r, op, err)
	}
	return false
}

func validSealedName(n string) bool {
	if n == "" || len(n) > maxSealedNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// writeInternalError is writeError for the internal API: the same JSON,
// counted in sessiond_internal_requests_total instead of the public
// API's refusal metric.
func (s *Server) writeInternalError(w http.ResponseWriter, status int, code, msg string) {
	bp := s.bufs.get()
	b := append(*bp, `{"error":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, "}\n"...)
	writeJSON(w, status, b)
	*bp = b
	s.bufs.put(bp)
}
