// Package cloudlog is a log/slog handler whose JSON lines Google Cloud
// Logging reads as structured entries: the level is "severity" (DEBUG,
// INFO, WARNING, ERROR, CRITICAL), the text is "message", and a line
// written inside an active trace span carries
// "logging.googleapis.com/trace" (projects/PROJECT/traces/TRACE_ID),
// "logging.googleapis.com/spanId" and "logging.googleapis.com/trace_sampled",
// so the Logs Explorer shows it under the trace.
//
// The trace fields come from the context passed to the slog *Context
// methods (InfoContext, LogAttrs, ...); a line logged without a context
// has none.
package cloudlog

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Field names Cloud Logging recognises in a JSON log line.
const (
	SeverityKey     = "severity"
	MessageKey      = "message"
	TraceKey        = "logging.googleapis.com/trace"
	SpanIDKey       = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// Options configure NewHandler. The zero value logs at Info and above
// with bare trace IDs.
type Options struct {
	// Level is the minimum level logged. Default slog.LevelInfo.
	Level slog.Leveler
	// ProjectID is the Google Cloud project the traces are stored in.
	// With it, the trace field is "projects/ProjectID/traces/TRACE_ID",
	// the form Cloud Logging links to Cloud Trace; without it the field
	// holds the bare 32-hex-digit trace ID.
	ProjectID string
}

// NewHandler returns a JSON handler writing one line per record to w,
// with Cloud Logging's field names. Safe for concurrent use as far as w
// is (slog serialises each line's Write).
func NewHandler(w io.Writer, o *Options) slog.Handler {
	var opts Options
	if o != nil {
		opts = *o
	}
	json := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: replaceAttr})
	prefix := ""
	if opts.ProjectID != "" {
		prefix = "projects/" + opts.ProjectID + "/traces/"
	}
	return &handler{inner: json, root: json, tracePrefix: prefix}
}

// Severity is the Cloud Logging severity of a slog level: below Info is
// DEBUG, then INFO, WARNING (slog's Warn), ERROR, and CRITICAL from
// Error+4 up.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < slog.LevelError+4:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

// replaceAttr renames slog's top-level level and msg keys.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(SeverityKey, Severity(l))
		}
		a.Key = SeverityKey
	case slog.MessageKey:
		a.Key = MessageKey
	}
	return a
}

// handler adds the trace fields at the top level of the line. Once a
// group is open (WithGroup), attributes added to a record land inside it,
// so for such handlers the trace fields are added to root (the handler
// before the first group) and the later WithAttrs/WithGroup calls are
// replayed on top: slower, but only for lines that have a span and a
// group, which sessiond never writes.
type handler struct {
	inner       slog.Handler // what records are written through
	root        slog.Handler // inner before the first WithGroup
	replay      []func(slog.Handler) slog.Handler
	grouped     bool
	tracePrefix string
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	fields := [3]slog.Attr{
		slog.String(TraceKey, h.tracePrefix+sc.TraceID().String()),
		slog.String(SpanIDKey, sc.SpanID().String()),
		slog.Bool(TraceSampledKey, sc.IsSampled()),
	}
	if !h.grouped {
		r = r.Clone()
		r.AddAttrs(fields[:]...)
		return h.inner.Handle(ctx, r)
	}
	hh := h.root.WithAttrs(fields[:])
	for _, f := range h.replay {
		hh = f(hh)
	}
	return hh.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	c := *h
	c.inner = h.inner.WithAttrs(as)
	if !h.grouped {
		c.root = c.inner
	} else {
		c.replay = append(h.replay[:len(h.replay):len(h.replay)], func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.inner = h.inner.WithGroup(name)
	c.grouped = true
	c.replay = append(h.replay[:len(h.replay):len(h.replay)], func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
	return &c
}
