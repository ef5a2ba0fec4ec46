package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sessionbench/sessionbench/reference/telemetry"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var (
	// lowID is below every ratio's threshold, highID above: a
	// trace-ID-ratio decision keeps lowID at any ratio > 0 and drops
	// highID at any ratio < 1.
	lowID  = trace.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	highID = trace.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
)

// remote is a caller's span context of trace id.
func remote(id trace.TraceID, sampled bool) trace.SpanContext {
	cfg := trace.SpanContextConfig{TraceID: id, SpanID: trace.SpanID{1}, Remote: true}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.NewSpanContext(cfg)
}

// rootShare samples n new traces and returns how many were kept.
func rootShare(s telemetry.Sampling, n int) int {
	k := 0
	for range n {
		if s.Sample(trace.SpanContext{}) {
			k++
		}
	}
	return k
}

func TestSamplingChoices(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
		want telemetry.Sampling
		desc string
	}{
		{"default", telemetry.Config{Getenv: env()}, telemetry.Sampling{Ratio: 0.01, FollowParent: true}, "parentbased_traceidratio 0.01"},
		{"flag wins over env", telemetry.Config{SampleRatio: 0, SampleRatioSet: true, Getenv: env(telemetry.EnvSampler, "always_on")}, telemetry.Sampling{Ratio: 0, FollowParent: true}, "parentbased_traceidratio 0"},
		{"env always_on", telemetry.Config{Getenv: env(telemetry.EnvSampler, "always_on")}, telemetry.Sampling{Ratio: 1}, "traceidratio 1"},
		{"env always_off", telemetry.Config{Getenv: env(telemetry.EnvSampler, "always_off")}, telemetry.Sampling{Ratio: 0}, "traceidratio 0"},
		{"env parentbased_always_on", telemetry.Config{Getenv: env(telemetry.EnvSampler, "parentbased_always_on")}, telemetry.Sampling{Ratio: 1, FollowParent: true}, "parentbased_traceidratio 1"},
		{"env parentbased_always_off", telemetry.Config{Getenv: env(telemetry.EnvSampler, "parentbased_always_off")}, telemetry.Sampling{Ratio: 0, FollowParent: true}, "parentbased_traceidratio 0"},
		{"env parentbased ratio", telemetry.Config{Getenv: env(telemetry.EnvSampler, "parentbased_traceidratio", telemetry.EnvSamplerArg, "0.5")}, telemetry.Sampling{Ratio: 0.5, FollowParent: true}, "parentbased_traceidratio 0.5"},
		{"env ratio, any case, default arg", telemetry.Config{Getenv: env(telemetry.EnvSampler, "TraceIdRatio")}, telemetry.Sampling{Ratio: 1}, "traceidratio 1"},
	} {
		got, err := telemetry.ParseSampling(tc.cfg)
		if err != nil || got != tc.want || got.String() != tc.desc {
			t.Errorf("%s: %+v %q %v, want %+v %q", tc.name, got, got.String(), err, tc.want, tc.desc)
		}
	}
}

func TestSamplingDecisions(t *testing.T) {
	follow := telemetry.Sampling{Ratio: 0.5, FollowParent: true}
	ignore := telemetry.Sampling{Ratio: 0.5}
	for _, tc := range []struct {
		name string
		s    telemetry.Sampling
		p    trace.SpanContext
		want bool
	}{
		{"follow a sampled caller", follow, remote(highID, true), true},
		{"follow an unsampled caller", follow, remote(lowID, false), false},
		{"follow even at ratio 0", telemetry.Sampling{FollowParent: true}, remote(highID, true), true},
		{"ratio on the caller's trace ID, low", ignore, remote(lowID, false), true},
		{"ratio on the caller's trace ID, high", ignore, remote(highID, true), false},
		{"always on ignores the caller", telemetry.Sampling{Ratio: 1}, remote(highID, false), true},
		{"always off ignores the caller", telemetry.Sampling{Ratio: 0}, remote(lowID, true), false},
	} {
		if got := tc.s.Sample(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := rootShare(telemetry.Sampling{Ratio: 0, FollowParent: true}, 10000); n != 0 {
		t.Errorf("ratio 0 kept %d of 10000 new traces", n)
	}
	if n := rootShare(telemetry.Sampling{Ratio: 1}, 10000); n != 10000 {
		t.Errorf("ratio 1 kept %d of 10000 new traces", n)
	}
	// 1 % of 200000 is 2000 (standard deviation 44.5): bounds at more
	// than 11 deviations, a random failure is not a possibility in practice.
	if n := rootShare(telemetry.Sampling{Ratio: 0.01, FollowParent: true}, 200000); n < 1500 || n > 2500 {
		t.Errorf("ratio 0.01 kept %d of 200000 new traces, want about 2000", n)
	}
}

func TestSamplingErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		cfg  telemetry.Config
		want string
	}{
		{telemetry.Config{SampleRatio: 1.5, SampleRatioSet: true}, "--otel-sample-ratio"},
		{telemetry.Config{SampleRatio: -0.1, SampleRatioSet: true}, "--otel-sample-ratio"},
		{telemetry.Config{Getenv: env(telemetry.EnvSampler, "sometimes")}, telemetry.EnvSampler},
		{telemetry.Config{Getenv: env(telemetry.EnvSampler, "traceidratio", telemetry.EnvSamplerArg, "half")}, telemetry.EnvSamplerArg},
		{telemetry.Config{Getenv: env(telemetry.EnvSampler, "traceidratio", telemetry.EnvSamplerArg, "2")}, telemetry.EnvSamplerArg},
	} {
		if _, err := telemetry.ParseSampling(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want one naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestSetupOffUnlessAnEndpointIsGiven(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
	}{
		{"nothing", telemetry.Config{Getenv: env()}},
		{"sdk disabled beats the flag", telemetry.Config{Endpoint: "http://127.0.0.1:4318", Getenv: env(telemetry.EnvSDKDisabled, "TRUE")}},
		{"exporter none", telemetry.Config{Getenv: env(telemetry.EnvEndpoint, "http://127.0.0.1:4318", telemetry.EnvTracesExporter, "none")}},
	} {
		tr, desc, err := telemetry.Setup(ctx, tc.cfg)
		if err != nil || tr != nil || !strings.HasPrefix(desc, "tracing off") {
			t.Errorf("%s: tracing %v, desc %q, err %v; want off", tc.name, tr, desc, err)
		}
	}
}

func TestSetupRefusesWhatItCannotExport(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  telemetry.Config
		want string
	}{
		{telemetry.Config{Endpoint: "127.0.0.1:4318", Getenv: env()}, "--otel-endpoint"},
		{telemetry.Config{Endpoint: "ftp://collector", Getenv: env()}, "--otel-endpoint"},
		{telemetry.Config{Endpoint: "http://c:4318", Getenv: env(telemetry.EnvProtocol, "grpc")}, telemetry.EnvProtocol},
		{telemetry.Config{Getenv: env(telemetry.EnvEndpoint, "http://c:4318", telemetry.EnvTracesProtocol, "grpc", telemetry.EnvProtocol, "http/protobuf")}, telemetry.EnvTracesProtocol},
		{telemetry.Config{Getenv: env(telemetry.EnvEndpoint, "http://c:4318", telemetry.EnvTracesExporter, "zipkin")}, telemetry.EnvTracesExporter},
		{telemetry.Config{Endpoint: "http://c:4318", Getenv: env(telemetry.EnvSampler, "bogus")}, telemetry.EnvSampler},
	} {
		tr, _, err := telemetry.Setup(ctx, tc.cfg)
		if err == nil || tr != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: tracing %v err %v; want an error naming %s", tc.cfg, tr, err, tc.want)
		}
	}
}

// receiver is an OTLP/HTTP trace endpoint that keeps what it is sent.
type receiver struct {
	mu    sync.Mutex
	paths []string
	reqs  []*coltrace.ExportTraceServiceRequest
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.paths = append(rc.paths, r.URL.Path)
	rc.reqs = append(rc.reqs, &req)
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

func TestSetupExportsToTheEndpointWithServiceName(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tr, desc, err := telemetry.Setup(ctx, telemetry.Config{Endpoint: srv.URL, SampleRatio: 0.25, SampleRatioSet: true, ServiceVersion: "v9", Getenv: env()})
	if err != nil || tr == nil {
		t.Fatalf("Setup: %v %v", tr, err)
	}
	if !strings.Contains(desc, srv.URL+"/v1/traces") || !strings.Contains(desc, "parentbased_traceidratio 0.25") {
		t.Errorf("description %q lacks the endpoint or sampling", desc)
	}
	if tr.Sampling != (telemetry.Sampling{Ratio: 0.25, FollowParent: true}) {
		t.Errorf("sampling %+v", tr.Sampling)
	}
	tp := tr.Provider
	// The provider records every span it starts: Sampling has decided.
	_, span := tp.Tracer("t").Start(ctx, "hello")
	if !span.IsRecording() {
		t.Error("the provider dropped a span; the decision is Sampling's, it must record all")
	}
	span.End()
	if err := tp.Shutdown(ctx); err != nil { // flushes
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) != 1 || rc.paths[0] != "/v1/traces" {
		t.Fatalf("receiver got %d exports at %v, want 1 at /v1/traces", len(rc.reqs), rc.paths)
	}
	rs := rc.reqs[0].GetResourceSpans()[0]
	attrs := map[string]string{}
	for _, a := range rs.GetResource().GetAttributes() {
		attrs[a.GetKey()] = a.GetValue().GetStringValue()
	}
	if attrs["service.name"] != "sessiond" || attrs["service.version"] != "v9" {
		t.Errorf("resource %v, want service.name sessiond and service.version v9", attrs)
	}
	if n := rs.GetScopeSpans()[0].GetSpans()[0].GetName(); n != "hello" {
		t.Errorf("span %q, want hello", n)
	}
}

func TestInstrumentRedisTracesCommandsWithoutArguments(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	if err := telemetry.InstrumentRedis(rdb, tp); err != nil {
		t.Fatal(err)
	}
	// Outside a request (the INFO poller, readiness PINGs): no span, and
	// the connection's set-up (HELLO, CLIENT SETINFO) is not traced either.
	bg := context.Background()
	if err := rdb.Ping(bg).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Info(bg).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for commands outside any request, want 0", n)
	}
	ctx, parent := tp.Tracer("t").Start(bg, "request")
	const secret = "alice@example.com"
	if err := rdb.HSet(ctx, "sb:s:key", "email", secret).Err(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var cmds []string
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), secret) || strings.Contains(a.Value.Emit(), "sb:s:key") {
				t.Errorf("span %s attribute %s = %q records a command argument", s.Name(), a.Key, a.Value.Emit())
			}
		}
		if s.Name() == "request" {
			continue
		}
		cmds = append(cmds, s.Name())
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %s (kind %v) is not a client span under the request", s.Name(), s.SpanKind())
		}
	}
	if strings.Join(cmds, " ") != "hset" {
		t.Errorf("traced commands %v, want only hset", cmds)
	}
	if err := telemetry.InstrumentRedis(rdb, nil); err == nil {
		t.Error("InstrumentRedis with a nil provider: no error")
	}
}

func TestChildrenOnlyStartsSpansOnlyUnderARecordingParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := telemetry.ChildrenOnly(tp).Tracer("t")
	bg := context.Background()
	if ctx, s := tr.Start(bg, "orphan"); ctx != bg || s.IsRecording() {
		t.Error("a span started without a parent")
	}
	unsampled := trace.ContextWithRemoteSpanContext(bg, remote(lowID, false))
	if ctx, s := tr.Start(unsampled, "under unsampled"); ctx != unsampled || s.IsRecording() {
		t.Error("a span started under an unsampled caller")
	}
	pctx, parent := tp.Tracer("t").Start(bg, "request")
	_, child := tr.Start(pctx, "command")
	child.End()
	parent.End()
	ended := rec.Ended()
	if len(ended) != 2 || ended[0].Name() != "command" || ended[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("ended spans %v, want the command under the request", ended)
	}
}
