package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/cloudlog"
	"github.com/sessionbench/sessionbench/reference/session"
	"github.com/sessionbench/sessionbench/reference/telemetry"
)

// tracedEnv is a testEnv with tracing on: every span is recorded
// synchronously, the logs are Cloud Logging JSON, and the Redis client is
// instrumented as sessiond instruments it.
type tracedEnv struct {
	*testEnv
	rec  *tracetest.SpanRecorder
	logs *testsvc.SyncBuffer
}

func newTracedEnv(t *testing.T, sampler sdktrace.Sampler, o envOptions) *tracedEnv {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
	logs := &testsvc.SyncBuffer{}
	inner := o.cfg
	o.cfg = func(c *Config) {
		c.TracerProvider = tp
		c.AccessLog = true
		c.Logger = slog.New(cloudlog.NewHandler(logs, &cloudlog.Options{Level: slog.LevelDebug, ProjectID: testProject}))
		if inner != nil {
			inner(c)
		}
	}
	e := newEnv(t, o)
	if err := telemetry.InstrumentRedis(e.rdb, tp); err != nil {
		t.Fatal(err)
	}
	return &tracedEnv{testEnv: e, rec: rec, logs: logs}
}

// serve runs one request through the handler synchronously: when it
// returns, every span of the request has ended. hdr are "Name: value".
func (e *tracedEnv) serve(method, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, req)
	return w
}

// createSession logs uid in and returns the session ID and the token.
func (e *tracedEnv) createSession(t *testing.T, uid string, hdr ...string) (id, token string) {
	t.Helper()
	token = e.token(uid, authtest.WithEmail(uid+"@example.com"))
	w := e.serve("POST", "/v1/sessions", append([]string{"Authorization: Bearer " + token}, hdr...)...)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	v := w.Result().Cookies()[0].Value
	if !session.ValidID(v) {
		t.Fatalf("create set cookie %q", v)
	}
	return v, token
}

// spansNamed returns the ended spans called name, in end order.
func (e *tracedEnv) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// lastSpan returns the last ended span called name, failing if none.
func (e *tracedEnv) lastSpan(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	ss := e.spansNamed(name)
	if len(ss) == 0 {
		var names []string
		for _, s := range e.rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("no span %q among %v", name, names)
	}
	return ss[len(ss)-1]
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, a := range s.Attributes() {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}

// wantAttrs checks that span has every key=value of want.
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %s: %s = %q, want %q (all: %v)", s.Name(), k, got[k], v, got)
		}
	}
}

func TestTracingOffInstallsNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	if e.api.tracer != nil || e.api.traced != nil {
		t.Fatal("tracer or otelhttp handler installed without a TracerProvider")
	}
	if _, ok := e.api.store.(tracedStore); ok {
		t.Fatal("store wrapped without a TracerProvider")
	}
	if _, ok := e.api.verify.(tracedVerifier); ok {
		t.Fatal("verifier wrapped without a TracerProvider")
	}
}

func TestTracedRequestsHaveOperationSpansWithSafeAttributes(t *testing.T) {
	e := newTracedEnv(t, sdktrace.AlwaysSample(), envOptions{})
	id, _ := e.createSession(t, "alice")
	prefix := handlePrefix(id)
	if len(prefix) != HandlePrefixLen {
		t.Fatalf("handle prefix %q", prefix)
	}

	srv := e.lastSpan(t, "POST /v1/sessions")
	if srv.SpanKind() != trace.SpanKindServer {
		t.Errorf("create's request span kind %v, want server", srv.SpanKind())
	}
	wantAttrs(t, srv, map[string]string{"sessiond.route": "POST /v1/sessions", "sessiond.outcome": "ok", "http.response.status_code": "201"})
	verify := e.lastSpan(t, "auth.verify_token")
	wantAttrs(t, verify, map[string]string{"sessiond.operation": "verify_token", "sessiond.outcome": "ok", "sessiond.auth.mode": "local"})
	create := e.lastSpan(t, "session.create")
	wantAttrs(t, create, map[string]string{"sessiond.operation": "create", "sessiond.outcome": "ok", "sessiond.session.handle_prefix": prefix})
	for _, s := range []sdktrace.ReadOnlySpan{verify, create} {
		if s.Parent().SpanID() != srv.SpanContext().SpanID() || s.SpanContext().TraceID() != srv.SpanContext().TraceID() {
			t.Errorf("span %s is not a child of the request span", s.Name())
		}
	}
	// redisotel's command spans hang under session.create.
	var redisChildren int
	for _, s := range e.rec.Ended() {
		if s.Parent().SpanID() == create.SpanContext().SpanID() {
			redisChildren++
			if s.SpanKind() != trace.SpanKindClient || attrs(s)["db.system"] != "redis" {
				t.Errorf("child %s of session.create: kind %v attrs %v, want a redis client span", s.Name(), s.SpanKind(), attrs(s))
			}
		}
	}
	if redisChildren == 0 {
		t.Error("no Redis command span under session.create")
	}

	// Validate: ok, with the handle prefix and the touch flag.
	if w := e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id); w.Code != http.StatusOK {
		t.Fatalf("validate: %d", w.Code)
	}
	wantAttrs(t, e.lastSpan(t, "session.validate"), map[string]string{"sessiond.outcome": "ok", "sessiond.session.handle_prefix": prefix, "sessiond.session.touched": "false"})

	// Refusals: the reason is on the request span and, where the store
	// or verifier refused, on the operation span.
	other := strings.Repeat("A", session.IDLen) // well formed, unknown
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+other)
	wantAttrs(t, e.lastSpan(t, "session.validate"), map[string]string{"sessiond.outcome": "refused", "sessiond.refusal_reason": "unknown_session"})
	wantAttrs(t, e.lastSpan(t, "GET /v1/sessions/current"), map[string]string{"sessiond.outcome": "refused", "sessiond.refusal_reason": "unknown_session"})

	old := time.Now().Add(-time.Hour)
	e.serve("POST", "/v1/sessions", "Authorization: Bearer "+e.token("bob", authtest.WithTimes(old, time.Now().Add(time.Hour))))
	wantAttrs(t, e.lastSpan(t, "auth.verify_token"), map[string]string{"sessiond.outcome": "ok"})
	wantAttrs(t, e.lastSpan(t, "POST /v1/sessions"), map[string]string{"sessiond.outcome": "refused", "sessiond.refusal_reason": "stale_auth"})

	e.serve("POST", "/v1/sessions", "Authorization: Bearer not.a.token")
	wantAttrs(t, e.lastSpan(t, "auth.verify_token"), map[string]string{"sessiond.outcome": "refused", "sessiond.refusal_reason": "invalid_token"})

	e.serve("GET", "/v1/sessions", "Cookie: __Host-sid="+id)
	wantAttrs(t, e.lastSpan(t, "session.list"), map[string]string{"sessiond.outcome": "ok", "sessiond.sessions": "1", "sessiond.session.handle_prefix": prefix})

	if w := e.serve("DELETE", "/v1/sessions/current", "Cookie: __Host-sid="+id); w.Code != http.StatusNoContent {
		t.Fatalf("destroy: %d", w.Code)
	}
	wantAttrs(t, e.lastSpan(t, "session.destroy"), map[string]string{"sessiond.outcome": "ok", "sessiond.session.handle_prefix": prefix})

	// Probes and scrapes are not traced.
	before := len(e.rec.Ended())
	e.serve("GET", "/healthz")
	e.serve("GET", "/metrics")
	if n := len(e.rec.Ended()); n != before {
		t.Errorf("/healthz and /metrics made %d spans, want none", n-before)
	}
}

// TestNoSpanOrLogLineCarriesSecrets runs every route, including failures,
// with tracing and access logs on, then searches every span (name,
// attributes, events, status, links, resource) and every log line for
// the session IDs, tokens, emails and Redis key hashes involved.
func TestNoSpanOrLogLineCarriesSecrets(t *testing.T) {
	e := newTracedEnv(t, sdktrace.AlwaysSample(), envOptions{cfg: func(c *Config) { c.BindUserAgent = BindEnforce }})
	var secrets []string
	add := func(id, tok string) {
		// The key hash as format 1 wrote it (base64url of SHA-256 of the
		// raw ID) and as format 2 does (its first 16 bytes, raw or hex).
		raw, _ := base64.RawURLEncoding.DecodeString(id)
		sum := sha256.Sum256(raw)
		secrets = append(secrets, id, base64.RawURLEncoding.EncodeToString(sum[:]), string(sum[:16]), hex.EncodeToString(sum[:16]))
		if tok != "" {
			secrets = append(secrets, tok)
		}
	}
	id1, tok1 := e.createSession(t, "alice", "User-Agent: firefox")
	add(id1, tok1)
	id2, tok2 := e.createSession(t, "alice", "User-Agent: firefox")
	add(id2, tok2)
	id3, tok3 := e.createSession(t, "carol", "User-Agent: firefox")
	add(id3, tok3)
	secrets = append(secrets, "alice@example.com", "carol@example.com")

	c1, c2, c3 := "Cookie: __Host-sid="+id1, "Cookie: __Host-sid="+id2, "Cookie: __Host-sid="+id3
	e.serve("GET", "/v1/sessions/current", c1, "User-Agent: firefox")
	e.serve("GET", "/v1/sessions", c1, "User-Agent: firefox")
	e.serve("GET", "/v1/sessions/current", c3, "User-Agent: curl") // enforce: revoked
	e.serve("DELETE", "/v1/sessions/current", c2, "User-Agent: firefox")
	e.serve("DELETE", "/v1/sessions", c1, "User-Agent: firefox")
	e.serve("GET", "/v1/sessions/current", c1, "User-Agent: firefox") // gone
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid=short")
	e.serve("POST", "/v1/sessions", "Authorization: Bearer "+tok1+"x")
	id4, _ := e.createSession(t, "alice") // a second login
	add(id4, "")
	// A Redis outage: 503s with error spans.
	testsvc.StopMiniredis(e.mr)
	e.serve("GET", "/v1/sessions/current", c1)
	e.serve("POST", "/v1/sessions", "Authorization: Bearer "+tok3)

	var texts []string
	spans := e.rec.Ended()
	if len(spans) < 20 {
		t.Fatalf("only %d spans recorded", len(spans))
	}
	for _, s := range spans {
		texts = append(texts, s.Name(), s.Status().Description)
		for _, a := range s.Attributes() {
			texts = append(texts, string(a.Key)+"="+a.Value.Emit())
		}
		for _, ev := range s.Events() {
			texts = append(texts, ev.Name)
			for _, a := range ev.Attributes {
				texts = append(texts, string(a.Key)+"="+a.Value.Emit())
			}
		}
		for _, l := range s.Links() {
			for _, a := range l.Attributes {
				texts = append(texts, a.Value.Emit())
			}
		}
		for _, a := range s.Resource().Attributes() {
			texts = append(texts, a.Value.Emit())
		}
	}
	logs := e.logs.String()
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("empty secret")
		}
		for _, x := range texts {
			if strings.Contains(x, sec) {
				t.Errorf("a span carries a secret %.12s...: %q", sec, x)
			}
		}
		if strings.Contains(logs, sec) {
			t.Errorf("the logs carry a secret %.12s...", sec)
		}
	}
	// The outage is visible: error spans and 503 request spans.
	if s := e.lastSpan(t, "session.validate"); s.Status().Code != codes.Error || attrs(s)["sessiond.outcome"] != "error" {
		t.Errorf("validate during the outage: status %v attrs %v, want error", s.Status(), attrs(s))
	}
	wantAttrs(t, e.lastSpan(t, "GET /v1/sessions/current"), map[string]string{"sessiond.outcome": "error", "sessiond.error_code": "store_unavailable", "http.response.status_code": "503"})
	// Every log line is Cloud Logging JSON.
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["severity"] == nil || m["message"] == nil {
			t.Errorf("log line without severity or message: %q", l)
		}
	}
}

func TestTraceparentIsHonoured(t *testing.T) {
	// Ratio 0: only a caller's sampled decision records anything.
	e := newTracedEnv(t, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)), envOptions{})
	id, _ := e.createSession(t, "alice")
	if n := len(e.rec.Ended()); n != 0 {
		t.Fatalf("%d spans recorded without a caller's traceparent at ratio 0", n)
	}
	const tid, psid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id, "traceparent: 00-"+tid+"-"+psid+"-01")
	srv := e.lastSpan(t, "GET /v1/sessions/current")
	if srv.SpanContext().TraceID().String() != tid || srv.Parent().SpanID().String() != psid || !srv.Parent().IsRemote() {
		t.Fatalf("request span trace %s parent %s (remote %v), want the caller's %s / %s",
			srv.SpanContext().TraceID(), srv.Parent().SpanID(), srv.Parent().IsRemote(), tid, psid)
	}
	if v := e.lastSpan(t, "session.validate"); v.SpanContext().TraceID().String() != tid {
		t.Fatalf("validate span in trace %s, want %s", v.SpanContext().TraceID(), tid)
	}
	n := len(e.rec.Ended())
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id, "traceparent: 00-"+tid+"-"+psid+"-00")
	if got := len(e.rec.Ended()); got != n {
		t.Fatalf("an unsampled traceparent recorded %d spans, want 0", got-n)
	}
}

// The access log and the audit line of a traced request name its trace
// and span in Cloud Logging's fields, so the Logs Explorer shows them
// under the trace.
func TestLogLinesOfATracedRequestNameItsTrace(t *testing.T) {
	e := newTracedEnv(t, sdktrace.AlwaysSample(), envOptions{})
	e.createSession(t, "alice")
	srv := e.lastSpan(t, "POST /v1/sessions")
	wantTrace := "projects/" + testProject + "/traces/" + srv.SpanContext().TraceID().String()
	var access, audit map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		switch m["message"] {
		case "request":
			access = m
		case "session created":
			audit = m
		}
	}
	for name, m := range map[string]map[string]any{"access log": access, "audit": audit} {
		if m == nil {
			t.Fatalf("no %s line: %s", name, e.logs.String())
		}
		if m[cloudlog.TraceKey] != wantTrace || m[cloudlog.SpanIDKey] != srv.SpanContext().SpanID().String() || m[cloudlog.TraceSampledKey] != true {
			t.Errorf("%s line: trace %v span %v sampled %v; want %s %s true", name, m[cloudlog.TraceKey], m[cloudlog.SpanIDKey], m[cloudlog.TraceSampledKey], wantTrace, srv.SpanContext().SpanID())
		}
	}
}

// failingValidateStore fails every Validate as a Redis outage would.
type failingValidateStore struct{ session.API }

func (failingValidateStore) Validate(context.Context, string) (*session.Session, error) {
	return nil, errors.Join(session.ErrBackend, errors.New("dial tcp 127.0.0.1:1: connection refused"))
}

func TestStoreFailureIsAnErrorSpanNotARefusal(t *testing.T) {
	e := newTracedEnv(t, sdktrace.AlwaysSample(), envOptions{store: func(a session.API) session.API { return failingValidateStore{a} }})
	id, _ := e.createSession(t, "alice")
	if w := e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("validate with a failing store: %d", w.Code)
	}
	v := e.lastSpan(t, "session.validate")
	if v.Status().Code != codes.Error || !strings.Contains(v.Status().Description, "connection refused") {
		t.Errorf("validate span status %v, want Error with the cause", v.Status())
	}
	if a := attrs(v); a["sessiond.outcome"] != "error" || a["sessiond.refusal_reason"] != "" {
		t.Errorf("validate span attrs %v, want outcome error and no refusal reason", a)
	}
	srv := e.lastSpan(t, "GET /v1/sessions/current")
	if srv.Status().Code != codes.Error {
		t.Errorf("request span status %v, want Error for a 503", srv.Status())
	}
	// The error line names the request's trace (it was logged without
	// the request's context, so the Logs Explorer could not link it).
	wantTrace := "projects/" + testProject + "/traces/" + srv.SpanContext().TraceID().String()
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if msg, _ := m["message"].(string); strings.HasPrefix(msg, "session store failed") {
			line = m
		}
	}
	if line == nil || line[cloudlog.TraceKey] != wantTrace {
		t.Errorf("store failure line %v, want %s = %s", line, cloudlog.TraceKey, wantTrace)
	}
}

// With a TraceSampler, a request it refuses bypasses otelhttp and starts
// no span anywhere (store, verifier, Redis), while its log lines keep the
// caller's trace; a request it accepts is traced in full.
func TestTraceSamplerDecidesBeforeAnySpan(t *testing.T) {
	var parents []trace.SpanContext
	keep := false
	sampler := func(p trace.SpanContext) bool {
		parents = append(parents, p)
		return keep
	}
	e := newTracedEnv(t, sdktrace.AlwaysSample(), envOptions{cfg: func(c *Config) { c.TraceSampler = sampler }})
	id, _ := e.createSession(t, "alice")
	const tid, psid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id, "traceparent: 00-"+tid+"-"+psid+"-01")
	e.serve("GET", "/healthz")
	if n := len(e.rec.Ended()); n != 0 {
		t.Fatalf("%d spans for requests the sampler refused, want 0", n)
	}
	if len(parents) != 2 || parents[0].IsValid() || parents[1].TraceID().String() != tid || !parents[1].IsSampled() || !parents[1].IsRemote() {
		t.Fatalf("sampler saw %v, want an invalid parent for create and the caller's sampled %s for validate (and nothing for /healthz)", parents, tid)
	}
	var access map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["message"] == "request" && m["route"] == "GET /v1/sessions/current" {
			access = m
		}
	}
	if access == nil || access[cloudlog.TraceKey] != "projects/"+testProject+"/traces/"+tid || access[cloudlog.SpanIDKey] != psid {
		t.Fatalf("access log of the unsampled request does not name the caller's trace: %v", access)
	}

	keep = true
	e.serve("GET", "/v1/sessions/current", "Cookie: __Host-sid="+id, "traceparent: 00-"+tid+"-"+psid+"-00")
	srv := e.lastSpan(t, "GET /v1/sessions/current")
	if srv.SpanContext().TraceID().String() != tid || srv.Parent().SpanID().String() != psid {
		t.Fatalf("accepted request: span in trace %s under %s, want the caller's %s under %s", srv.SpanContext().TraceID(), srv.Parent().SpanID(), tid, psid)
	}
	v := e.lastSpan(t, "session.validate")
	var redis int
	for _, s := range e.rec.Ended() {
		if s.Parent().SpanID() == v.SpanContext().SpanID() {
			redis++
		}
	}
	if redis == 0 {
		t.Fatal("accepted request: no Redis span under session.validate")
	}
}
