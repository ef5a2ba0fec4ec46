package recorder

import (
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// LogWriter writes latency.hlog: the standard HdrHistogram interval log
// (format 1.3), one tagged histogram per operation kind per interval,
// timestamps relative to the start of the measured phase. Values are
// microseconds; the writer's Interval_Max column divides by 10^6 and so
// reads in seconds (use HistogramLogProcessor -outputValueUnitRatio 1000
// for milliseconds).
type LogWriter struct {
	w *hdrhistogram.HistogramLogWriter
}

// NewLogWriter writes the log header for a measured phase starting at start.
func NewLogWriter(w io.Writer, start time.Time) (*LogWriter, error) {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	ms := start.UnixMilli()
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error {
			return lw.OutputComment("[loadgen corrected latency (from intended send time), microseconds; tags: create validate destroy bad_token unknown_session]")
		},
		func() error { return lw.OutputStartTime(ms) },
		func() error { return lw.OutputBaseTime(ms) },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return nil, fmt.Errorf("write hlog header: %w", err)
		}
	}
	lw.SetBaseTime(ms)
	return &LogWriter{w: lw}, nil
}

// Write appends interval histograms (as returned by Recorder.Tick).
func (l *LogWriter) Write(hs []*hdrhistogram.Histogram) error {
	for _, h := range hs {
		if err := l.w.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("write hlog interval %s: %w", h.Tag(), err)
		}
	}
	return nil
}

// ReadLog reads every interval histogram of an interval log, tags kept.
func ReadLog(r io.Reader) ([]*hdrhistogram.Histogram, error) {
	lr := hdrhistogram.NewHistogramLogReader(r)
	var out []*hdrhistogram.Histogram
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return out, fmt.Errorf("read hlog: %w", err)
		}
		if h == nil {
			return out, nil
		}
		out = append(out, h)
	}
}
