package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// latency converts a microsecond histogram to millisecond statistics.
func latency(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()), Mean: h.Mean() / 1000,
	}
}

// New builds the summary of rep, evaluating the scenario's SLO. t and env
// come from the caller (the CLI knows the target; CollectEnv the env).
// The CLI may fill Memory's target fields afterwards.
func New(rep *engine.Report, t Target, env Env) *Summary {
	s := &Summary{
		Schema: Schema, Scenario: rep.Scenario.Name, StartedAt: rep.StartedAt.UTC(),
		DurationS: rep.Duration.Seconds(), Partial: rep.Partial, Target: t, Env: env, Seed: rep.Seed,
		Load: Load{
			TargetRate: rep.TargetRate, AchievedRate: rep.AchievedRate,
			MaxLagMs: float64(rep.MaxLag) / float64(time.Millisecond), LagMs: latency(rep.Stats.Lag), Valid: rep.Valid,
			ScheduledOps: rep.ScheduledOps, Dropped: rep.Dropped,
			InvalidReasons: append([]string{}, rep.InvalidReasons...),
		},
		Ops:    map[string]OpSummary{},
		Errors: Errors{ByClass: map[string]uint64{}},
		Memory: Memory{
			LoadgenRSSStartBytes: rep.RSSStart, LoadgenRSSEndBytes: rep.RSSEnd, LoadgenRSSMaxBytes: rep.RSSMax,
			SessionsLiveEnd: uint64(rep.SessionsLiveEnd),
		},
	}
	s.Env.CPUPerOpUs = float64(rep.CPUPerOp) / float64(time.Microsecond)
	if len(rep.Skipped) > 0 {
		s.Skipped = map[string]uint64{}
		for k, v := range rep.Skipped {
			s.Skipped[k] = v
		}
	}
	for _, st := range rep.Stats.Ops {
		o := OpSummary{
			Count: st.Count, Errors: st.Errors, ExpectedRejections: st.ExpectedRejections,
			LatencyMs: latency(st.Corrected), UncorrectedLatencyMs: latency(st.Uncorrected), Clamped: st.Clamped,
		}
		if rep.Duration > 0 {
			o.Rate = float64(st.Count) / rep.Duration.Seconds()
		}
		for _, sl := range st.Slowest {
			since := sl.Intended - rep.Scenario.Warmup // offsets run from the timeline's start
			so := SlowOp{LatencyMs: float64(sl.Latency) / float64(time.Millisecond), IntendedMs: float64(since) / float64(time.Millisecond),
				At: rep.StartedAt.Add(since).UTC()}
			if !sl.Trace.IsZero() {
				so.TraceID = sl.Trace.String()
			}
			o.Slowest = append(o.Slowest, so)
		}
		if len(st.ExpectedByReason) > 0 {
			o.ExpectedByReason = map[string]uint64{}
			for k, v := range st.ExpectedByReason {
				o.ExpectedByReason[k] = v
			}
		}
		for k, v := range st.ErrorsByClass {
			s.Errors.ByClass[string(k)] += v
		}
		switch st.Op {
		case recorder.Create, recorder.Validate, recorder.Destroy:
			s.Ops[st.Op.String()] = o
		default:
			if st.Count > 0 {
				if s.InvalidOps == nil {
					s.InvalidOps = map[string]OpSummary{}
				}
				s.InvalidOps[st.Op.String()] = o
			}
		}
	}
	if count, _ := rep.Stats.Totals(); count == 0 {
		s.SLO = SLOResult{Terms: map[string]SLOTerm{}, NotEvaluated: "nothing was measured"}
	} else {
		s.SLO = Evaluate(rep.Scenario.SLO, s)
	}
	s.Verdict, s.VerdictReasons = s.decide()
	return s
}

// decide gives the run's verdict and its reasons (see the Verdict
// constants for the precedence).
func (s *Summary) decide() (string, []string) {
	var n, failed uint64
	for _, m := range []map[string]OpSummary{s.Ops, s.InvalidOps} {
		for _, o := range m {
			n += o.Count
			failed += o.Errors
		}
	}
	switch {
	case s.Target.Exited != "":
		return VerdictFailed, []string{fmt.Sprintf("the sessiond loadgen started exited during the run (%s); see sessiond.log", s.Target.Exited)}
	case s.Partial:
		why := "interrupted before the schedule ended"
		if n == 0 {
			why += ", before anything was measured"
		}
		return VerdictPartial, []string{why}
	case n == 0:
		return VerdictFailed, []string{"no operation was recorded in the measured phase"}
	case failed == n:
		return VerdictFailed, []string{fmt.Sprintf("every operation failed (%s): the target is not serving", classList(s.Errors.ByClass))}
	case !s.Load.Valid:
		return VerdictInvalid, append([]string{}, s.Load.InvalidReasons...)
	case !s.SLO.Passed:
		var why []string
		for _, k := range sortedKeys(s.SLO.Terms) {
			if !s.SLO.Terms[k].Passed {
				why = append(why, "SLO "+k+" breached")
			}
		}
		return VerdictSLOBreach, why
	}
	return VerdictPass, nil
}

// classList formats error counts as "server_5xx=60 timeout=2".
func classList(m map[string]uint64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// ErrorRate is errors over all recorded operations excluding expected
// rejections (0 when nothing ran).
func (s *Summary) ErrorRate() float64 {
	var n, e uint64
	for _, m := range []map[string]OpSummary{s.Ops, s.InvalidOps} {
		for _, o := range m {
			n += o.Count - o.ExpectedRejections
			e += o.Errors
		}
	}
	if n == 0 {
		return 0
	}
	return float64(e) / float64(n)
}

// Evaluate checks each SLO term against s. A latency term on an operation
// that never ran fails (there is no evidence it holds).
func Evaluate(terms []scenario.SLOTerm, s *Summary) SLOResult {
	res := SLOResult{Passed: true, Terms: map[string]SLOTerm{}}
	for _, t := range terms {
		var out SLOTerm
		if t.IsErrorRate() {
			th, ob := t.ErrorRate, s.ErrorRate()
			out = SLOTerm{Threshold: &th, Observed: &ob, Passed: ob <= th}
		} else {
			o, ran := s.Ops[t.Op]
			l := o.LatencyMs
			ob := map[string]float64{scenario.StatP50: l.P50, scenario.StatP90: l.P90, scenario.StatP99: l.P99,
				scenario.StatP999: l.P999, scenario.StatMax: l.Max, scenario.StatMean: l.Mean}[t.Stat]
			th := float64(t.Latency) / float64(time.Millisecond)
			out = SLOTerm{ThresholdMs: &th, ObservedMs: &ob, Passed: ran && o.Count > 0 && ob <= th}
		}
		res.Terms[t.Key] = out
		res.Passed = res.Passed && out.Passed
	}
	return res
}

// Write writes summary.json into dir (created if needed) atomically: a
// temporary file renamed into place, so a reader never sees half a file.
func (s *Summary) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".summary-*.json")
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write summary: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	// CreateTemp makes the file 0600; results are shared artefacts (CI
	// uploads, teammates' comparisons), so give them ordinary permissions.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, SummaryFile)); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Read reads dir/summary.json, checking the schema.
func Read(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read results %s: %s is not a loadgen summary (%w); want a results directory written by loadgen run", dir, SummaryFile, err)
	}
	if s.Schema != Schema {
		return nil, fmt.Errorf("read results %s: %s has schema %q, want %q (a results directory written by loadgen run)", dir, SummaryFile, s.Schema, Schema)
	}
	return &s, nil
}

// CollectEnv describes this process and machine; version is the loadgen
// build version.
func CollectEnv(version string) Env {
	return Env{
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		CPUModel: cpuModel(), GitSHA: gitSHA(), LoadgenVersion: version, OS: runtime.GOOS, Arch: runtime.GOARCH,
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gitSHA is the build's VCS revision, else `git rev-parse HEAD` in the
// working directory, else "".
func gitSHA() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
