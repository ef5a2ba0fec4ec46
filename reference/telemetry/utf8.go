package telemetry

import (
	"context"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// validUTF8Exporter replaces invalid UTF-8 in the spans it exports with
// U+FFFD. OTLP's protobuf encoding refuses a whole batch when one string
// in it is not UTF-8, so a single client's malformed User-Agent or path
// (otelhttp records both) would lose every span exported with it.
// Spans that are valid, nearly all of them, pass through untouched.
type validUTF8Exporter struct{ sdktrace.SpanExporter }

func (e validUTF8Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var fixed []sdktrace.ReadOnlySpan
	for i, s := range spans {
		if spanIsUTF8(s) {
			continue
		}
		if fixed == nil {
			fixed = append([]sdktrace.ReadOnlySpan(nil), spans...)
		}
		fixed[i] = toValidUTF8(s)
	}
	if fixed != nil {
		spans = fixed
	}
	return e.SpanExporter.ExportSpans(ctx, spans)
}

func spanIsUTF8(s sdktrace.ReadOnlySpan) bool {
	if !utf8.ValidString(s.Name()) || !utf8.ValidString(s.Status().Description) || !attrsAreUTF8(s.Attributes()) {
		return false
	}
	for _, ev := range s.Events() {
		if !utf8.ValidString(ev.Name) || !attrsAreUTF8(ev.Attributes) {
			return false
		}
	}
	for _, l := range s.Links() {
		if !attrsAreUTF8(l.Attributes) {
			return false
		}
	}
	return true
}

func attrsAreUTF8(kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if !utf8.ValidString(string(kv.Key)) {
			return false
		}
		switch kv.Value.Type() {
		case attribute.STRING:
			if !utf8.ValidString(kv.Value.AsString()) {
				return false
			}
		case attribute.STRINGSLICE:
			for _, v := range kv.Value.AsStringSlice() {
				if !utf8.ValidString(v) {
					return false
				}
			}
		}
	}
	return true
}

// toValidUTF8 copies s with every string made valid (through the SDK's
// own span snapshot type, the one way to build a ReadOnlySpan).
func toValidUTF8(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	stub := tracetest.SpanStubFromReadOnlySpan(s)
	stub.Name = fixString(stub.Name)
	stub.Status.Description = fixString(stub.Status.Description)
	stub.Attributes = fixAttrs(stub.Attributes)
	for i := range stub.Events {
		stub.Events[i].Name = fixString(stub.Events[i].Name)
		stub.Events[i].Attributes = fixAttrs(stub.Events[i].Attributes)
	}
	for i := range stub.Links {
		stub.Links[i].Attributes = fixAttrs(stub.Links[i].Attributes)
	}
	return stub.Snapshot()
}

func fixString(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func fixAttrs(kvs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, len(kvs))
	for i, kv := range kvs {
		key := attribute.Key(fixString(string(kv.Key)))
		switch kv.Value.Type() {
		case attribute.STRING:
			out[i] = key.String(fixString(kv.Value.AsString()))
		case attribute.STRINGSLICE:
			vs := kv.Value.AsStringSlice()
			for j := range vs {
				vs[j] = fixString(vs[j])
			}
			out[i] = key.StringSlice(vs)
		default:
			out[i] = attribute.KeyValue{Key: key, Value: kv.Value}
		}
	}
	return out
}
