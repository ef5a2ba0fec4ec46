package telemetry

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Sampling is the per-request sampling decision: trace Ratio of the
// requests, and with FollowParent do what the caller's W3C traceparent
// says instead when it has one. It is the OpenTelemetry samplers'
// semantics (traceidratio, parentbased_traceidratio...) applied once, at
// the HTTP edge, instead of at every span start.
type Sampling struct {
	Ratio        float64 // 0..1
	FollowParent bool
}

// Sample reports whether a request is traced. parent is the caller's
// span context from traceparent (invalid when there is none). A request
// of a trace the caller already started, when the caller's decision is
// not followed, is decided by its trace ID as TraceIDRatioBased decides,
// so that all services of a trace agree; a new trace by a random draw.
// Safe for concurrent use; it does not allocate.
func (s Sampling) Sample(parent trace.SpanContext) bool {
	if s.FollowParent && parent.IsValid() {
		return parent.IsSampled()
	}
	switch {
	case s.Ratio >= 1:
		return true
	case s.Ratio <= 0:
		return false
	}
	bound := uint64(s.Ratio * (1 << 63))
	if parent.IsValid() {
		tid := parent.TraceID()
		return binary.BigEndian.Uint64(tid[8:16])>>1 < bound
	}
	return rand.Uint64()>>1 < bound
}

// String names the sampling as OTEL_TRACES_SAMPLER would.
func (s Sampling) String() string {
	name := "traceidratio"
	if s.FollowParent {
		name = "parentbased_traceidratio"
	}
	return name + " " + strconv.FormatFloat(s.Ratio, 'g', -1, 64)
}

// ParseSampling returns the sampling Config asks for: --otel-sample-ratio
// (parent-based) when set, else OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG (always_on, always_off, traceidratio,
// parentbased_always_on, parentbased_always_off,
// parentbased_traceidratio), else parent-based at DefaultSampleRatio.
// Errors name the flag or variable.
func ParseSampling(c Config) (Sampling, error) {
	if c.SampleRatioSet {
		if !(c.SampleRatio >= 0 && c.SampleRatio <= 1) {
			return Sampling{}, fmt.Errorf("--otel-sample-ratio %v must be between 0 and 1 (0.01 samples 1%% of new traces)", c.SampleRatio)
		}
		return Sampling{Ratio: c.SampleRatio, FollowParent: true}, nil
	}
	name := strings.ToLower(strings.TrimSpace(c.getenv(EnvSampler)))
	switch name {
	case "":
		return Sampling{Ratio: DefaultSampleRatio, FollowParent: true}, nil
	case "always_on":
		return Sampling{Ratio: 1}, nil
	case "always_off":
		return Sampling{Ratio: 0}, nil
	case "parentbased_always_on":
		return Sampling{Ratio: 1, FollowParent: true}, nil
	case "parentbased_always_off":
		return Sampling{Ratio: 0, FollowParent: true}, nil
	case "traceidratio", "parentbased_traceidratio":
		r := 1.0 // the specification's default argument
		if arg := strings.TrimSpace(c.getenv(EnvSamplerArg)); arg != "" {
			v, err := strconv.ParseFloat(arg, 64)
			if err != nil || !(v >= 0 && v <= 1) {
				return Sampling{}, fmt.Errorf("%s=%q must be a ratio between 0 and 1 for %s=%s", EnvSamplerArg, arg, EnvSampler, name)
			}
			r = v
		}
		return Sampling{Ratio: r, FollowParent: name == "parentbased_traceidratio"}, nil
	}
	return Sampling{}, fmt.Errorf("%s=%q is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio (or use --otel-sample-ratio)", EnvSampler, name)
}
