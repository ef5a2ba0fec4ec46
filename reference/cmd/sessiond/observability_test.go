package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

func TestObservabilityFlagErrorsExit2NamingTheSetting(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	base := []string{"--redis-url", "redis://" + mr.Addr() + "/0", "--firebase-project", testProject, "--auth", "local", "--auth-public-key", "/nonexistent"}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--otel-sample-ratio", "2"}, "otel-sample-ratio"},
		{nil, []string{"--otel-sample-ratio", "often"}, "otel-sample-ratio"},
		{[]string{"SESSIOND_OTEL_SAMPLE_RATIO", "-1"}, nil, "SESSIOND_OTEL_SAMPLE_RATIO"},
		{nil, []string{"--redis-info-interval", "-1s"}, "redis-info-interval"},
	} {
		code, _, stderr := runSync(t, envMap(tc.env...), append(tc.args, base...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 naming %s", tc.env, tc.args, code, stderr, tc.want)
		}
	}
	// These are checked once the key is read, so give a real one.
	_, pub := writeKey(t)
	base = append(base[:len(base)-1], pub)
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--otel-endpoint", "collector:4318"}, "--otel-endpoint"},
		{[]string{"OTEL_TRACES_SAMPLER", "sometimes"}, []string{"--otel-endpoint", "http://127.0.0.1:1"}, "OTEL_TRACES_SAMPLER"},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		// Malformed headers were logged as a plain-text line by the
		// exporter, which then sent none; they are refused, and their
		// values (credentials) never printed.
		{[]string{"OTEL_EXPORTER_OTLP_HEADERS", "s3cret-token"}, []string{"--otel-endpoint", "http://127.0.0.1:1"}, "OTEL_EXPORTER_OTLP_HEADERS: entry 1 has no '='"},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-ok=1,authorization=Bearer%ZZs3cret"}, nil, "OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 2 (authorization)"},
		{[]string{"OTEL_EXPORTER_OTLP_HEADERS", "x-ok=1,Authorization: Basic s3cret="}, []string{"--otel-endpoint", "http://127.0.0.1:1"}, "entry 2: the text before '=' is not a header name"},
	} {
		code, _, stderr := runSync(t, envMap(tc.env...), append(tc.args, base...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 naming %s", tc.env, tc.args, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "s3cret") {
			t.Errorf("%v: a header value was printed: %q", tc.env, stderr)
		}
	}
}

// otlpReceiver is a collector's OTLP/HTTP trace endpoint that keeps the
// raw bodies and the decoded spans.
type otlpReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
	spans  map[string][]string // span name -> trace IDs (hex)
	attrs  map[string][]map[string]string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bodies = append(o.bodies, b)
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.spans[s.GetName()] = append(o.spans[s.GetName()], hexID(s.GetTraceId()))
				m := map[string]string{}
				for _, a := range s.GetAttributes() {
					m[a.GetKey()] = a.GetValue().String()
				}
				o.attrs[s.GetName()] = append(o.attrs[s.GetName()], m)
			}
		}
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// TestServeExportsTracesAndLogsCloudLoggingJSON runs sessiond with
// --otel-endpoint at a receiver, drives create, validate (with a caller's
// traceparent) and logout, stops it (which flushes), and checks the
// spans that arrived, that no export body holds the session ID, token or
// email, and that every log line is Cloud Logging JSON.
func TestServeExportsTracesAndLogsCloudLoggingJSON(t *testing.T) {
	rc := &otlpReceiver{spans: map[string][]string{}, attrs: map[string][]map[string]string{}}
	collector := httptest.NewServer(rc)
	t.Cleanup(collector.Close)
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--otel-endpoint", collector.URL, "--otel-sample-ratio", "1", "--access-log")

	const email = "alice@example.com"
	tok := authtest.Mint(s.key, testProject, "alice", authtest.WithEmail(email))
	req, _ := http.NewRequest("POST", s.url("/v1/sessions"), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || len(res.Cookies()) != 1 {
		t.Fatalf("create: %d", res.StatusCode)
	}
	id := res.Cookies()[0].Value
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ = http.NewRequest("GET", s.url("/v1/sessions/current"), nil)
	req.Header.Set("Cookie", "__Host-sid="+id)
	req.Header.Set("traceparent", "00-"+tid+"-00f067aa0ba902b7-01")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("validate: %d", res.StatusCode)
	}
	if code, _ := s.get(t, "/metrics", ""); code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}

	s.cancel()
	if code := <-s.done; code != exitOK {
		t.Fatalf("exit %d: %s", code, s.stderr.String())
	}
	s.done <- exitOK // for the cleanup

	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, name := range []string{"POST /v1/sessions", "auth.verify_token", "session.create", "GET /v1/sessions/current", "session.validate", "evalsha"} {
		if len(rc.spans[name]) == 0 {
			t.Errorf("no %q span exported; got %v", name, keys(rc.spans))
		}
	}
	if got := rc.spans["session.validate"]; len(got) != 1 || got[0] != tid {
		t.Errorf("validate span trace IDs %v, want [%s] from the traceparent", got, tid)
	}
	if len(rc.spans["GET /metrics"]) != 0 {
		t.Error("/metrics was traced")
	}
	for _, b := range rc.bodies {
		for _, secret := range []string{id, tok, email} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("an OTLP export carries a secret %.12s...", secret)
			}
		}
	}

	logs := s.stderr.String()
	var sawTracingOn, sawTraceField bool
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		sev, _ := m["severity"].(string)
		msg, _ := m["message"].(string)
		if sev == "" || msg == "" {
			t.Errorf("log line without severity or message: %q", l)
		}
		sawTracingOn = sawTracingOn || strings.HasPrefix(msg, "OTLP/HTTP "+collector.URL+"/v1/traces")
		sawTraceField = sawTraceField || m["logging.googleapis.com/trace"] == "projects/"+testProject+"/traces/"+tid
		for _, secret := range []string{id, tok, email} {
			if strings.Contains(l, secret) {
				t.Errorf("a log line carries a secret: %q", l)
			}
		}
	}
	if !sawTracingOn {
		t.Errorf("the start-up log does not say tracing is on and where to: %s", logs)
	}
	if !sawTraceField {
		t.Errorf("no log line (access log of the validate) names trace %s: %s", tid, logs)
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestServeWithoutEndpointSaysTracingIsOff(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0")
	if !strings.Contains(s.stderr.String(), `"message":"tracing off: no --otel-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT"`) {
		t.Fatalf("start-up log does not say tracing is off: %s", s.stderr.String())
	}
}
