package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Charts are drawn with gonum/plot and inlined as SVG: the report is one
// file that needs no network and prints as it shows.

// chart sizes.
const (
	chartW = 7.5 * vg.Inch
	chartH = 3 * vg.Inch
	// legendPad separates the legend strip from the chart above it.
	legendPad = 6 * vg.Inch / 72
)

// palette is colour-blind-safe (Okabe–Ito); series keep their colour in
// every chart of a report.
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
}

func colour(i int) color.RGBA { return palette[i%len(palette)] }

// newPlot is a plot with sans-serif text, a grid and a legend (drawn
// below the chart by svg).
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	sans := func(f *font.Font) { f.Typeface, f.Variant = "Liberation", "Sans" }
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		sans(f)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	return p
}

// svg renders p with its legend in a strip below the chart, where it
// cannot cover a line (inside the plot area it did whenever a series ran
// through its corner); the strip grows with the number of entries.
func svg(p *plot.Plot) (string, error) {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	leg.Padding = legendPad / 3
	legH := leg.Rectangle(draw.Canvas{}).Size().Y
	if legH > 0 {
		legH += legendPad
	}
	c, err := draw.NewFormattedCanvas(chartW, chartH+legH, "svg")
	if err != nil {
		return "", fmt.Errorf("render chart %q: %w", p.Title.Text, err)
	}
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, 0, legH, 0))
	if legH > 0 {
		leg.Left, leg.Top = true, true
		leg.Draw(draw.Crop(dc, legendPad, 0, 0, -chartH-legendPad/2))
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("render chart %q: %w", p.Title.Text, err)
	}
	out := b.Bytes()
	// Drop the XML prolog: the SVG is inlined in HTML.
	if i := bytes.Index(out, []byte("<svg")); i > 0 {
		out = out[i:]
	}
	return string(out), nil
}

// line adds a line series.
func line(p *plot.Plot, name string, xy plotter.XYs, c color.Color, dashed bool, width vg.Length) error {
	if len(xy) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return fmt.Errorf("chart %q, series %q: %w", p.Title.Text, name, err)
	}
	l.Color = c
	l.Width = width
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// spectrumQuantiles are the percentiles a spectrum is drawn through:
// ten per decade of 1/(1−q), up to what the sample count supports.
func spectrumQuantiles(count int64) []float64 {
	var qs []float64
	for k := 0; ; k++ {
		inv := math.Pow(10, float64(k)/10) // 1/(1−q)
		if inv > float64(count) || k > 70 {
			break
		}
		qs = append(qs, 1-1/inv)
	}
	return qs
}

// SpectrumSeries is one histogram drawn as a percentile spectrum; Colour
// is an index into the report palette (series with the same index share
// a colour), Dashed draws it dashed.
type SpectrumSeries struct {
	Name   string
	H      *hdrhistogram.Histogram
	Colour int
	Dashed bool
}

// Spectrum draws latency (ms) against percentile on HdrHistogram's log
// axis, x = 1/(1−q), where the tail gets the room it deserves, as an
// SVG element.
func Spectrum(title string, series []SpectrumSeries) (string, error) {
	p := newPlot(title, "percentile", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		var ticks []plot.Tick
		for _, t := range []struct {
			q     float64
			label string
		}{{0, "0%"}, {0.9, "90%"}, {0.99, "99%"}, {0.999, "99.9%"}, {0.9999, "99.99%"}, {0.99999, "99.999%"}} {
			if x := 1 / (1 - t.q); x >= min && x <= max*1.0001 {
				ticks = append(ticks, plot.Tick{Value: x, Label: t.label})
			}
		}
		return ticks
	})
	for _, s := range series {
		if s.H == nil || s.H.TotalCount() == 0 {
			continue
		}
		var xy plotter.XYs
		for _, q := range spectrumQuantiles(s.H.TotalCount()) {
			xy = append(xy, plotter.XY{X: 1 / (1 - q), Y: ms(s.H.ValueAtQuantile(q * 100))})
		}
		xy = append(xy, plotter.XY{X: math.Max(xy[len(xy)-1].X*1.2, 1.2), Y: ms(s.H.Max())})
		if err := line(p, s.Name, xy, colour(s.Colour), s.Dashed, vg.Points(1.5)); err != nil {
			return "", err
		}
	}
	p.Y.Min = 0
	return svg(p)
}

func ms(us int64) float64 { return float64(us) / 1000 }

// overTimeChart draws per-interval statistics of an operation kind's
// corrected latency: p50, p99 and max.
func overTimeChart(title string, intervals []*hdrhistogram.Histogram, base int64) (string, error) {
	p := newPlot(title, "seconds into the measured phase", "latency (ms)")
	stats := []struct {
		name string
		q    float64
	}{{"p50", 50}, {"p99", 99}, {"max", 100}}
	for i, st := range stats {
		var xy plotter.XYs
		for _, h := range intervals {
			xy = append(xy, plotter.XY{X: float64(h.StartTimeMs()-base) / 1000, Y: ms(h.ValueAtQuantile(st.q))})
		}
		if err := line(p, st.name, xy, colour(i), st.name == "max", vg.Points(1.2)); err != nil {
			return "", err
		}
	}
	p.Y.Min = 0
	return svg(p)
}

// throughputChart draws finished operations per second, per kind, from
// the interval counts, and the errors per second of the timeline.
func throughputChart(run *results.Run, base int64) (string, error) {
	p := newPlot("Throughput and errors", "seconds into the measured phase", "operations per second")
	for i, op := range recorder.Ops() {
		var xy plotter.XYs
		for _, h := range run.Intervals[op.String()] {
			if d := float64(h.EndTimeMs()-h.StartTimeMs()) / 1000; d > 0 {
				xy = append(xy, plotter.XY{X: float64(h.StartTimeMs()-base) / 1000, Y: float64(h.TotalCount()) / d})
			}
		}
		if err := line(p, op.String(), xy, colour(i), false, vg.Points(1.2)); err != nil {
			return "", err
		}
	}
	var errs plotter.XYs
	for _, r := range run.Timeline {
		if v := r.Values[results.ErrorsPerS]; r.Phase == engine.PhaseMeasure && !math.IsNaN(v) {
			errs = append(errs, plotter.XY{X: float64(r.UnixMs-base) / 1000, Y: v})
		}
	}
	if err := line(p, "errors", errs, color.RGBA{0xB0, 0x00, 0x20, 0xff}, true, vg.Points(1.5)); err != nil {
		return "", err
	}
	p.Y.Min = 0
	return svg(p)
}

// timelineChart draws timeline series over the whole run (prefill and
// warmup included: memory grows there too), scaled by div.
func timelineChart(title, yLabel string, rows []results.TimelineRow, series []results.Series, div float64) (string, bool, error) {
	if len(rows) == 0 {
		return "", false, nil
	}
	p := newPlot(title, "seconds since the run began", yLabel)
	t0 := rows[0].UnixMs
	any := false
	for i, s := range series {
		var xy plotter.XYs
		for _, r := range rows {
			if v := r.Values[s]; !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: float64(r.UnixMs-t0) / 1000, Y: v / div})
			}
		}
		if len(xy) > 0 {
			any = true
		}
		if err := line(p, seriesLabel(s), xy, colour(i), false, vg.Points(1.2)); err != nil {
			return "", false, err
		}
	}
	if !any {
		return "", false, nil
	}
	p.Y.Min = 0
	out, err := svg(p)
	return out, true, err
}

// seriesLabel is a timeline series' name in a legend.
func seriesLabel(s results.Series) string {
	switch s {
	case results.RedisUsedMemory:
		return "Redis used_memory"
	case results.RedisDataMemory:
		return "Redis data (without client buffers)"
	case results.ServerRSS:
		return "server RSS"
	case results.ServerHeap:
		return "server Go heap"
	case results.LoadgenRSS:
		return "loadgen RSS"
	case results.SessionsLive:
		return "live sessions"
	case results.LoadgenCPUPct:
		return "loadgen (% of one core)"
	case results.HostCPUBusyPct:
		return "host busy (% of all cores)"
	case results.HostOtherCPUPct:
		return "other processes (% of all cores)"
	case results.HostCPUStealPct:
		return "stolen by the hypervisor"
	}
	return s.Name()
}

// LineSeries is one line of a Lines chart.
type LineSeries struct {
	Name   string
	X, Y   []float64
	Colour int
	Dashed bool
}

// Lines draws line series (y from 0) as an SVG element.
func Lines(title, xLabel, yLabel string, series []LineSeries) (string, error) {
	p := newPlot(title, xLabel, yLabel)
	for _, s := range series {
		xy := make(plotter.XYs, 0, len(s.X))
		for i := range s.X {
			if !math.IsNaN(s.Y[i]) {
				xy = append(xy, plotter.XY{X: s.X[i], Y: s.Y[i]})
			}
		}
		if err := line(p, s.Name, xy, colour(s.Colour), s.Dashed, vg.Points(1.2)); err != nil {
			return "", err
		}
	}
	p.Y.Min = 0
	return svg(p)
}
