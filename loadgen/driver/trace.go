package driver

import (
	"context"
	"encoding/hex"
)

// TraceID identifies an operation's W3C trace (16 random bytes); the
// zero value means none.
type TraceID [16]byte

// String is the 32 lower-case hex digits W3C Trace Context uses.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsZero reports whether t is unset.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// Trace is what a driver propagates for one operation: the server
// continues the trace as a child of SpanID, and records it when Sampled.
type Trace struct {
	ID      TraceID
	SpanID  [8]byte
	Sampled bool
}

// TraceParent is the W3C traceparent header value:
// 00-<trace id>-<parent span id>-<flags>.
func (t Trace) TraceParent() string { return string(t.AppendTraceParent(make([]byte, 0, 55))) }

// AppendTraceParent appends the traceparent value to b.
func (t Trace) AppendTraceParent(b []byte) []byte {
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, t.ID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, t.SpanID[:])
	if t.Sampled {
		b = append(b, "-01"...)
	} else {
		b = append(b, "-00"...)
	}
	return b
}

type traceKey struct{}

// WithTrace returns ctx carrying t for the driver to propagate: the
// engine gives every operation its own trace, so the slowest ones in a
// summary can be looked up in the server's tracing backend.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom is the trace ctx carries (ok false: none).
func TraceFrom(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok && !t.ID.IsZero()
}
