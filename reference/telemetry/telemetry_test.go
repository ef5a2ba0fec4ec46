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
	traceID = trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	// lowID is below every ratio's threshold, highID above: a
	// trace-ID-ratio sampler keeps lowID at any ratio > 0 and drops
	// highID at any ratio < 1.
	lowID  = trace.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	highID = trace.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
)

// decide runs the sampler on a root span of id, or on a child of a remote
// parent with the given sampled flag.
func decide(s sdktrace.Sampler, id trace.TraceID, parent *bool) sdktrace.SamplingDecision {
	ctx := context.Background()
	if parent != nil {
		cfg := trace.SpanContextConfig{TraceID: id, SpanID: trace.SpanID{1}, Remote: true}
		if *parent {
			cfg.TraceFlags = trace.FlagsSampled
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(cfg))
	}
	return s.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: id, Name: "x"}).Decision
}

func TestSamplerChoices(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name      string
		cfg       telemetry.Config
		wantDesc  string
		low, high sdktrace.SamplingDecision // root spans
		// a sampled / unsampled remote parent with highID
		parentYes, parentNo sdktrace.SamplingDecision
	}{
		{"default", telemetry.Config{Getenv: env()}, "parentbased_traceidratio 0.01 (default)",
			sdktrace.RecordAndSample, sdktrace.Drop, sdktrace.RecordAndSample, sdktrace.Drop},
		{"flag wins over env", telemetry.Config{SampleRatio: 0, SampleRatioSet: true, Getenv: env(telemetry.EnvSampler, "always_on")}, "parentbased_traceidratio 0",
			sdktrace.Drop, sdktrace.Drop, sdktrace.RecordAndSample, sdktrace.Drop},
		{"flag 1", telemetry.Config{SampleRatio: 1, SampleRatioSet: true}, "parentbased_traceidratio 1",
			sdktrace.RecordAndSample, sdktrace.RecordAndSample, sdktrace.RecordAndSample, sdktrace.Drop},
		{"env always_on", telemetry.Config{Getenv: env(telemetry.EnvSampler, "always_on")}, "always_on",
			sdktrace.RecordAndSample, sdktrace.RecordAndSample, sdktrace.RecordAndSample, sdktrace.RecordAndSample},
		{"env parentbased_always_off", telemetry.Config{Getenv: env(telemetry.EnvSampler, "parentbased_always_off")}, "parentbased_always_off",
			sdktrace.Drop, sdktrace.Drop, sdktrace.RecordAndSample, sdktrace.Drop},
		{"env ratio with arg", telemetry.Config{Getenv: env(telemetry.EnvSampler, "parentbased_traceidratio", telemetry.EnvSamplerArg, "0.5")}, "parentbased_traceidratio 0.5",
			sdktrace.RecordAndSample, sdktrace.Drop, sdktrace.RecordAndSample, sdktrace.Drop},
		{"env traceidratio ignores parent", telemetry.Config{Getenv: env(telemetry.EnvSampler, "TraceIdRatio", telemetry.EnvSamplerArg, "0")}, "traceidratio 0",
			sdktrace.Drop, sdktrace.Drop, sdktrace.Drop, sdktrace.Drop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, desc, err := telemetry.Sampler(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if desc != tc.wantDesc {
				t.Errorf("description %q, want %q", desc, tc.wantDesc)
			}
			if d := decide(s, lowID, nil); d != tc.low {
				t.Errorf("root low ID: %v, want %v", d, tc.low)
			}
			if d := decide(s, highID, nil); d != tc.high {
				t.Errorf("root high ID: %v, want %v", d, tc.high)
			}
			if d := decide(s, highID, &yes); d != tc.parentYes {
				t.Errorf("sampled parent: %v, want %v", d, tc.parentYes)
			}
			if d := decide(s, lowID, &no); d != tc.parentNo {
				t.Errorf("unsampled parent: %v, want %v", d, tc.parentNo)
			}
		})
	}
}

func TestSamplerErrorsNameTheSetting(t *testing.T) {
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
		if _, _, err := telemetry.Sampler(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
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
		tp, desc, err := telemetry.Setup(ctx, tc.cfg)
		if err != nil || tp != nil || !strings.HasPrefix(desc, "tracing off") {
			t.Errorf("%s: provider %v, desc %q, err %v; want off", tc.name, tp, desc, err)
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
		tp, _, err := telemetry.Setup(ctx, tc.cfg)
		if err == nil || tp != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: provider %v err %v; want an error naming %s", tc.cfg, tp, err, tc.want)
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
	tp, desc, err := telemetry.Setup(ctx, telemetry.Config{Endpoint: srv.URL, SampleRatio: 1, SampleRatioSet: true, ServiceVersion: "v9", Getenv: env()})
	if err != nil || tp == nil {
		t.Fatalf("Setup: %v %v", tp, err)
	}
	if !strings.Contains(desc, srv.URL+"/v1/traces") || !strings.Contains(desc, "parentbased_traceidratio 1") {
		t.Errorf("description %q lacks the endpoint or sampler", desc)
	}
	_, span := tp.Tracer("t").Start(ctx, "hello")
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
	ctx, parent := tp.Tracer("t").Start(context.Background(), "request")
	const secret = "alice@example.com"
	if err := rdb.HSet(ctx, "sb:s:key", "email", secret).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Info(ctx).Err(); err != nil {
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
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s is not a child of the request span", s.Name())
		}
	}
	if strings.Join(cmds, " ") != "hset" {
		t.Errorf("traced commands %v, want only hset (ping and info are not traced)", cmds)
	}
	if err := telemetry.InstrumentRedis(rdb, nil); err == nil {
		t.Error("InstrumentRedis with a nil provider: no error")
	}
}
