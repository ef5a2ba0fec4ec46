package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/recorder"
)

// Run is a results directory read back whole: what renderers, comparisons
// and the gate work from (never a live run).
type Run struct {
	// Dir is the directory it was read from.
	Dir     string
	Summary *Summary
	// Intervals are latency.hlog's interval histograms by tag (create,
	// uncorrected.create, lag, …), in time order; nil when the run wrote
	// no log.
	Intervals map[string][]*hdrhistogram.Histogram
	// Timeline is timeline.csv; nil when absent.
	Timeline []TimelineRow
}

// ReadRun reads dir: summary.json (required, schema checked),
// latency.hlog and timeline.csv (each optional).
func ReadRun(dir string) (*Run, error) {
	s, err := Read(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Summary: s}
	if f, err := os.Open(filepath.Join(dir, LatencyLog)); err == nil {
		hs, err := recorder.ReadLog(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read results %s: %s is damaged (%w), e.g. cut inside a line; rerun to get a whole one, or move it aside to read the summary alone",
				dir, LatencyLog, err)
		}
		r.Intervals = map[string][]*hdrhistogram.Histogram{}
		for _, h := range hs {
			r.Intervals[h.Tag()] = append(r.Intervals[h.Tag()], h)
		}
		for _, list := range r.Intervals {
			sort.SliceStable(list, func(i, j int) bool { return list[i].StartTimeMs() < list[j].StartTimeMs() })
		}
		if s.LatencyLogWhole {
			if err := r.checkCounts(); err != nil {
				return nil, fmt.Errorf("read results %s: %w", dir, err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read results %s: %w", dir, err)
	}
	if rows, err := ReadTimeline(dir); err == nil {
		r.Timeline = rows
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read results %s: %w", dir, err)
	}
	return r, nil
}

// checkCounts compares latency.hlog with summary.json, for a summary
// that says the log was written whole (LatencyLogWhole): the recorder
// closed its last interval and took the summary's snapshot together, so
// every measured operation is in both. A log cut at a line boundary
// (which parses cleanly) then shows as fewer operations than the summary
// counts, and one from another run as other counts or kinds. Both the
// corrected and the uncorrected tag of every kind are checked.
func (r *Run) checkCounts() error {
	const fix = "rerun to get a whole one, or move it aside to read the summary alone"
	if n := r.Summary.LatencyLogHistograms; n > 0 {
		got := 0
		for _, list := range r.Intervals {
			got += len(list)
		}
		if got != n {
			return fmt.Errorf("%s holds %d interval histograms but %s says %d were written: the log is incomplete (cut short, or from another run); %s",
				LatencyLog, got, SummaryFile, n, fix)
		}
	}
	want := map[string]uint64{}
	for _, m := range []map[string]OpSummary{r.Summary.Ops, r.Summary.InvalidOps} {
		for op, o := range m {
			want[op] = o.Count
		}
	}
	for tag, list := range r.Intervals {
		op, _, ok := recorder.ParseTag(tag)
		if !ok || len(list) == 0 {
			continue // the lag, or another tool's tag
		}
		if _, listed := want[op.String()]; !listed {
			return fmt.Errorf("%s holds %s operations that %s does not count: the log is from another run; %s", LatencyLog, op, SummaryFile, fix)
		}
	}
	ops := make([]string, 0, len(want))
	for op := range want {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		kind, ok := recorder.ParseOp(op)
		if !ok {
			continue // a kind this version does not know: nothing to compare
		}
		for _, tag := range []string{op, recorder.UncorrectedTag(kind)} {
			var n uint64
			for _, h := range r.Intervals[tag] {
				n += uint64(h.TotalCount())
			}
			if n != want[op] {
				return fmt.Errorf("%s holds %d operations tagged %s but %s counts %d %s operations: the log is incomplete (cut short, or from another run); %s",
					LatencyLog, n, tag, SummaryFile, want[op], op, fix)
			}
		}
	}
	return nil
}

// Merged is the merge of every interval of tag (nil when there is none).
func (r *Run) Merged(tag string) *hdrhistogram.Histogram {
	list := r.Intervals[tag]
	if len(list) == 0 {
		return nil
	}
	m := recorder.NewHistogram()
	for _, h := range list {
		m.Merge(h)
	}
	return m
}

// Name is the run's name in comparisons: its label, else the directory's
// base name.
func (r *Run) Name() string {
	if r.Summary.Label != "" {
		return r.Summary.Label
	}
	return filepath.Base(filepath.Clean(r.Dir))
}
