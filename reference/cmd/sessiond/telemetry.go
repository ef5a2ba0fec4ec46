package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/go-logr/logr"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionbench/sessionbench/reference/httpapi"
	"github.com/sessionbench/sessionbench/reference/redisinfo"
	"github.com/sessionbench/sessionbench/reference/telemetry"
)

// telemetryConfig holds serve's tracing and Redis INFO flags.
type telemetryConfig struct {
	OTelEndpoint      string
	OTelSampleRatio   ratioFlag
	RedisInfoInterval time.Duration
}

// ratioFlag is a fraction in [0, 1] that remembers whether it was set,
// so that OTEL_TRACES_SAMPLER applies only when it was not.
type ratioFlag struct {
	v   float64
	set bool
}

func (r *ratioFlag) String() string {
	if r == nil || !r.set {
		return ""
	}
	return strconv.FormatFloat(r.v, 'g', -1, 64)
}

func (r *ratioFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return fmt.Errorf("%q is not a fraction between 0 and 1 (0.01 samples 1%% of new traces)", s)
	}
	r.v, r.set = v, true
	return nil
}

func registerTelemetryFlags(fs *flag.FlagSet, c *telemetryConfig) {
	fs.StringVar(&c.OTelEndpoint, "otel-endpoint", "", "OpenTelemetry collector's OTLP/HTTP base `URL`, e.g. http://127.0.0.1:4318 (/v1/traces is appended): turns tracing on. Unset: "+telemetry.EnvEndpoint+" or "+telemetry.EnvTracesEndpoint+", else tracing is off")
	fs.Var(&c.OTelSampleRatio, "otel-sample-ratio", fmt.Sprintf("`fraction` (0..1) of new traces recorded; a caller's traceparent sampling decision is always followed. Unset: %s/%s, else %g", telemetry.EnvSampler, telemetry.EnvSamplerArg, telemetry.DefaultSampleRatio))
	durationVar(fs, &c.RedisInfoInterval, "redis-info-interval", redisinfo.DefaultInterval, "how often to read Redis INFO for the sessiond_redis_* memory, eviction-policy and reachability gauges (0: never)")
}

func (c *telemetryConfig) check() error {
	if c.RedisInfoInterval < 0 {
		return fmt.Errorf("--redis-info-interval %s must be >= 0 (0 turns the INFO gauges off)", c.RedisInfoInterval)
	}
	return nil
}

// observability is what serve runs besides the API: the tracer provider
// (nil when tracing is off), the metrics registry and the Redis INFO
// poller's goroutine.
type observability struct {
	tp       *sdktrace.TracerProvider
	sample   func(trace.SpanContext) bool
	registry *prometheus.Registry
	stopInfo context.CancelFunc
	infoDone chan struct{}
	log      *slog.Logger
}

// startObservability sets up tracing (and traces rdb) when asked, and
// starts the INFO poller on rdb, registered in a new registry for the
// API. Errors are configuration errors. The caller must call stop.
func startObservability(ctx context.Context, c *serveConfig, getenv func(string) string, rdb redis.UniversalClient, dials *dialWatch, log *slog.Logger) (*observability, error) {
	o := &observability{registry: httpapi.NewRegistry(), log: log}
	// The SDK's own diagnostics go to a process-wide logr logger, plain
	// text on stderr by default, in the middle of the JSON log.
	otel.SetLogger(logr.FromSlogHandler(log.Handler()))
	tr, desc, err := telemetry.Setup(ctx, telemetry.Config{
		Endpoint:       c.OTelEndpoint,
		SampleRatio:    c.OTelSampleRatio.v,
		SampleRatioSet: c.OTelSampleRatio.set,
		ServiceVersion: version,
		Getenv:         getenv,
	})
	if err != nil {
		return nil, err
	}
	log.Info(desc)
	if tr != nil {
		o.tp, o.sample = tr.Provider, tr.Sampling.Sample
		// The SDK reports export failures through this process-wide
		// handler; without it they go to the standard logger as plain
		// text, in the middle of the JSON log.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("opentelemetry: exporting spans failed", "err", err)
		}))
		if err := telemetry.InstrumentRedis(rdb, tr.Provider); err != nil {
			o.stop()
			return nil, fmt.Errorf("tracing the Redis client: %w", err)
		}
	}
	if c.RedisInfoInterval > 0 {
		p := redisinfo.New(rdb, redisinfo.Options{Interval: c.RedisInfoInterval, Timeout: c.RequestTimeout, Logger: log, Explain: dials.explain})
		if err := o.registry.Register(p); err != nil {
			o.stop()
			return nil, fmt.Errorf("registering the Redis INFO gauges: %w", err)
		}
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		o.stopInfo, o.infoDone = cancel, make(chan struct{})
		go func() {
			defer close(o.infoDone)
			p.Run(pctx)
		}()
	}
	return o, nil
}

// tracerProvider is the provider for httpapi.Config: a nil interface
// when tracing is off (a typed nil pointer would turn tracing on).
func (o *observability) tracerProvider() trace.TracerProvider {
	if o.tp == nil {
		return nil
	}
	return o.tp
}

// stop ends the INFO poller and flushes the last spans (bounded, so a
// dead collector cannot hold up the exit).
func (o *observability) stop() {
	if o.stopInfo != nil {
		o.stopInfo()
		<-o.infoDone
	}
	if o.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.tp.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Warn("flushing the last spans failed", "err", err)
		}
	}
}
