package cloudlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/sessionbench/sessionbench/reference/cloudlog"
)

// lines parses every line of buf as a JSON object.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, l)
		}
		out = append(out, m)
	}
	return out
}

func spanCtx(t *testing.T, sampled bool) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(cfg)
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestSeverityAndMessageReplaceLevelAndMsg(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(cloudlog.NewHandler(&buf, &cloudlog.Options{Level: slog.LevelDebug}))
	log.Debug("d")
	log.Info("i", "k", 1)
	log.Warn("w")
	log.Error("e")
	log.Log(context.Background(), slog.LevelError+4, "c")
	want := []struct{ sev, msg string }{{"DEBUG", "d"}, {"INFO", "i"}, {"WARNING", "w"}, {"ERROR", "e"}, {"CRITICAL", "c"}}
	got := lines(t, &buf)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		m := got[i]
		if m["severity"] != w.sev || m["message"] != w.msg {
			t.Errorf("line %d: severity %v message %v, want %s %s", i, m["severity"], m["message"], w.sev, w.msg)
		}
		if _, ok := m["level"]; ok {
			t.Errorf("line %d still has slog's level key: %v", i, m)
		}
		if _, ok := m["msg"]; ok {
			t.Errorf("line %d still has slog's msg key: %v", i, m)
		}
		if _, ok := m["time"]; !ok {
			t.Errorf("line %d has no time: %v", i, m)
		}
		if _, ok := m[cloudlog.TraceKey]; ok {
			t.Errorf("line %d logged without a span has a trace field: %v", i, m)
		}
	}
	if got[1]["k"] != float64(1) {
		t.Errorf("attribute lost: %v", got[1])
	}
}

func TestLevelFiltersBelowMinimum(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(cloudlog.NewHandler(&buf, nil))
	log.Debug("hidden")
	log.Info("shown")
	if got := lines(t, &buf); len(got) != 1 || got[0]["message"] != "shown" {
		t.Fatalf("default level should be Info: %s", buf.String())
	}
}

func TestTraceFieldsFromActiveSpan(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(cloudlog.NewHandler(&buf, &cloudlog.Options{ProjectID: "my-proj"}))
	ctx, _ := spanCtx(t, true)
	log.InfoContext(ctx, "inside", "k", "v")
	ctx0, _ := spanCtx(t, false)
	log.WarnContext(ctx0, "unsampled")
	got := lines(t, &buf)
	if got[0][cloudlog.TraceKey] != "projects/my-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace = %v, want projects/my-proj/traces/<id>", got[0][cloudlog.TraceKey])
	}
	if got[0][cloudlog.SpanIDKey] != "00f067aa0ba902b7" || got[0][cloudlog.TraceSampledKey] != true {
		t.Errorf("spanId/sampled = %v/%v", got[0][cloudlog.SpanIDKey], got[0][cloudlog.TraceSampledKey])
	}
	if got[0]["k"] != "v" || got[0]["message"] != "inside" {
		t.Errorf("record attributes lost: %v", got[0])
	}
	if got[1][cloudlog.TraceSampledKey] != false {
		t.Errorf("unsampled span: trace_sampled = %v, want false", got[1][cloudlog.TraceSampledKey])
	}
}

func TestTraceWithoutProjectIsBareID(t *testing.T) {
	var buf bytes.Buffer
	ctx, _ := spanCtx(t, true)
	slog.New(cloudlog.NewHandler(&buf, nil)).InfoContext(ctx, "x")
	if got := lines(t, &buf)[0][cloudlog.TraceKey]; got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("trace = %v, want the bare trace ID", got)
	}
}

// Trace fields must stay at the top level even when the logger has a
// group open, or Cloud Logging does not see them.
func TestTraceFieldsStayTopLevelInsideGroups(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(cloudlog.NewHandler(&buf, &cloudlog.Options{ProjectID: "p"})).
		With("a", 1).WithGroup("g").With("b", 2).WithGroup("h")
	ctx, _ := spanCtx(t, true)
	log.InfoContext(ctx, "grouped", "c", 3)
	log.Info("grouped, no span", "c", 4)
	got := lines(t, &buf)
	m := got[0]
	if m[cloudlog.TraceKey] != "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736" || m[cloudlog.SpanIDKey] != "00f067aa0ba902b7" {
		t.Fatalf("trace fields not at top level: %v", m)
	}
	if m["a"] != float64(1) || m["severity"] != "INFO" || m["message"] != "grouped" {
		t.Fatalf("top-level fields wrong: %v", m)
	}
	g, _ := m["g"].(map[string]any)
	h, _ := g["h"].(map[string]any)
	if g["b"] != float64(2) || h["c"] != float64(3) {
		t.Fatalf("group structure lost: %v", m)
	}
	if g2, _ := got[1]["g"].(map[string]any); g2 == nil || g2["h"].(map[string]any)["c"] != float64(4) {
		t.Fatalf("line without span: %v", got[1])
	}
}

// A "level" or "msg" attribute inside a group is the caller's data, not
// slog's: it must not be renamed.
func TestGroupedLevelKeyIsNotRenamed(t *testing.T) {
	var buf bytes.Buffer
	slog.New(cloudlog.NewHandler(&buf, nil)).Info("m", slog.Group("g", "level", "x", "msg", "y"))
	g, _ := lines(t, &buf)[0]["g"].(map[string]any)
	if g["level"] != "x" || g["msg"] != "y" {
		t.Fatalf("grouped attributes renamed: %v", g)
	}
}
