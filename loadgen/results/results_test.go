package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// report builds an engine report from recorded samples: 1000 validates
// at 1 ms, one at 50 ms; 100 creates at 2 ms, 1 error; 10 expected
// rejections (raced destroy).
func report(t *testing.T, slo string) *engine.Report {
	t.Helper()
	sc, err := scenario.Parse([]byte("name: t\nduration: 10s\nrate: 100/s\nmix: {create: 1, validate: 1, destroy: 1}\n"+slo), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := recorder.New()
	for i := 0; i < 1000; i++ {
		r.Record(recorder.Validate, recorder.Sample{Done: time.Millisecond})
	}
	r.Record(recorder.Validate, recorder.Sample{Done: 50 * time.Millisecond})
	for i := 0; i < 100; i++ {
		s := recorder.Sample{Done: 2 * time.Millisecond}
		if i == 0 {
			s.Err = driver.Server5xx
		}
		r.Record(recorder.Create, s)
	}
	for i := 0; i < 10; i++ {
		r.Record(recorder.Validate, recorder.Sample{Done: time.Millisecond, Expected: recorder.ReasonRacedDestroy})
	}
	return &engine.Report{Scenario: sc, StartedAt: time.Unix(1_700_000_000, 0), Duration: 10 * time.Second,
		Valid: true, Stats: r.Snapshot(), TargetRate: 100, AchievedRate: 111.1, CPUPerOp: 41500 * time.Nanosecond, SentOps: 1111}
}

func TestSummaryFieldsAndSLO(t *testing.T) {
	s := New(report(t, "slo: {validate.p99: 10ms, validate.max: 10ms, create.p50: 5ms, destroy.p99: 1s, error_rate: 0.1%}\n"),
		Target{URL: "http://x", Auth: "minted"}, CollectEnv("test"))
	v := s.Ops["validate"]
	if v.Count != 1011 || v.ExpectedRejections != 10 || v.ExpectedByReason["raced_destroy"] != 10 {
		t.Errorf("validate %+v", v)
	}
	if v.LatencyMs.P50 < 0.99 || v.LatencyMs.P50 > 1.01 || v.LatencyMs.Max < 49.9 || v.Rate != 101.1 {
		t.Errorf("validate latency %+v rate %v", v.LatencyMs, v.Rate)
	}
	// error_rate = 1 error / (1111 ops − 10 expected).
	if er := s.ErrorRate(); er < 1.0/1101-1e-12 || er > 1.0/1101+1e-12 {
		t.Errorf("error rate %v", er)
	}
	want := map[string]bool{"validate.p99": true, "validate.max": false, "create.p50": true, "destroy.p99": false, "error_rate": true}
	for k, pass := range want {
		if got, ok := s.SLO.Terms[k]; !ok || got.Passed != pass {
			t.Errorf("slo %s = %+v, want passed=%v", k, got, pass)
		}
	}
	if s.SLO.Passed {
		t.Error("slo passed with breached terms")
	}
	if s.Errors.ByClass["server_5xx"] != 1 {
		t.Errorf("errors %v", s.Errors.ByClass)
	}
	if s.Env.GoVersion == "" || s.Env.GOMAXPROCS < 1 || s.Env.LoadgenVersion != "test" || s.Env.OS == "" {
		t.Errorf("env %+v", s.Env)
	}
	if s.Env.CPUPerOpUs != 41.5 {
		t.Errorf("env.cpu_per_op_us %v, want the engine's 41.5 µs", s.Env.CPUPerOpUs)
	}
}

func TestNoSLOPasses(t *testing.T) {
	s := New(report(t, ""), Target{}, Env{})
	if !s.SLO.Passed || len(s.SLO.Terms) != 0 {
		t.Errorf("slo %+v", s.SLO)
	}
}

// TestWriteReadJSONShape writes summary.json, reads it back, and checks
// the v1 field names from the contract are present.
func TestWriteReadJSONShape(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	s := New(report(t, "slo: {validate.p99: 10ms}\n"), Target{URL: "u", Server: "sessiond", Redis: Redis{Mode: "embedded", Version: "7"}, Auth: "minted"}, CollectEnv("v"))
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Ops["validate"].Count != s.Ops["validate"].Count || back.Target.Redis.Mode != "embedded" {
		t.Errorf("round trip lost data: %+v", back)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "scenario", "started_at", "duration_s", "partial", "target", "load", "ops", "errors", "memory", "slo", "env"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	load := m["load"].(map[string]any)
	for _, k := range []string{"target_rate", "achieved_rate", "max_lag_ms", "lag_ms", "valid", "invalid_reasons"} {
		if _, ok := load[k]; !ok {
			t.Errorf("load lacks %q", k)
		}
	}
	op := m["ops"].(map[string]any)["validate"].(map[string]any)
	for _, k := range []string{"count", "errors", "expected_rejections", "rate", "latency_ms", "uncorrected_latency_ms"} {
		if _, ok := op[k]; !ok {
			t.Errorf("ops.validate lacks %q", k)
		}
	}
	lat := op["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max", "mean"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_ms lacks %q", k)
		}
	}
	term := m["slo"].(map[string]any)["terms"].(map[string]any)["validate.p99"].(map[string]any)
	for _, k := range []string{"threshold_ms", "observed_ms", "passed"} {
		if _, ok := term[k]; !ok {
			t.Errorf("slo term lacks %q", k)
		}
	}
	env := m["env"].(map[string]any)
	for _, k := range []string{"go_version", "gomaxprocs", "cpu_model", "num_cpu", "git_sha", "loadgen_version", "os", "arch"} {
		if _, ok := env[k]; !ok {
			t.Errorf("env lacks %q", k)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
}

func TestReadRejectsOtherSchema(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"schema":"other/v9"}`), 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("err = %v", err)
	}
}

// Regression: summary.json was written 0600 (os.CreateTemp's mode), so
// CI artefact uploaders and teammates could not read a shared results dir.
func TestWriteSummaryReadableByOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	s := New(report(t, ""), Target{URL: "u"}, CollectEnv("v"))
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("summary.json mode = %v, want 0644", got)
	}
}

// TestVerdicts: one verdict per run, in a fixed precedence, with reasons.
func TestVerdicts(t *testing.T) {
	failing := func() *engine.Report {
		rep := report(t, "")
		r := recorder.New()
		for i := 0; i < 60; i++ {
			r.Record(recorder.Create, recorder.Sample{Done: time.Millisecond, Err: driver.Server5xx})
		}
		rep.Stats = r.Snapshot()
		return rep
	}
	empty := func() *engine.Report {
		rep := report(t, "slo: {create.p99: 500ms}\n")
		rep.Stats = recorder.New().Snapshot()
		return rep
	}
	cases := []struct {
		name   string
		rep    func() *engine.Report
		want   string
		reason string
	}{
		{"pass", func() *engine.Report { return report(t, "") }, VerdictPass, ""},
		{"slo", func() *engine.Report { return report(t, "slo: {validate.max: 10ms}\n") }, VerdictSLOBreach, "validate.max"},
		{"invalid", func() *engine.Report {
			r := report(t, "slo: {validate.max: 10ms}\n")
			r.Valid, r.InvalidReasons = false, []string{"schedule lag: too late"}
			return r
		}, VerdictInvalid, "schedule lag"},
		// 60 of 60 answered 5xx with no SLO: a failed run, not a pass.
		{"all failed", failing, VerdictFailed, "every operation failed (server_5xx=60)"},
		{"nothing measured", empty, VerdictFailed, "no operation was recorded"},
		{"partial before measuring", func() *engine.Report { r := empty(); r.Partial = true; return r }, VerdictPartial, "before anything was measured"},
	}
	for _, c := range cases {
		s := New(c.rep(), Target{}, Env{})
		if s.Verdict != c.want || (c.reason != "" && !strings.Contains(strings.Join(s.VerdictReasons, ";"), c.reason)) {
			t.Errorf("%s: verdict %q %v; want %q with %q", c.name, s.Verdict, s.VerdictReasons, c.want, c.reason)
		}
	}
}

// TestServerExitedFailsTheRun: a sessiond killed mid-run (308 of 500
// operations failed to connect) printed "slo: passed" and exited 0.
// Whatever the numbers, a server that died is a failed run, even an
// interrupted one.
func TestServerExitedFailsTheRun(t *testing.T) {
	for _, partial := range []bool{false, true} {
		rep := report(t, "")
		rep.Partial = partial
		s := New(rep, Target{Exited: "signal: killed"}, Env{})
		if s.Verdict != VerdictFailed || !strings.Contains(strings.Join(s.VerdictReasons, ";"), "exited during the run (signal: killed)") {
			t.Errorf("partial=%v: verdict %q %v; want failed naming the exit", partial, s.Verdict, s.VerdictReasons)
		}
	}
}

// TestNothingMeasuredHasNoSLOVerdict: interrupted before the measured
// phase, the SLO is not evaluated (it printed "create.p99 0.000ms ≤
// 500ms BREACH" next to "validity: valid").
func TestNothingMeasuredHasNoSLOVerdict(t *testing.T) {
	rep := report(t, "slo: {create.p99: 500ms}\n")
	rep.Stats = recorder.New().Snapshot()
	rep.Partial = true
	s := New(rep, Target{}, Env{})
	if s.SLO.Passed || len(s.SLO.Terms) != 0 || s.SLO.NotEvaluated == "" {
		t.Errorf("slo %+v; want not evaluated", s.SLO)
	}
}
