package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/session"
)

// createRequest is the optional body of POST /v1/sessions.
type createRequest struct {
	Data json.RawMessage `json:"data"`
}

// handleCreate: Bearer ID token (+ optional {"data":{...}}) -> 201, the
// session's JSON and the session cookie.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond"`)
		s.writeError(w, http.StatusUnauthorized, "missing_token", "send the Firebase ID token as Authorization: Bearer <token>")
		return
	}
	data, status, code, msg := s.readCreateBody(w, r)
	if status != 0 {
		s.writeError(w, status, code, msg)
		return
	}

	vctx, vcancel := context.WithTimeout(r.Context(), s.cfg.VerifyTimeout)
	tok, err := s.verify.Verify(vctx, token, s.cfg.CheckRevoked)
	vcancel()
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrRevoked):
			s.writeError(w, http.StatusUnauthorized, "token_revoked", "the ID token was revoked; sign in again")
		case errors.Is(err, auth.ErrUserDisabled):
			s.writeError(w, http.StatusUnauthorized, "user_disabled", "the user account is disabled")
		case errors.Is(err, auth.ErrInvalidToken):
			s.writeError(w, http.StatusUnauthorized, "invalid_token", "the ID token is invalid or expired; sign in again")
		default:
			if ok, dropped := s.verifyLog.allow(s.cfg.Now()); ok {
				s.log.Error("token verifier undecided (logged at most once a second)", "mode", s.verify.Mode(), "err", err, "suppressed", dropped)
			}
			s.writeError(w, http.StatusServiceUnavailable, "auth_unavailable", "cannot verify the ID token right now; retry later")
		}
		return
	}
	if tok.AuthTime.IsZero() || s.cfg.Now().Sub(tok.AuthTime) > s.cfg.RecentAuth {
		s.writeError(w, http.StatusUnauthorized, "stale_auth",
			fmt.Sprintf("creating a session needs a sign-in within the last %s; sign in again", s.cfg.RecentAuth))
		return
	}

	// A browser that logs in again while it holds a session (a page that
	// posts a fresh token on every load) replaces that session instead of
	// leaving it behind (OWASP: renew the session at login).
	replaces, _ := parseSessionCookie(r.Header, s.cookieName)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	email := tok.Email
	if s.cfg.OmitEmail {
		email = ""
	}
	id, sess, err := s.store.Create(ctx, session.NewSession{
		UserID:    tok.UID,
		Email:     email,
		Tenant:    tok.Tenant,
		AuthTime:  tok.AuthTime,
		UserAgent: r.UserAgent(),
		ClientIP:  s.clientIP(r),
		Data:      data,
		Replaces:  replaces,
	})
	if err != nil {
		switch {
		case errors.Is(err, session.ErrDataTooLarge):
			s.writeError(w, http.StatusRequestEntityTooLarge, "data_too_large", "data is larger than the configured maximum (--max-data-bytes)")
		case errors.Is(err, session.ErrInvalidData):
			s.writeError(w, http.StatusBadRequest, "invalid_data", `"data" must be a JSON object`)
		case errors.Is(err, session.ErrInvalidSession):
			// The token verified but carries claims no session can hold
			// (e.g. a 400-byte email): the client's token, not our store.
			s.writeError(w, http.StatusUnauthorized, "invalid_token", "the ID token's claims cannot start a session: "+strings.TrimPrefix(err.Error(), session.ErrInvalidSession.Error()+": "))
		default:
			s.storeFailed(w, r, "create", err)
		}
		return
	}
	s.metrics.created.Inc()
	s.audit(r.Context(), auditCreated, "login", handlePrefix(id), tok.UID)
	if sess.Replaced {
		s.metrics.destroyed.Inc()
		// The replaced session may have been another user's: no user_id.
		s.audit(r.Context(), auditRotated, "login", handlePrefix(replaces), "", slog.String("new_handle_prefix", handlePrefix(id)))
	}
	for _, h := range sess.CapEnded {
		if len(h) < HandlePrefixLen {
			continue // not a handle (a malformed index member)
		}
		// The same user's older sessions, ended to keep within
		// --max-sessions-per-user.
		s.metrics.destroyed.Inc()
		s.audit(r.Context(), auditRevoked, "session_cap", h[:HandlePrefixLen], tok.UID, slog.String("by_handle_prefix", handlePrefix(id)))
	}
	for _, h := range sess.CapUncertain {
		if len(h) < HandlePrefixLen {
			continue
		}
		// Redis did not answer the delete in time: it may have run. Not
		// counted as destroyed; the audit must not lose it either.
		s.audit(r.Context(), auditRevoked, "session_cap", h[:HandlePrefixLen], tok.UID, slog.String("by_handle_prefix", handlePrefix(id)),
			slog.String("outcome", "unknown"))
	}
	w.Header()["Set-Cookie"] = []string{s.cookieName + "=" + id + s.cookieSuffix}
	bp := s.bufs.get()
	b := appendSessionFields(*bp, sess)
	b = append(b, `,"rotated":`...)
	b = strconv.AppendBool(b, sess.Replaced)
	b = append(b, "}\n"...)
	writeJSON(w, http.StatusCreated, b)
	*bp = b
	s.bufs.put(bp)
}

// readCreateBody reads and checks the optional create body. A non-zero
// status is a client error to report.
func (s *Server) readCreateBody(w http.ResponseWriter, r *http.Request) (data json.RawMessage, status int, code, msg string) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0, "", ""
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, "bad_body", "could not read the request body"
	}
	if len(body) == 0 {
		return nil, 0, "", ""
	}
	// A body must say it is JSON: a cross-site <form> can only send
	// form or text/plain bodies without a preflight, and a wrong type is
	// a client bug worth naming.
	if ct := r.Header.Get("Content-Type"); !isJSONMediaType(ct) {
		return nil, http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("send the body as Content-Type: application/json (got %q)", ct)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, 0, "", ""
	}
	// encoding/json would replace invalid UTF-8 in "data" with U+FFFD on
	// the way in but keep it raw in json.RawMessage: refuse it instead
	// of storing and echoing bytes RFC 8259 does not allow.
	if !utf8.Valid(body) {
		return nil, http.StatusBadRequest, "invalid_utf8", fmt.Sprintf("request body is not valid UTF-8 (byte %d); JSON must be UTF-8 (RFC 8259)", invalidUTF8At(body))
	}
	var req createRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, http.StatusBadRequest, "bad_json", `body must be JSON like {"data": {...}}: ` + err.Error()
	}
	if dec.More() {
		return nil, http.StatusBadRequest, "bad_json", "body must hold a single JSON object"
	}
	d := bytes.TrimSpace(req.Data)
	if len(d) == 0 || string(d) == "null" {
		return nil, 0, "", ""
	}
	if d[0] != '{' {
		return nil, http.StatusBadRequest, "invalid_data", `"data" must be a JSON object`
	}
	return d, 0, "", ""
}

// isJSONMediaType reports whether a Content-Type is application/json,
// with no charset or charset=utf-8 (JSON has no other encoding, RFC 8259).
func isJSONMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// invalidUTF8At returns the offset of the first byte of b that is not
// part of a valid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// handleCurrent validates the cookie's session: the hot path, one store
// call and no reflection.
func (s *Server) handleCurrent(w http.ResponseWriter, r *http.Request) {
	_, sess, ok := s.validate(w, r)
	if !ok {
		return
	}
	s.writeSession(w, http.StatusOK, sess)
}

// validate reads the cookie, validates it against the store and applies
// user-agent binding. On failure it has written the response.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) (string, *session.Session, bool) {
	id, st := parseSessionCookie(r.Header, s.cookieName)
	switch st {
	case cookieAbsent:
		s.writeError(w, http.StatusUnauthorized, "no_session", "no session cookie; create a session first")
		return "", nil, false
	case cookieMalformed:
		w.Header()["Set-Cookie"] = []string{s.clearCookie}
		s.writeError(w, http.StatusUnauthorized, "invalid_session", "the session cookie is malformed")
		return "", nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	sess, err := s.store.Validate(ctx, id)
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, session.ErrNotFound):
			w.Header()["Set-Cookie"] = []string{s.clearCookie}
			s.writeError(w, http.StatusUnauthorized, "unknown_session", "no live session for this cookie; sign in again")
		case errors.Is(err, session.ErrExpired):
			w.Header()["Set-Cookie"] = []string{s.clearCookie}
			s.writeError(w, http.StatusUnauthorized, "session_expired", "the session expired; sign in again")
		case errors.Is(err, session.ErrMalformedID):
			w.Header()["Set-Cookie"] = []string{s.clearCookie}
			s.writeError(w, http.StatusUnauthorized, "invalid_session", "the session cookie is malformed")
		default:
			op := "validate"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				// The write this validate guards never began.
				op = "validate_before_write"
			}
			s.storeFailed(w, r, op, err)
		}
		return "", nil, false
	}
	// The store keeps the header's first 512 bytes and, for a longer one,
	// its SHA-256: UserAgentMatches compares the request's header in
	// that same form.
	if s.cfg.BindUserAgent != BindOff && !sess.UserAgentMatches(r.UserAgent()) {
		s.metrics.uaMismatch.Inc()
		if ok, dropped := s.uaLog.allow(s.cfg.Now()); ok {
			s.log.Warn("session used from another user agent (logged at most once a second; see sessiond_user_agent_mismatch_total)",
				"session", idHash(id), "user", sess.UserID, "mode", s.cfg.BindUserAgent,
				"created_ua", sess.UserAgent, "request_ua", r.UserAgent(), "suppressed", dropped)
		}
		if s.cfg.BindUserAgent == BindEnforce {
			dctx, dcancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
			err := s.store.Destroy(dctx, id)
			dcancel()
			if err != nil && !errors.Is(err, session.ErrNotFound) {
				s.storeFailed(w, r, "destroy", err)
				return "", nil, false
			}
			if err == nil { // ErrNotFound: a concurrent logout already counted it
				s.metrics.destroyed.Inc()
				s.audit(r.Context(), auditRevoked, "user_agent_mismatch", handlePrefix(id), sess.UserID)
			}
			w.Header()["Set-Cookie"] = []string{s.clearCookie}
			s.writeError(w, http.StatusUnauthorized, "user_agent_mismatch", "the session was created by another user agent; it has been ended, sign in again")
			return "", nil, false
		}
	}
	if s.recheck != nil && !s.recheckUser(w, r, id, sess) {
		return "", nil, false
	}
	s.metrics.validated.Inc()
	if sess.Touched {
		s.metrics.touches.Inc()
	}
	return id, sess, true
}

// recheckUser applies --recheck-user: when the session is older than the
// interval (a new one was checked at creation) and this instance has no
// answer about its user younger than the interval, it asks Firebase.
// A disabled, deleted or revoked user's session is ended (401 with the
// reason). When Firebase cannot answer it fails closed: 503, the session
// kept. On failure it has written the response.
func (s *Server) recheckUser(w http.ResponseWriter, r *http.Request, id string, sess *session.Session) bool {
	now := s.cfg.Now()
	need := now.Sub(sess.CreatedAt) >= s.cfg.RecheckUser
	e, err := s.recheck.user(r.Context(), sess.UserID, now, need)
	if err != nil {
		if ok, dropped := s.recheckLog.allow(now); ok {
			s.log.Error("cannot check the session's user with Firebase; failing closed (logged at most once a second)",
				"user", sess.UserID, "err", err, "suppressed", dropped)
		}
		w.Header().Set("Retry-After", "5")
		s.writeError(w, http.StatusServiceUnavailable, "auth_unavailable", "cannot check the user with Firebase right now; retry later")
		return false
	}
	if e == nil {
		return true
	}
	code, msg := e.verdict(sess.AuthTime)
	if code == "" {
		return true
	}
	dctx, dcancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	err = s.store.Destroy(dctx, id)
	dcancel()
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		s.storeFailed(w, r, "destroy", err)
		return false
	}
	if err == nil {
		s.metrics.destroyed.Inc()
		s.audit(r.Context(), auditRevoked, code, handlePrefix(id), sess.UserID)
	}
	w.Header()["Set-Cookie"] = []string{s.clearCookie}
	s.writeError(w, http.StatusUnauthorized, code, msg)
	return false
}

// handleDestroy ends the cookie's session. Idempotent: no cookie, a
// malformed one or an unknown session all answer 204 and clear the cookie.
func (s *Server) handleDestroy(w http.ResponseWriter, r *http.Request) {
	id, st := parseSessionCookie(r.Header, s.cookieName)
	if st == cookieOK {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		err := s.store.Destroy(ctx, id)
		cancel()
		switch {
		case err == nil:
			s.metrics.destroyed.Inc()
			s.audit(r.Context(), auditDestroyed, "logout", handlePrefix(id), "")
		case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrMalformedID), errors.Is(err, session.ErrExpired):
		default:
			s.storeFailed(w, r, "destroy", err)
			return
		}
	}
	h := w.Header()
	h["Set-Cookie"] = []string{s.clearCookie}
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
}

// handleDestroyHandle logs out one of the caller's sessions, named by the
// id GET /v1/sessions lists: 204, or 404 when the caller has no session
// with that id (another user's ids are never looked up, so they cannot
// be probed). Ending the caller's own session also expires its cookie.
func (s *Server) handleDestroyHandle(w http.ResponseWriter, r *http.Request, handle string) {
	id, sess, ok := s.validate(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	err := s.store.DestroyHandle(ctx, sess.UserID, handle)
	switch {
	case errors.Is(err, session.ErrNotFound):
		s.writeError(w, http.StatusNotFound, "unknown_session", "you have no session with this id; list yours with GET /v1/sessions")
		return
	case err != nil:
		s.storeFailed(w, r, "destroy_handle", err)
		return
	}
	s.metrics.destroyed.Inc()
	s.audit(r.Context(), auditDestroyed, "logout_device", handle[:min(len(handle), HandlePrefixLen)], sess.UserID)
	h := w.Header()
	if own, _ := session.Handle(id); own == handle {
		h["Set-Cookie"] = []string{s.clearCookie}
	}
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
}

// listResponse is the body of GET /v1/sessions.
type listResponse struct {
	Sessions []session.Info `json:"sessions"`
}

// handleList lists the caller's live sessions.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	id, sess, ok := s.validate(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	infos, err := s.store.List(ctx, sess.UserID, id)
	if err != nil {
		s.storeFailed(w, r, "list", err)
		return
	}
	if infos == nil {
		infos = []session.Info{}
	}
	body, err := json.Marshal(listResponse{Sessions: infos})
	if err != nil {
		s.log.Error("encoding session list", "err", err)
		s.writeError(w, http.StatusInternalServerError, "internal", "internal server error")
		return
	}
	writeJSON(w, http.StatusOK, append(body, '\n'))
}

// handleDestroyAll logs the caller out everywhere: 200 {"destroyed": N}
// and an expiring cookie.
func (s *Server) handleDestroyAll(w http.ResponseWriter, r *http.Request) {
	id, sess, ok := s.validate(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	n, err := s.store.DestroyAll(ctx, sess.UserID)
	if errors.Is(err, session.ErrLogoutUnconfirmed) {
		s.metrics.destroyed.Add(float64(n))
		s.audit(r.Context(), auditDestroyed, "logout_everywhere", handlePrefix(id), sess.UserID, slog.Int("count", n), slog.Bool("unconfirmed", true))
		w.Header()["Set-Cookie"] = []string{s.clearCookie}
		s.log.Error("logout everywhere unconfirmed: Redis has evicted keys, so the user index may be incomplete (run Redis with maxmemory-policy noeviction)",
			"user", sess.UserID, "destroyed", n, "err", err)
		s.writeErrorOutcome(w, http.StatusServiceUnavailable, "logout_unconfirmed",
			fmt.Sprintf("%d sessions were ended, but Redis has evicted keys recently, so others may remain; the operator must run Redis with maxmemory-policy noeviction", n), "unknown")
		return
	}
	if err != nil {
		s.storeFailed(w, r, "destroy_all", err)
		return
	}
	s.metrics.destroyed.Add(float64(n))
	// One event for the batch: DestroyAll does not return the handles.
	s.audit(r.Context(), auditDestroyed, "logout_everywhere", handlePrefix(id), sess.UserID, slog.Int("count", n))
	w.Header()["Set-Cookie"] = []string{s.clearCookie}
	writeJSON(w, http.StatusOK, fmt.Appendf(nil, `{"destroyed":%d}`+"\n", n))
}

// storeFailed answers 503: the store could not decide, so fail closed.
// For a write it says what the client may assume ("outcome"): a failed
// create never leaves a session; a logout either did not happen or its
// outcome is unknown, and in no case happens later (see package session,
// "Failed writes").
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	if ok, dropped := s.storeLog.allow(s.cfg.Now()); ok {
		// With the request's context, so a traced request's line carries
		// its trace and span.
		s.log.ErrorContext(r.Context(), "session store failed (logged at most once a second; sessiond_http_requests_total counts every 503)",
			"op", op, "err", err, "suppressed", dropped)
	}
	w.Header().Set("Retry-After", "1")
	msg, outcome := "session store unavailable; retry later", ""
	switch op {
	case "create":
		outcome = "not_applied"
		msg = "session store unavailable; no session was created; retry later"
		if errors.Is(err, session.ErrOutOfMemory) {
			msg = "session store is full (Redis maxmemory); no session was created; retry later"
		}
	case "validate_before_write":
		outcome = "not_applied"
		msg = "session store unavailable; the session could not be checked, so nothing was changed; retry later"
	case "set_sealed":
		outcome, msg = writeOutcome(err,
			"session store unavailable; the sealed fields were not written; retry the PUT",
			"session store did not confirm the sealed fields were written: they may or may not have been, and cannot be later; retry the PUT (it replaces them whole)")
	case "destroy", "destroy_all", "destroy_handle":
		outcome, msg = writeOutcome(err,
			"session store unavailable; the logout did not take effect; retry it",
			"session store did not confirm the logout: it may or may not have taken effect, and cannot take effect later; retry it")
	}
	s.writeErrorOutcome(w, http.StatusServiceUnavailable, "store_unavailable", msg, outcome)
}

// writeOutcome is the outcome of a failed write that may have run, and
// the message for it: not applied (Redis refused it, or it was never
// sent) or unknown (no answer: it may have run, and never runs later).
func writeOutcome(err error, notApplied, unknown string) (outcome, msg string) {
	if errors.Is(err, session.ErrNotApplied) {
		return "not_applied", notApplied
	}
	return "unknown", unknown
}

func (s *Server) writeSession(w http.ResponseWriter, status int, sess *session.Session) {
	bp := s.bufs.get()
	b := appendSession(*bp, sess)
	writeJSON(w, status, b)
	*bp = b
	s.bufs.put(bp)
}

// bearerToken extracts the token of "Bearer <token>" (scheme case-insensitive).
func bearerToken(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

// clientIP is RemoteAddr's host, or with TrustProxy the right-most
// X-Forwarded-For entry (the address the nearest proxy saw).
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// idHash is a short, non-reversible label for a session ID in logs.
func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:6])
}
