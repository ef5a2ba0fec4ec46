package recorder

import (
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// LogWriter writes latency.hlog: the standard HdrHistogram interval log
// (format 1.3), per interval one tagged histogram per operation kind
// (corrected latency, tag "validate"), its uncorrected latency (tag
// "uncorrected.validate") and the schedule lag (tag "lag"), timestamps
// relative to the start of the measured phase. Values are microseconds;
// the writer's Interval_Max column divides by 10^6 and so reads in
// seconds (use HistogramLogProcessor -outputValueUnitRatio 1000 for
// milliseconds).
type LogWriter struct {
	w *hdrhistogram.HistogramLogWriter
	n int // histograms written
}

// NewLogWriter writes the log header for a measured phase starting at start.
func NewLogWriter(w io.Writer, start time.Time) (*LogWriter, error) {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	ms := start.UnixMilli()
	// StartTime and BaseTime carry milliseconds: the library writes whole
	// seconds, which shifts every interval by up to 1 s in the Java and
	// JS readers (interval times are relative to the millisecond base).
	secs := fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error {
			return lw.OutputComment("[loadgen latency, microseconds. Tags: create validate destroy bad_token unknown_session = corrected " +
				"(from the intended send time); uncorrected.<op> = from the actual send; lag = schedule lag]")
		},
		func() error {
			_, err := fmt.Fprintf(w, "#[StartTime: %s (seconds since epoch), %s]\n", secs, start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			return err
		},
		func() error {
			_, err := fmt.Fprintf(w, "#[BaseTime: %s (seconds since epoch)]\n", secs)
			return err
		},
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
		l.n++
	}
	return nil
}

// Histograms is the number of interval histograms written so far (one
// line each): a reader that finds fewer has a log cut short.
func (l *LogWriter) Histograms() int { return l.n }

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
