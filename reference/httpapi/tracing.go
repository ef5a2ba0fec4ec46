package httpapi

// This file holds the OpenTelemetry tracing of the API, installed only
// when Config.TracerProvider is set: otelhttp's server span around each
// request (W3C traceparent honoured), spans of our own around the store
// and the token verifier, and attributes that help without leaking: the
// operation, its outcome, the refusal reason and a prefix of the session
// handle. Never the session ID, the token, the email or the user ID.
// With tracing off nothing here runs: no wrapper, no span, no attribute.

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/session"
)

// TracerName is the instrumentation scope of the API's own spans.
const TracerName = "github.com/sessionbench/sessionbench/reference/httpapi"

// Span attributes set by the API.
const (
	// AttrOperation: create, validate, destroy, destroy_handle, destroy_all,
	// list, verify_token.
	AttrOperation = attribute.Key("sessiond.operation")
	// AttrOutcome: ok, refused (the client's fault: 4xx) or error (5xx).
	AttrOutcome = attribute.Key("sessiond.outcome")
	// AttrRefusalReason is the error code of a refusal, as in the JSON
	// body and sessiond_sessions_refused_total (unknown_session, stale_auth...).
	AttrRefusalReason = attribute.Key("sessiond.refusal_reason")
	// AttrErrorCode is the error code of a 5xx answer (store_unavailable...).
	AttrErrorCode = attribute.Key("sessiond.error_code")
	// AttrHandlePrefix is the first HandlePrefixLen characters of the
	// session's handle (the "id" GET /v1/sessions lists), never the ID.
	AttrHandlePrefix = attribute.Key("sessiond.session.handle_prefix")
	// AttrRoute is the request's metrics route label ("GET /v1/sessions/current").
	AttrRoute = attribute.Key("sessiond.route")
	// AttrAuthMode is the verifier's mode (firebase, emulator, local).
	AttrAuthMode = attribute.Key("sessiond.auth.mode")
	// AttrTouched: a validate wrote a new idle expiry.
	AttrTouched = attribute.Key("sessiond.session.touched")
	// AttrCount is the number of sessions listed or destroyed.
	AttrCount = attribute.Key("sessiond.sessions")
)

// Outcomes of AttrOutcome.
const (
	outcomeOK      = "ok"
	outcomeRefused = "refused"
	outcomeError   = "error"
)

// traceContext is the propagator: W3C traceparent/tracestate only, no
// baggage from the internet.
var traceContext = propagation.TraceContext{}

// setupTracing installs tracing when tp is set: it wraps the store and
// the verifier and builds the otelhttp handler serveTraced goes through.
func (s *Server) setupTracing(tp trace.TracerProvider, sample func(trace.SpanContext) bool) {
	if tp == nil {
		return
	}
	s.sample = sample
	s.tracer = tp.Tracer(TracerName)
	s.store = tracedStore{API: s.store, tracer: s.tracer}
	s.verify = tracedVerifier{Verifier: s.verify, tracer: s.tracer}
	s.traced = otelhttp.NewHandler(http.HandlerFunc(s.serve), "sessiond",
		otelhttp.WithTracerProvider(tp),
		// sessiond's metrics are Prometheus's; otelhttp's would be a second copy.
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPropagators(traceContext),
		// The route label, not the path: a bounded set of span names.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return routeLabel(r.Method, r.URL.Path) }),
		otelhttp.WithFilter(traceable),
	)
}

// serveTraced serves a request with tracing on: through otelhttp when it
// is to be traced, else straight to serve with no span started. An
// unsampled caller's span context is kept in the request context, so
// that log lines still name the caller's trace.
func (s *Server) serveTraced(w http.ResponseWriter, r *http.Request) {
	if s.sample == nil {
		s.traced.ServeHTTP(w, r)
		return
	}
	if !traceable(r) {
		s.serve(w, r)
		return
	}
	var parent trace.SpanContext
	if len(r.Header["Traceparent"]) > 0 { // canonical key: Get would canonicalise "traceparent" on every request
		parent = trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.HeaderCarrier(r.Header)))
	}
	if s.sample(parent) {
		s.traced.ServeHTTP(w, r)
		return
	}
	if parent.IsValid() {
		r = r.WithContext(trace.ContextWithRemoteSpanContext(r.Context(), parent))
	}
	s.serve(w, r)
}

// traceable leaves probes and scrapes out of the traces: they are many,
// periodic and uninteresting.
func traceable(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return false
	}
	return true
}

// annotateRequest adds the route, outcome and refusal reason to the
// request's server span.
func annotateRequest(ctx context.Context, route string, status int, code string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, AttrRoute.String(route))
	switch {
	case status >= 500:
		attrs = append(attrs, AttrOutcome.String(outcomeError))
		if code != "" {
			attrs = append(attrs, AttrErrorCode.String(code))
		}
	case status >= 400:
		attrs = append(attrs, AttrOutcome.String(outcomeRefused))
		if code != "" {
			attrs = append(attrs, AttrRefusalReason.String(code))
		}
	default:
		attrs = append(attrs, AttrOutcome.String(outcomeOK))
	}
	span.SetAttributes(attrs...)
}

// storeRefusal maps the store's client-fault errors to the API's error
// codes; "" means the error is the backend's (or there is none).
func storeRefusal(err error) string {
	switch {
	case errors.Is(err, session.ErrNotFound):
		return "unknown_session"
	case errors.Is(err, session.ErrExpired):
		return "session_expired"
	case errors.Is(err, session.ErrMalformedID):
		return "invalid_session"
	case errors.Is(err, session.ErrDataTooLarge):
		return "data_too_large"
	case errors.Is(err, session.ErrInvalidData):
		return "invalid_data"
	case errors.Is(err, session.ErrInvalidSession):
		return "invalid_token"
	}
	return ""
}

// authRefusal is storeRefusal for the verifier.
func authRefusal(err error) string {
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return "token_revoked"
	case errors.Is(err, auth.ErrUserDisabled):
		return "user_disabled"
	case errors.Is(err, auth.ErrInvalidToken):
		return "invalid_token"
	}
	return ""
}

// endSpan records op's outcome on span and ends it. Attributes are built
// only for recording (sampled) spans.
func endSpan(span trace.Span, op string, err error, refusal func(error) string, extra ...attribute.KeyValue) {
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 3+len(extra))
		attrs = append(attrs, AttrOperation.String(op))
		switch reason := refusal(err); {
		case err == nil:
			attrs = append(attrs, AttrOutcome.String(outcomeOK))
		case reason != "":
			attrs = append(attrs, AttrOutcome.String(outcomeRefused), AttrRefusalReason.String(reason))
		default:
			// Store and verifier errors name the operation and the
			// backend's failure, never a session ID, token or email.
			attrs = append(attrs, AttrOutcome.String(outcomeError))
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(append(attrs, extra...)...)
	}
	span.End()
}

// tracedStore wraps the store's request-path methods in spans, started
// only under a recording (sampled) request span: an unsampled request
// pays one context lookup per call. Methods it does not override (Ping,
// UpdateData, any added later) pass through untraced, their Redis
// commands still traced by redisotel.
type tracedStore struct {
	session.API
	tracer trace.Tracer
}

// recording reports whether ctx holds a recording span to hang a child on.
func recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

func (t tracedStore) Create(ctx context.Context, ns session.NewSession) (string, *session.Session, error) {
	if !recording(ctx) {
		return t.API.Create(ctx, ns)
	}
	ctx, span := t.tracer.Start(ctx, "session.create")
	id, sess, err := t.API.Create(ctx, ns)
	var extra []attribute.KeyValue
	if err == nil && span.IsRecording() {
		extra = append(extra, AttrHandlePrefix.String(handlePrefix(id)))
	}
	endSpan(span, "create", err, storeRefusal, extra...)
	return id, sess, err
}

func (t tracedStore) Validate(ctx context.Context, id string) (*session.Session, error) {
	if !recording(ctx) {
		return t.API.Validate(ctx, id)
	}
	ctx, span := t.tracer.Start(ctx, "session.validate")
	sess, err := t.API.Validate(ctx, id)
	if span.IsRecording() {
		extra := []attribute.KeyValue{AttrHandlePrefix.String(handlePrefix(id))}
		if err == nil {
			extra = append(extra, AttrTouched.Bool(sess.Touched))
		}
		endSpan(span, "validate", err, storeRefusal, extra...)
	} else {
		span.End()
	}
	return sess, err
}

func (t tracedStore) Destroy(ctx context.Context, id string) error {
	if !recording(ctx) {
		return t.API.Destroy(ctx, id)
	}
	ctx, span := t.tracer.Start(ctx, "session.destroy")
	err := t.API.Destroy(ctx, id)
	var extra []attribute.KeyValue
	if span.IsRecording() {
		extra = append(extra, AttrHandlePrefix.String(handlePrefix(id)))
	}
	endSpan(span, "destroy", err, storeRefusal, extra...)
	return err
}

func (t tracedStore) DestroyAll(ctx context.Context, userID string) (int, error) {
	if !recording(ctx) {
		return t.API.DestroyAll(ctx, userID)
	}
	ctx, span := t.tracer.Start(ctx, "session.destroy_all")
	n, err := t.API.DestroyAll(ctx, userID)
	endSpan(span, "destroy_all", err, storeRefusal, AttrCount.Int(n))
	return n, err
}

func (t tracedStore) List(ctx context.Context, userID, currentID string) ([]session.Info, error) {
	if !recording(ctx) {
		return t.API.List(ctx, userID, currentID)
	}
	ctx, span := t.tracer.Start(ctx, "session.list")
	infos, err := t.API.List(ctx, userID, currentID)
	var extra []attribute.KeyValue
	if span.IsRecording() {
		extra = append(extra, AttrHandlePrefix.String(handlePrefix(currentID)), AttrCount.Int(len(infos)))
	}
	endSpan(span, "list", err, storeRefusal, extra...)
	return infos, err
}

func (t tracedStore) DestroyHandle(ctx context.Context, userID, handle string) error {
	if !recording(ctx) {
		return t.API.DestroyHandle(ctx, userID, handle)
	}
	ctx, span := t.tracer.Start(ctx, "session.destroy_handle")
	err := t.API.DestroyHandle(ctx, userID, handle)
	endSpan(span, "destroy_handle", err, storeRefusal, AttrHandlePrefix.String(handle[:min(len(handle), HandlePrefixLen)]))
	return err
}

// tracedVerifier wraps token verification in a span.
type tracedVerifier struct {
	auth.Verifier
	tracer trace.Tracer
}

func (t tracedVerifier) Verify(ctx context.Context, idToken string, checkRevoked bool) (*auth.Token, error) {
	if !recording(ctx) {
		return t.Verifier.Verify(ctx, idToken, checkRevoked)
	}
	ctx, span := t.tracer.Start(ctx, "auth.verify_token")
	tok, err := t.Verifier.Verify(ctx, idToken, checkRevoked)
	endSpan(span, "verify_token", err, authRefusal, AttrAuthMode.String(t.Verifier.Mode()), attribute.Bool("sessiond.auth.check_revoked", checkRevoked))
	return tok, err
}
