// Package report renders a results directory for people: the text table
// loadgen prints, report.md (the key numbers as Markdown tables, for a
// pull-request comment or $GITHUB_STEP_SUMMARY) and report.html (one
// self-contained page with inline SVG charts: percentile spectrum,
// latency, throughput and memory over time). Renderers read a results
// directory, never a live run, so `loadgen report DIR` redraws any run.
package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// File names in a results directory.
const (
	HTMLFile     = "report.html"
	MarkdownFile = "report.md"
)

// WriteFiles renders run into its directory as report.html and
// report.md, each written whole or not at all.
func WriteFiles(run *results.Run) error {
	var h, m bytes.Buffer
	if err := HTML(&h, run); err != nil {
		return err
	}
	Markdown(&m, run)
	for name, b := range map[string][]byte{HTMLFile: h.Bytes(), MarkdownFile: m.Bytes()} {
		if err := writeAtomic(filepath.Join(run.Dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes path through a temporary file renamed into place.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// opOrder is the order operations appear in tables and charts.
var opOrder = []string{"create", "validate", "destroy", "bad_token", "unknown_session"}

// opRows lists the operation summaries present, in order.
func opRows(s *results.Summary) []namedOp {
	var out []namedOp
	for _, name := range opOrder {
		if o, ok := s.Ops[name]; ok && (o.Count > 0 || name == "create" || name == "validate" || name == "destroy") {
			out = append(out, namedOp{name, o})
		} else if o, ok := s.InvalidOps[name]; ok && o.Count > 0 {
			out = append(out, namedOp{name, o})
		}
	}
	return out
}

type namedOp struct {
	Name string
	Op   results.OpSummary
}

// sharing says who shared the generator's cores, from the summary and
// the timeline: the question a verdict that flips with background load
// raises first.
func sharing(run *results.Run) string {
	s := run.Summary
	var who []string
	who = append(who, "loadgen")
	if strings.HasPrefix(s.Target.Server, "sessiond") && strings.HasPrefix(s.Target.URL, "http://127.") {
		who = append(who, "sessiond")
	}
	switch s.Target.Redis.Mode {
	case "local", "container":
		who = append(who, "redis-server")
	case "embedded":
		who = append(who, "the embedded Redis (inside loadgen)")
	}
	line := fmt.Sprintf("%s on %d CPUs (%s)", strings.Join(who, ", "), s.Env.NumCPU, s.Env.CPUModel)
	other, steal, load := meanMax(run.Timeline, results.HostOtherCPUPct), meanMax(run.Timeline, results.HostCPUStealPct), meanMax(run.Timeline, results.HostLoad1)
	if !math.IsNaN(other.mean) {
		line += fmt.Sprintf("; other processes used %.0f%% of all cores on average (peak %.0f%%)", other.mean, other.max)
		if s.Duet {
			line += ", the duet partner's sessiond and Redis among them"
		}
	}
	if s.Duet {
		line += fmt.Sprintf("; a duet run (pair %s): the partner server got the same operations at the same moments", s.Pair)
	}
	if !math.IsNaN(steal.max) && steal.max >= 1 {
		line += fmt.Sprintf("; the hypervisor stole up to %.0f%%", steal.max)
	}
	if !math.IsNaN(load.max) {
		line += fmt.Sprintf("; load average up to %.2f", load.max)
	}
	// The generator's own cost: how close loadgen was to its limit, the
	// other half of "could it keep up" (absent from older summaries).
	if s.Env.CPUPerOpUs > 0 {
		line += fmt.Sprintf("; loadgen spent %.1f µs of CPU per operation", s.Env.CPUPerOpUs)
	}
	return line
}

type stat struct{ mean, max float64 }

// meanMax of a timeline series over the measured phase (NaN when never
// known).
func meanMax(rows []results.TimelineRow, s results.Series) stat {
	sum, n, mx := 0.0, 0, math.NaN()
	for _, r := range rows {
		v := r.Values[s]
		if math.IsNaN(v) || r.Phase != engine.PhaseMeasure {
			continue
		}
		sum += v
		n++
		if math.IsNaN(mx) || v > mx {
			mx = v
		}
	}
	if n == 0 {
		return stat{math.NaN(), math.NaN()}
	}
	return stat{sum / float64(n), mx}
}

// redisText describes the Redis in one line.
func redisText(r results.Redis) string {
	if r.Mode == "" || r.Mode == "unknown" {
		return "unknown (not reported)"
	}
	parts := []string{r.Mode}
	if r.Profile != "" {
		parts = append(parts, "profile "+r.Profile)
	}
	if r.Version != "" {
		parts = append(parts, r.Version)
	}
	if r.Cluster {
		parts = append(parts, fmt.Sprintf("cluster of %d primaries", len(r.Primaries)))
	}
	if r.Replicas > 0 {
		parts = append(parts, fmt.Sprintf("%d replica(s)", r.Replicas))
	}
	if r.TLS {
		parts = append(parts, "TLS")
	}
	if r.Persistence != "" {
		parts = append(parts, "persistence "+r.Persistence)
	}
	if r.MaxMemory > 0 {
		parts = append(parts, fmt.Sprintf("maxmemory %s %s", bytesText(float64(r.MaxMemory)), r.MaxMemoryPolicy))
	}
	if r.Image != "" {
		parts = append(parts, "image "+r.Image)
	}
	return strings.Join(parts, ", ")
}

func bytesText(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

// verdictText is the verdict with its reasons.
func verdictText(s *results.Summary) string {
	v := strings.ToUpper(s.Verdict)
	if v == "" {
		v = "UNKNOWN"
	}
	if len(s.VerdictReasons) > 0 {
		v += ": " + strings.Join(s.VerdictReasons, "; ")
	}
	return v
}

// sloRows lists the SLO terms in key order.
func sloRows(s *results.Summary) []sloRow {
	var out []sloRow
	for _, k := range sortedKeys(s.SLO.Terms) {
		t := s.SLO.Terms[k]
		r := sloRow{Key: k, Passed: t.Passed}
		if t.ThresholdMs != nil {
			r.Observed, r.Threshold = fmt.Sprintf("%.3f ms", *t.ObservedMs), fmt.Sprintf("≤ %g ms", *t.ThresholdMs)
		} else {
			r.Observed, r.Threshold = fmt.Sprintf("%.4f %%", *t.Observed*100), fmt.Sprintf("≤ %g %%", *t.Threshold*100)
		}
		out = append(out, r)
	}
	return out
}

type sloRow struct {
	Key, Observed, Threshold string
	Passed                   bool
}

// slowestLines describe up to n of the slowest operations of each kind,
// with the trace ID of those sent sampled (--trace-sample below 1 leaves
// some without one: they are still the slowest, and are listed).
func slowestLines(s *results.Summary, n int) []string {
	var out []string
	for _, r := range opRows(s) {
		for _, sl := range r.Op.Slowest[:min(n, len(r.Op.Slowest))] {
			trace := "trace " + sl.TraceID
			switch {
			case sl.TraceID != "":
			case s.Target.TraceSample == nil && s.Target.Driver == "store":
				trace = "no trace"
			default:
				trace = "not sampled, no trace"
			}
			out = append(out, fmt.Sprintf("%s %.3f ms at %.0f ms into the measured phase: %s", r.Name, sl.LatencyMs, sl.IntendedMs, trace))
		}
	}
	return out
}

// slowestIntro says where the trace IDs lead, and what share of the
// operations were sent sampled when it was not all of them.
func slowestIntro(s *results.Summary) string {
	ts := s.Target.TraceSample
	switch {
	case ts == nil && s.Target.Driver == "store":
		return "The store driver sends no traceparent: these operations have no trace."
	case ts != nil && *ts <= 0:
		return "Each operation was sent with an unsampled W3C traceparent (--trace-sample 0): none has a trace to open."
	case ts != nil && *ts < 1:
		return fmt.Sprintf("Each operation was sent with a W3C traceparent, %s of them sampled (--trace-sample): open these trace IDs in the server's tracing backend; the others have none.",
			strconv.FormatFloat(*ts*100, 'g', 4, 64)+" %")
	}
	return "Each operation was sent with a W3C traceparent: open these trace IDs in the server's tracing backend."
}

// LogMissing says, for a run that measured operations, that its
// latency.hlog is not in the directory (moved aside, deleted, or never
// written): the charts drawn from it are left out. "" otherwise.
func LogMissing(run *results.Run) string {
	if run.Intervals != nil {
		return ""
	}
	var n uint64
	for _, o := range run.Summary.Ops {
		n += o.Count
	}
	if n == 0 {
		return "" // nothing was measured: there was no log to draw
	}
	return results.LatencyLog + " is missing from this results directory: the charts drawn from it (percentile spectrum, latency and throughput over time) are left out; the summary's figures stand"
}
