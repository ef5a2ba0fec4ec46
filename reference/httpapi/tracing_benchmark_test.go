package httpapi

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/telemetry"
)

// BenchmarkValidateTracing is BenchmarkValidateHandler on a real
// redis-server with tracing off, sampling 1 % and sampling 100 %, set up
// as sessiond sets it up (an always-on provider, the decision made by
// telemetry.Sampling at the edge, the Redis client instrumented). Spans go
// to an in-memory recorder: export costs are not included. Besides ns/op
// (wall time, mostly the Redis round trip) it reports cpu-ns/op, this
// process's user+system CPU per request, which other load on the machine
// disturbs much less.
func BenchmarkValidateTracing(b *testing.B) {
	addr := testsvc.StartRedis(b)
	for _, bc := range []struct {
		name  string
		ratio float64 // < 0: tracing off
	}{{"off", -1}, {"ratio=0.01", 0.01}, {"ratio=1", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			o := envOptions{redisAddr: addr}
			var tp *sdktrace.TracerProvider
			if bc.ratio >= 0 {
				tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
				sampling := telemetry.Sampling{Ratio: bc.ratio, FollowParent: true}
				o.cfg = func(c *Config) { c.TracerProvider, c.TraceSampler = tp, sampling.Sample }
			}
			e, cookie := benchSession(b, o)
			if tp != nil {
				if err := telemetry.InstrumentRedis(e.rdb, tp); err != nil {
					b.Fatal(err)
				}
			}
			req := httptest.NewRequest("GET", "/v1/sessions/current", nil)
			req.Header.Set("Cookie", cookie)
			req.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				e.api.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
