package compare

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/sessionbench/sessionbench/loadgen/report"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// File names written by `loadgen compare --out DIR`.
const (
	HTMLFile     = "compare.html"
	MarkdownFile = "compare.md"
)

// metric is one row of the comparison table.
type metric struct {
	name  string
	unit  string
	value func(*results.Run) float64
	// lowerIsBetter decides the arrow; all latency rows are.
	lowerIsBetter bool
}

func latencyMetric(op, stat string, get func(results.Latency) float64) metric {
	return metric{name: op + " " + stat, unit: "ms", lowerIsBetter: true, value: func(r *results.Run) float64 {
		o, ok := r.Summary.Ops[op]
		if !ok || o.Count == 0 {
			return math.NaN()
		}
		return get(o.LatencyMs)
	}}
}

// metrics are the comparison's rows.
func metrics() []metric {
	var m []metric
	for _, op := range gateOps {
		m = append(m,
			latencyMetric(op, "p50", func(l results.Latency) float64 { return l.P50 }),
			latencyMetric(op, "p99", func(l results.Latency) float64 { return l.P99 }),
			latencyMetric(op, "p99.9", func(l results.Latency) float64 { return l.P999 }),
		)
	}
	m = append(m,
		metric{name: "achieved rate", unit: "/s", value: func(r *results.Run) float64 { return r.Summary.Load.AchievedRate }},
		metric{name: "error rate", unit: "%", lowerIsBetter: true, value: func(r *results.Run) float64 { return r.Summary.ErrorRate() * 100 }},
		metric{name: "Redis bytes per session", unit: "B", lowerIsBetter: true, value: func(r *results.Run) float64 {
			if v := r.Summary.Memory.RedisBytesPerSession; v > 0 {
				return v
			}
			if x := r.Summary.Memory.RedisBytesPerSessionSampled; x != nil {
				return x.PerSessionBytes
			}
			return math.NaN()
		}},
		metric{name: "Redis used memory at end", unit: "MiB", lowerIsBetter: true, value: func(r *results.Run) float64 {
			if v := r.Summary.Memory.RedisUsedMemoryAfter; v > 0 {
				return float64(v) / (1 << 20)
			}
			return math.NaN()
		}},
		metric{name: "schedule lag p99", unit: "ms", lowerIsBetter: true, value: func(r *results.Run) float64 { return r.Summary.Load.LagMs.P99 }},
	)
	return m
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// ratio formats v against the first run's value.
func ratio(v, first float64) string {
	if math.IsNaN(v) || math.IsNaN(first) || first == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f×)", v/first)
}

// tableRows is the comparison table: a header of run names, then a row
// per metric with each run's value and its ratio to the first run.
func tableRows(runs []*results.Run) (header []string, rows [][]string) {
	header = []string{"metric"}
	for _, r := range runs {
		header = append(header, r.Name())
	}
	for _, m := range metrics() {
		row := []string{m.name + " (" + m.unit + ")"}
		first := m.value(runs[0])
		for i, r := range runs {
			v := m.value(r)
			cell := num(v)
			if i > 0 {
				cell += ratio(v, first)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	verdicts := []string{"verdict"}
	tiers := []string{"Redis"}
	for _, r := range runs {
		verdicts = append(verdicts, r.Summary.Verdict)
		t := r.Summary.Target.Redis
		tiers = append(tiers, strings.TrimSpace(t.Mode+" "+t.Profile+" "+t.Version))
	}
	return header, append([][]string{tiers, verdicts}, rows...)
}

// Markdown writes the comparison table as Markdown.
func Markdown(w io.Writer, runs []*results.Run) {
	header, rows := tableRows(runs)
	fmt.Fprintf(w, "### sessionbench comparison (ratios against %s)\n\n", mdEscape(runs[0].Name()))
	fmt.Fprintf(w, "| %s |\n", strings.Join(escAll(header), " | "))
	fmt.Fprintf(w, "|---%s|\n", strings.Repeat("|---:", len(header)-1))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(escAll(r), " | "))
	}
	for _, warn := range compareWarnings(runs) {
		fmt.Fprintf(w, "\n> ⚠️ %s\n", mdEscape(warn))
	}
}

// compareWarnings are what a reader of a comparison must know before
// reading its numbers: the machines differ, or a column did not measure a
// real Redis.
func compareWarnings(runs []*results.Run) []string {
	w := machineWarnings(runs[0], runs[1:])
	for _, r := range runs {
		if note := r.Summary.Target.Redis.NotRedis; note != "" {
			w = append(w, fmt.Sprintf("NOT REDIS: %s ran on %s", r.Name(), note))
		}
	}
	first := traceSample(runs[0].Summary)
	for _, r := range runs[1:] {
		if ts := traceSample(r.Summary); ts != first {
			w = append(w, fmt.Sprintf("trace sample differs (--trace-sample): %s for %s, %s for %s; a tracing server records every sampled operation, so its latency differs with the share",
				first, runs[0].Name(), ts, r.Name()))
		}
	}
	return w
}

// Text writes the comparison table for a terminal.
func Text(w io.Writer, runs []*results.Run) {
	header, rows := tableRows(runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	for _, warn := range compareWarnings(runs) {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func escAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = mdEscape(x)
	}
	return out
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

//go:embed compare.html.tmpl
var compareTemplate string

var compareTmpl = template.Must(template.New("compare").Parse(compareTemplate))

type comparePage struct {
	Title    string
	Header   []string
	Rows     [][]string
	Charts   []compareChart
	Warnings []string
}

type compareChart struct {
	ID, Title, Caption string
	SVG                template.HTML
}

// HTML writes the comparison as one self-contained page: the table,
// overlaid percentile spectra and p99 over time per operation, and Redis
// memory over time.
func HTML(w io.Writer, runs []*results.Run) error {
	header, rows := tableRows(runs)
	p := comparePage{Title: "sessionbench comparison", Header: header, Rows: rows, Warnings: compareWarnings(runs)}
	for _, op := range gateOps {
		var spec []report.SpectrumSeries
		var p99 []report.LineSeries
		for i, r := range runs {
			if h := r.Merged(op); h != nil {
				spec = append(spec, report.SpectrumSeries{Name: r.Name(), H: h, Colour: i})
			}
			iv := r.Intervals[op]
			if len(iv) == 0 {
				continue
			}
			ls := report.LineSeries{Name: r.Name(), Colour: i}
			base := iv[0].StartTimeMs()
			for _, h := range iv {
				ls.X = append(ls.X, float64(h.StartTimeMs()-base)/1000)
				ls.Y = append(ls.Y, float64(h.ValueAtQuantile(99))/1000)
			}
			p99 = append(p99, ls)
		}
		if len(spec) == 0 {
			continue
		}
		svg, err := report.Spectrum(op+": latency by percentile", spec)
		if err != nil {
			return err
		}
		p.Charts = append(p.Charts, compareChart{ID: "spectrum-" + op, Title: op + ": latency by percentile",
			Caption: "Corrected latency of each run on HdrHistogram's percentile axis.", SVG: template.HTML(svg)})
		svg, err = report.Lines(op+": p99 over time", "seconds into the measured phase", "latency (ms)", p99)
		if err != nil {
			return err
		}
		p.Charts = append(p.Charts, compareChart{ID: "p99-" + op, Title: op + ": p99 over time",
			Caption: "Corrected p99 of each one-second interval.", SVG: template.HTML(svg)})
	}
	var mem []report.LineSeries
	for i, r := range runs {
		if len(r.Timeline) == 0 {
			continue
		}
		ls := report.LineSeries{Name: r.Name(), Colour: i}
		t0 := r.Timeline[0].UnixMs
		for _, row := range r.Timeline {
			ls.X = append(ls.X, float64(row.UnixMs-t0)/1000)
			ls.Y = append(ls.Y, row.Values[results.RedisUsedMemory]/(1<<20))
		}
		mem = append(mem, ls)
	}
	if len(mem) > 0 {
		svg, err := report.Lines("Redis used memory", "seconds since the run began", "MiB", mem)
		if err != nil {
			return err
		}
		p.Charts = append(p.Charts, compareChart{ID: "memory", Title: "Redis used memory",
			Caption: "Redis used_memory of each run over the whole run.", SVG: template.HTML(svg)})
	}
	if err := compareTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	return nil
}

// GateText writes the gate's table: baseline, current, ratio, interval,
// verdict, and why.
func GateText(w io.Writer, d *Decision) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tbaseline\tcurrent\tratio\tinterval\tverdict\twhy\t")
	for _, c := range d.Checks {
		b, cur, rt, iv := gateCells(c)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Name(), b, cur, rt, iv, strings.ToUpper(c.Verdict), c.Why)
	}
	tw.Flush()
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	mode := "unpaired"
	switch {
	case d.Aligned:
		mode = "paired duet"
	case d.Paired:
		mode = "paired rounds"
	}
	fmt.Fprintf(w, "gate: %s (%s resampling)\n", strings.ToUpper(d.Verdict), mode)
}

// gateCells formats a check's numbers.
func gateCells(c Check) (base, cur, rt, iv string) {
	switch {
	case c.Metric == "SLO error_rate":
		return fmt.Sprintf("≤ %.3f%%", c.Baseline*100), fmt.Sprintf("%.3f%%", c.Current*100), "", ""
	case strings.HasPrefix(c.Metric, "SLO "):
		return "≤ " + num(c.Baseline) + " ms", num(c.Current) + " ms", "", ""
	case c.Metric == "error_rate":
		return fmt.Sprintf("%.3f%%", c.Baseline*100), fmt.Sprintf("%.3f%%", c.Current*100), "", ""
	case c.Verdict == Inconclusive && c.Ratio == 0:
		return "", "", "", ""
	}
	return num(c.Baseline) + " ms", num(c.Current) + " ms", fmt.Sprintf("%.2f×", c.Ratio), fmt.Sprintf("[%.2f, %.2f]", c.Lo, c.Hi)
}

// GateMarkdown writes the gate's decision as Markdown.
func GateMarkdown(w io.Writer, d *Decision) {
	mark := map[string]string{Pass: "✅", Regression: "❌", Inconclusive: "⚠️"}[d.Verdict]
	fmt.Fprintf(w, "### sessionbench gate: %s %s\n\n", mark, strings.ToUpper(d.Verdict))
	fmt.Fprintln(w, "| check | baseline | current | ratio | interval | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	for _, c := range d.Checks {
		b, cur, rt, iv := gateCells(c)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(c.Name()), mdEscape(b), mdEscape(cur), rt, iv, mdEscape(c.Verdict))
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "\n> ⚠️ %s\n", mdEscape(warn))
	}
}

// JUnit writes the decision as JUnit XML, one test case per check: a
// regression is a failure, an inconclusive check is skipped.
func JUnit(w io.Writer, d *Decision) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := suite{Name: "sessionbench gate", Tests: len(d.Checks)}
	for _, c := range d.Checks {
		cls := "sessionbench.gate." + c.Op
		if c.Op == "" {
			cls = "sessionbench.gate.slo"
		}
		tc := testcase{Name: c.Name(), Classname: cls, SystemOut: c.Why}
		switch c.Verdict {
		case Regression:
			tc.Failure = &failure{Message: c.Why, Text: c.Why}
			s.Failures++
		case Inconclusive:
			tc.Skipped = &skipped{Message: c.Why}
			s.Skipped++
		}
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
