package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Text writes the human summary: per operation count, rate, p50 /
// p90 / p99 / p99.9 / max (ms), errors, expected rejections, then the
// validity and SLO lines.
func Text(w io.Writer, s *results.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// "expected" counts the rejections the scenario asked for (a 401 over
	// HTTP, a not-found from the store driver).
	fmt.Fprintln(tw, "op\tcount\trate/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\texpected\t")
	row := func(name string, o results.OpSummary) {
		l := o.LatencyMs
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t\n",
			name, o.Count, o.Rate, l.P50, l.P90, l.P99, l.P999, l.Max, o.Errors, o.ExpectedRejections)
	}
	for _, op := range []string{"create", "validate", "destroy"} {
		row(op, s.Ops[op])
	}
	for _, op := range sortedKeys(s.InvalidOps) {
		row(op, s.InvalidOps[op])
	}
	tw.Flush()
	fmt.Fprintf(w, "latency corrected for coordinated omission (from intended send time); duration %.1fs, target %.1f/s, achieved %.1f/s, schedule lag p50 %.3fms p99 %.3fms max %.1fms\n",
		s.DurationS, s.Load.TargetRate, s.Load.AchievedRate, s.Load.LagMs.P50, s.Load.LagMs.P99, s.Load.MaxLagMs)
	if s.Env.CPUPerOpUs > 0 {
		fmt.Fprintf(w, "generator: %.1f µs of CPU per operation (loadgen's user+sys over the operations it sent)\n", s.Env.CPUPerOpUs)
	}
	if s.Load.Dropped > 0 {
		fmt.Fprintf(w, "dropped: %d of %d scheduled operations were never sent\n", s.Load.Dropped, s.Load.ScheduledOps)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(s.Errors.ByClass) > 0 {
		fmt.Fprintf(w, "errors: %s\n", classList(s.Errors.ByClass))
	}
	if s.Skipped[engine.SkippedEmptyPool] > 0 {
		fmt.Fprintf(w, "skipped_empty_pool: %d validates/destroys found no live session and ran as creates\n", s.Skipped[engine.SkippedEmptyPool])
	}
	switch {
	case s.Partial:
		fmt.Fprintln(w, "run: PARTIAL (interrupted)")
	}
	if s.Load.Valid {
		fmt.Fprintln(w, "validity: valid (schedule kept)")
	} else {
		fmt.Fprintf(w, "validity: INVALID: %s\n", strings.Join(s.Load.InvalidReasons, "; "))
	}
	if s.SLO.NotEvaluated != "" {
		fmt.Fprintf(w, "slo: not evaluated: %s\n", s.SLO.NotEvaluated)
		return
	}
	if len(s.SLO.Terms) == 0 {
		fmt.Fprintln(w, "slo: none")
		return
	}
	var parts []string
	for _, k := range sortedKeys(s.SLO.Terms) {
		t := s.SLO.Terms[k]
		mark := "ok"
		if !t.Passed {
			mark = "BREACH"
		}
		if t.ThresholdMs != nil {
			parts = append(parts, fmt.Sprintf("%s %.3fms ≤ %gms %s", k, *t.ObservedMs, *t.ThresholdMs, mark))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.4f%% ≤ %g%% %s", k, *t.Observed*100, *t.Threshold*100, mark))
		}
	}
	verdict := "passed"
	if !s.SLO.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "slo: %s: %s\n", verdict, strings.Join(parts, "; "))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// classList formats error counts as "server_5xx=60 timeout=2".
func classList(m map[string]uint64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
