// Package telemetry builds sessiond's OpenTelemetry tracer provider from
// its flags and the standard OTEL_* environment variables, and traces its
// Redis client with go-redis's redisotel.
//
// Tracing is off unless an OTLP/HTTP endpoint is given (Config.Endpoint,
// or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
// off means no tracer provider at all, so callers install no
// instrumentation and pay nothing per request.
//
// Sampling is one decision per request, made at the HTTP edge before any
// tracing work (Sampling.Sample, for httpapi.Config.TraceSampler): a
// request that is not sampled starts no span at all, so tracing 1 % of
// requests costs little more than tracing none. Everything under a
// sampled request is recorded; nothing starts outside one.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"net/url"
	"os"
	"strings"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultSampleRatio is the fraction of new traces (requests without a
// caller's sampling decision) that are recorded when neither
// Config.SampleRatio nor OTEL_TRACES_SAMPLER says otherwise: enough to
// see every slow path at production rates, cheap at 10k requests/s.
const DefaultSampleRatio = 0.01

// ServiceName is the service.name resource attribute unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES set another.
const ServiceName = "sessiond"

// The standard variables read here (the OTLP exporter reads its own:
// headers, timeout, compression, certificates).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSampler        = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg     = "OTEL_TRACES_SAMPLER_ARG"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders  = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
)

// Config says whether and how to trace.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://127.0.0.1:4318; like OTEL_EXPORTER_OTLP_ENDPOINT, /v1/traces
	// is appended unless the path already ends with it. Empty: the
	// OTEL_EXPORTER_OTLP_* variables decide, and without them tracing is off.
	Endpoint string
	// SampleRatio is the fraction (0..1) of new traces recorded, when
	// SampleRatioSet. A caller's W3C traceparent decision is always
	// followed (parent-based sampling). Unset: OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG, else DefaultSampleRatio.
	SampleRatio    float64
	SampleRatioSet bool
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// Getenv reads the OTEL_* variables this package decides on.
	// Default os.Getenv. (The exporter itself reads its variables with
	// os.Getenv.)
	Getenv func(string) string
}

func (c *Config) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

// Tracing is what Setup returns when tracing is on.
type Tracing struct {
	// Provider batches spans to the OTLP/HTTP endpoint. Its sampler
	// records every span started: the decision is Sampling's, made once
	// per request before anything starts. Shutdown flushes it.
	Provider *sdktrace.TracerProvider
	// Sampling decides which requests are traced.
	Sampling Sampling
}

// Setup returns the tracing Config asks for, or nil when tracing is off.
// desc says what was chosen (for the start-up log). Errors name the flag
// or variable and the fix. The caller must Shutdown the provider to flush
// the last spans.
func Setup(ctx context.Context, c Config) (t *Tracing, desc string, err error) {
	if strings.EqualFold(strings.TrimSpace(c.getenv(EnvSDKDisabled)), "true") {
		return nil, "tracing off: " + EnvSDKDisabled + "=true", nil
	}
	var opts []otlptracehttp.Option
	switch {
	case c.Endpoint != "":
		u, err := endpointURL(c.Endpoint)
		if err != nil {
			return nil, "", err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
		desc = "OTLP/HTTP " + u
	case c.getenv(EnvTracesEndpoint) != "" || c.getenv(EnvEndpoint) != "":
		// The exporter reads the variables itself and would only fail at
		// the first export ("https:///notaurl/v1/traces"): check them now.
		for _, k := range []string{EnvTracesEndpoint, EnvEndpoint} {
			if v := strings.TrimSpace(c.getenv(k)); v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return nil, "", fmt.Errorf("%s=%q is not an http(s) URL; use the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318", k, v)
				}
			}
		}
		desc = "OTLP/HTTP from " + EnvEndpoint + "/" + EnvTracesEndpoint
	default:
		return nil, "tracing off: no --otel-endpoint or " + EnvEndpoint, nil
	}
	if c.Endpoint == "" {
		switch e := strings.TrimSpace(c.getenv(EnvTracesExporter)); e {
		case "", "otlp":
		case "none":
			return nil, "tracing off: " + EnvTracesExporter + "=none", nil
		default:
			return nil, "", fmt.Errorf("%s=%s: sessiond exports traces only with otlp (OTLP/HTTP); unset it or set otlp", EnvTracesExporter, e)
		}
	}
	for _, k := range []string{EnvTracesProtocol, EnvProtocol} {
		if p := strings.TrimSpace(c.getenv(k)); p != "" {
			if p != "http/protobuf" && p != "http/json" {
				return nil, "", fmt.Errorf("%s=%s: sessiond exports OTLP over HTTP only; set http/protobuf and use the collector's HTTP port (4318)", k, p)
			}
			break
		}
	}
	sampling, err := ParseSampling(c)
	if err != nil {
		return nil, "", err
	}
	// The exporter would log a malformed value as plain text and send
	// no headers (a collector then refuses every export): check now.
	for _, k := range []string{EnvTracesHeaders, EnvHeaders} {
		if err := checkHeaders(c.getenv(k)); err != nil {
			return nil, "", fmt.Errorf("%s: %w; write key=value pairs separated by commas, values URL-encoded (e.g. authorization=Bearer%%20TOKEN)", k, err)
		}
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("OTLP/HTTP trace exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if c.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", c.ServiceVersion))
	}
	// The environment's service.name and attributes win over ours.
	res, err := resource.Merge(resource.NewSchemaless(attrs...), resource.Environment())
	if err != nil {
		return nil, "", fmt.Errorf("trace resource (OTEL_RESOURCE_ATTRIBUTES?): %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(validUTF8Exporter{exp}),
		// Sampling.Sample has decided before the first span starts, and
		// spans start only under a sampled request: record them all.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(res),
	)
	return &Tracing{Provider: tp, Sampling: sampling}, desc + ", sampling " + sampling.String(), nil
}

// checkHeaders checks an OTEL_EXPORTER_OTLP_*HEADERS value the way the
// exporter parses it. Errors name the entry by position and key, never
// its value (headers carry credentials).
func checkHeaders(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	for i, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue // a trailing comma: the exporter skips it too
		}
		name, value, ok := strings.Cut(entry, "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			return fmt.Errorf("entry %d has no '='", i+1)
		case name == "" || !httpguts.ValidHeaderFieldName(name):
			// Never the text itself: "Authorization: Basic abc=" would
			// print the credential up to its padding.
			return fmt.Errorf("entry %d: the text before '=' is not a header name (write key=value, not 'Key: value')", i+1)
		}
		if _, err := url.PathUnescape(strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("entry %d (%s): the value is not URL-encoded correctly", i+1, name)
		}
	}
	return nil
}

// endpointURL checks an --otel-endpoint base URL and appends /v1/traces.
func endpointURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--otel-endpoint %q is not an http(s) URL; use the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318", raw)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// InstrumentRedis adds redisotel's tracing hook to rdb: one client span
// per command or pipeline, child of the request's span, and only under a
// recording span (ChildrenOnly): a command outside a sampled request
// costs one context lookup, not a span, and connection set-up, PING and
// INFO (dials, readiness probes, the INFO poller, all outside sampled
// requests) start no lone traces. Command arguments are never recorded
// (a create writes the user's email; validate's key derives from the
// session ID), so redisotel's AUTH filter is not needed and is replaced
// by none (it lower-cased every command name, about 700 instructions per
// command); nor is the caller's source line (a runtime.Callers walk per
// command).
func InstrumentRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	if tp == nil {
		return errors.New("telemetry: InstrumentRedis needs a tracer provider")
	}
	return redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(ChildrenOnly(tp)),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		redisotel.WithDialFilter(true),
		redisotel.WithCommandFilter(func(redis.Cmder) bool { return false }),
		redisotel.WithCommandsFilter(func([]redis.Cmder) bool { return false }),
	)
}

// ChildrenOnly wraps tp so that its tracers start a span only under a
// recording parent; elsewhere Start returns the context unchanged and its
// non-recording (or no-op) span, whose End does nothing. It keeps
// libraries that start a span per call (redisotel: one per Redis command)
// from paying for spans in requests that are not sampled, and from
// starting traces of their own outside requests.
func ChildrenOnly(tp trace.TracerProvider) trace.TracerProvider {
	return childrenOnlyProvider{tp}
}

type childrenOnlyProvider struct{ trace.TracerProvider }

func (p childrenOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childrenOnlyTracer{p.TracerProvider.Tracer(name, opts...)}
}

type childrenOnlyTracer struct{ trace.Tracer }

func (t childrenOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); !parent.IsRecording() {
		return ctx, parent
	}
	return t.Tracer.Start(ctx, name, opts...)
}
