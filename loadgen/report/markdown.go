package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Markdown writes the key numbers of run as Markdown: a verdict line,
// the per-operation table, the SLO, the load kept, memory, and what
// shared the cores. It reads as a pull-request comment.
func Markdown(w io.Writer, run *results.Run) {
	s := run.Summary
	title := s.Scenario
	if s.Label != "" {
		title += " · " + s.Label
	}
	fmt.Fprintf(w, "### sessionbench: %s\n\n", mdEscape(title))
	mark := "✅"
	if s.Verdict != results.VerdictPass {
		mark = "❌"
	}
	fmt.Fprintf(w, "%s **%s**\n\n", mark, mdEscape(verdictText(s)))
	fmt.Fprintf(w, "%.1f s measured at %.1f/s scheduled, %.1f/s achieved; schedule lag p99 %.3f ms; Redis: %s.\n\n",
		s.DurationS, s.Load.TargetRate, s.Load.AchievedRate, s.Load.LagMs.P99, mdEscape(redisText(s.Target.Redis)))
	fmt.Fprintln(w, "| op | count | rate/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | uncorrected p99 ms | errors | expected |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range opRows(s) {
		l, u := r.Op.LatencyMs, r.Op.UncorrectedLatencyMs
		fmt.Fprintf(w, "| %s | %d | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %d |\n",
			r.Name, r.Op.Count, r.Op.Rate, l.P50, l.P90, l.P99, l.P999, l.Max, u.P99, r.Op.Errors, r.Op.ExpectedRejections)
	}
	fmt.Fprintln(w)
	if rows := sloRows(s); len(rows) > 0 {
		fmt.Fprintln(w, "| SLO | observed | threshold | |")
		fmt.Fprintln(w, "|---|---:|---:|---|")
		for _, r := range rows {
			v := "ok"
			if !r.Passed {
				v = "**breach**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Key, r.Observed, r.Threshold, v)
		}
		fmt.Fprintln(w)
	} else if s.SLO.NotEvaluated != "" {
		fmt.Fprintf(w, "SLO not evaluated: %s.\n\n", mdEscape(s.SLO.NotEvaluated))
	}
	if m := s.Memory; m.RedisBytesPerSession > 0 || m.RedisBytesPerSessionSampled != nil || m.Leak.Suspected {
		var parts []string
		if m.RedisBytesPerSession > 0 {
			parts = append(parts, fmt.Sprintf("Redis %.0f B per live session (fit)", m.RedisBytesPerSession))
		}
		if x := m.RedisBytesPerSessionSampled; x != nil {
			parts = append(parts, fmt.Sprintf("%.0f B sampled (session key %.0f B + index entry %.0f B)", x.PerSessionBytes, x.SessionKeyBytes, x.IndexEntryBytes))
		}
		leak := "no leak suspected"
		if m.Leak.Suspected {
			leak = "**leak suspected**: " + strings.Join(m.Leak.Reasons, "; ")
		}
		parts = append(parts, leak)
		fmt.Fprintf(w, "Memory: %s.\n\n", mdEscape(strings.Join(parts, "; ")))
	}
	if lines := slowestLines(s, 3); len(lines) > 0 {
		fmt.Fprintln(w, "Slowest operations:", mdEscape(slowestIntro(s)))
		fmt.Fprintln(w)
		for _, l := range lines {
			fmt.Fprintf(w, "- %s\n", mdEscape(l))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Shared cores: %s.\n", mdEscape(sharing(run)))
	if m := LogMissing(run); m != "" {
		fmt.Fprintf(w, "\n> %s\n", mdEscape(m))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\n> %s\n", mdEscape(n))
	}
}

// mdEscape keeps text from breaking a Markdown table or turning into
// markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
