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
			return nil, fmt.Errorf("read results %s: %w", dir, err)
		}
		r.Intervals = map[string][]*hdrhistogram.Histogram{}
		for _, h := range hs {
			r.Intervals[h.Tag()] = append(r.Intervals[h.Tag()], h)
		}
		for _, list := range r.Intervals {
			sort.SliceStable(list, func(i, j int) bool { return list[i].StartTimeMs() < list[j].StartTimeMs() })
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
