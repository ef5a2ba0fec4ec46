package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"

	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

//go:embed report.html.tmpl
var htmlTemplate string

// page is the HTML template's data.
type page struct {
	Title, Verdict, VerdictClass string
	S                            *results.Summary
	Redis, Sharing               string
	Ops                          []namedOp
	SLO                          []sloRow
	Charts                       []chart
	Memory                       []kv
	LeakReasons, LeakChecks      []string
	Notes                        []string
	Slowest                      []string
	SlowestIntro                 string
}

type chart struct {
	ID, Title, Caption string
	SVG                template.HTML
}

type kv struct{ K, V string }

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":  func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"f1":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"pct": func(v float64) string { return fmt.Sprintf("%.2f %%", v*100) },
}).Parse(htmlTemplate))

// HTML writes run as one self-contained HTML page: no script, no
// network, charts as inline SVG.
func HTML(w io.Writer, run *results.Run) error {
	s := run.Summary
	p := page{
		Title: s.Scenario, S: s, Verdict: verdictText(s), VerdictClass: "fail",
		Redis: redisText(s.Target.Redis), Sharing: sharing(run), Ops: opRows(s), SLO: sloRows(s),
		LeakReasons: s.Memory.Leak.Reasons, LeakChecks: s.Memory.Leak.Checks, Notes: s.Notes,
	}
	if m := LogMissing(run); m != "" {
		p.Notes = append([]string{m}, p.Notes...)
	}
	if s.Label != "" {
		p.Title += " · " + s.Label
	}
	if s.Verdict == results.VerdictPass {
		p.VerdictClass = "pass"
	}
	var err error
	if p.Charts, err = charts(run); err != nil {
		return err
	}
	p.Memory = memoryRows(s)
	p.Slowest, p.SlowestIntro = slowestLines(s, 5), slowestIntro(s)
	if err := tmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	return nil
}

// charts draws every chart the run has data for.
func charts(run *results.Run) ([]chart, error) {
	var out []chart
	add := func(id, title, caption, svg string) {
		out = append(out, chart{ID: id, Title: title, Caption: caption, SVG: template.HTML(svg)})
	}
	// Percentile spectrum: corrected solid, uncorrected dashed.
	var series []SpectrumSeries
	for i, op := range []recorder.Op{recorder.Create, recorder.Validate, recorder.Destroy} {
		if h := run.Merged(op.String()); h != nil {
			series = append(series, SpectrumSeries{Name: op.String(), H: h, Colour: i})
		}
		if h := run.Merged(recorder.UncorrectedTag(op)); h != nil {
			series = append(series, SpectrumSeries{Name: op.String() + " (uncorrected)", H: h, Colour: i, Dashed: true})
		}
	}
	if len(series) > 0 {
		svg, err := Spectrum("Latency by percentile", series)
		if err != nil {
			return nil, err
		}
		add("spectrum", "Latency by percentile",
			"Corrected latency (solid, from each operation's intended send time) and uncorrected (dashed, from the actual send), on HdrHistogram's percentile axis: each step right is ten times rarer.", svg)
	}
	base := measureStart(run)
	for _, op := range []recorder.Op{recorder.Create, recorder.Validate, recorder.Destroy} {
		iv := run.Intervals[op.String()]
		if len(iv) == 0 {
			continue
		}
		svg, err := overTimeChart(op.String()+": latency over time", iv, base)
		if err != nil {
			return nil, err
		}
		add("time-"+op.String(), op.String()+": latency over time", "Corrected p50, p99 and maximum of each one-second interval.", svg)
	}
	if len(run.Intervals) > 0 {
		svg, err := throughputChart(run, base)
		if err != nil {
			return nil, err
		}
		add("throughput", "Throughput and errors", "Operations finished per second of the measured phase, by kind; errors per second (dashed) from the timeline.", svg)
	}
	mem, ok, err := timelineChart("Memory over time", "MiB", run.Timeline,
		[]results.Series{results.RedisUsedMemory, results.RedisDataMemory, results.ServerRSS, results.ServerHeap, results.LoadgenRSS}, 1<<20)
	if err != nil {
		return nil, err
	}
	if ok {
		add("memory", "Memory over time", "Redis used memory and the data's share of it, the server's RSS and Go heap, loadgen's own RSS, over the whole run (token warm-up and prefill included).", mem)
	}
	live, ok, err := timelineChart("Live sessions", "sessions", run.Timeline, []results.Series{results.SessionsLive}, 1)
	if err != nil {
		return nil, err
	}
	if ok {
		add("sessions", "Live sessions", "Sessions the generator holds: created, not yet destroyed.", live)
	}
	cpu, ok, err := timelineChart("CPU", "% of CPU", run.Timeline,
		[]results.Series{results.LoadgenCPUPct, results.HostCPUBusyPct, results.HostOtherCPUPct, results.HostCPUStealPct}, 1)
	if err != nil {
		return nil, err
	}
	if ok {
		add("cpu", "CPU", "What loadgen used, what the host used in all, and what processes other than loadgen, the server and its Redis used: a verdict that flips with background load shows why here.", cpu)
	}
	return out, nil
}

// measureStart is the measured phase's start in ms since the epoch: the
// first interval's start, else the summary's start.
func measureStart(run *results.Run) int64 {
	first := int64(math.MaxInt64)
	for _, list := range run.Intervals {
		if len(list) > 0 && list[0].StartTimeMs() < first {
			first = list[0].StartTimeMs()
		}
	}
	if first == math.MaxInt64 {
		return run.Summary.StartedAt.UnixMilli()
	}
	return first
}

// memoryRows are the memory figures worth a line each.
func memoryRows(s *results.Summary) []kv {
	m := s.Memory
	var out []kv
	if m.RedisBytesPerSession > 0 {
		out = append(out, kv{"Redis bytes per live session (fit)", fmt.Sprintf("%.0f B", m.RedisBytesPerSession)})
	}
	if x := m.RedisBytesPerSessionSampled; x != nil {
		out = append(out, kv{"Redis bytes per session (MEMORY USAGE sample)",
			fmt.Sprintf("%.0f B = session key %.0f B + index entry %.0f B (%d and %d keys sampled)", x.PerSessionBytes, x.SessionKeyBytes, x.IndexEntryBytes, x.SessionKeys, x.IndexKeys)})
	}
	for _, ser := range []results.Series{results.RedisUsedMemory, results.ServerRSS, results.ServerHeap, results.ServerGoroutines, results.LoadgenRSS, results.SessionsLive} {
		st, ok := m.Series[ser.Name()]
		if !ok {
			continue
		}
		f := bytesText
		if ser == results.ServerGoroutines || ser == results.SessionsLive {
			f = func(v float64) string { return fmt.Sprintf("%.0f", v) }
		}
		out = append(out, kv{ser.Name(), fmt.Sprintf("start %s, end %s, peak %s, slope %s/min", f(st.Start), f(st.End), f(st.Peak), signed(f, st.SlopePerMin))})
	}
	if len(out) > 0 {
		v := "no leak suspected"
		if m.Leak.Suspected {
			v = "LEAK SUSPECTED"
		}
		out = append(out, kv{"Leak verdict", v})
	}
	return out
}

func signed(f func(float64) string, v float64) string {
	if v < 0 {
		return "−" + f(-v)
	}
	return "+" + f(v)
}
