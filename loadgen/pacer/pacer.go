// Package pacer computes the intended start time of every operation of an
// open-loop run.
//
// The intended time of operation i is computed in closed form from the
// schedule (never by accumulating intervals), so there is no drift however
// long the run: At(1_000_000) at 1000/s is exactly 1000 s.
package pacer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// Schedule gives the intended offset of each operation from the start of
// the timeline (warmup included).
type Schedule interface {
	// At returns the intended offset of operation i (0-based); ok is false
	// when operation i falls at or after the end of the timeline.
	At(i uint64) (offset time.Duration, ok bool)
	// Ops returns the (fractional) number of operations intended in
	// [0, t); used for target rates.
	Ops(t time.Duration) float64
	// End is the length of the timeline.
	End() time.Duration
}

// Segment is one piece of a piecewise-linear rate: the rate goes linearly
// from From to To (operations per second) over Duration. From == To is a
// constant rate.
type Segment struct {
	From, To float64
	Duration time.Duration
}

// piecewise is a Schedule over linear-rate segments. For a segment with
// rate r(t) = r0 + (r1-r0)·t/T the cumulative count is
// N(t) = r0·t + a·t², a = (r1-r0)/(2T), inverted in closed form.
type piecewise struct {
	segs  []Segment
	start []float64 // start[k]: seconds at which segment k starts
	cum   []float64 // cum[k]: operations before segment k
	end   time.Duration
	total float64 // operations in the whole timeline
}

// Constant is a constant-rate schedule of rate ops/s lasting end.
func Constant(rate float64, end time.Duration) (Schedule, error) {
	return Piecewise([]Segment{{From: rate, To: rate, Duration: end}})
}

// Piecewise builds a schedule from segments laid end to end.
func Piecewise(segs []Segment) (Schedule, error) {
	if len(segs) == 0 {
		return nil, errors.New("pacer: no segments")
	}
	p := &piecewise{segs: append([]Segment(nil), segs...)}
	var t, n float64
	for k, s := range p.segs {
		if s.Duration <= 0 || s.From < 0 || s.To < 0 || math.IsNaN(s.From) || math.IsNaN(s.To) ||
			math.IsInf(s.From, 0) || math.IsInf(s.To, 0) {
			return nil, fmt.Errorf("pacer: segment %d: need duration > 0 and finite rates ≥ 0 (got %v→%v over %v)", k, s.From, s.To, s.Duration)
		}
		p.start = append(p.start, t)
		p.cum = append(p.cum, n)
		d := s.Duration.Seconds()
		n += (s.From + s.To) / 2 * d
		t += d
		p.end += s.Duration
	}
	p.total = n
	return p, nil
}

// FromScenario builds the schedule of s: its constant rate over the whole
// timeline, or its stages (a ramp starts from the previous stage's end
// rate, 0 for the first stage), the last rate held to the end of the
// timeline if the stages are shorter.
func FromScenario(s *scenario.Scenario) (Schedule, error) {
	end := s.Timeline()
	if len(s.Stages) == 0 {
		return Constant(float64(s.Rate), end)
	}
	var segs []Segment
	var prev float64
	var covDur time.Duration
	for _, st := range s.Stages {
		seg := Segment{From: float64(st.Rate), To: float64(st.Rate), Duration: st.Duration}
		if st.Ramp {
			seg = Segment{From: prev, To: float64(st.RampTo), Duration: st.Duration}
		}
		if covDur+seg.Duration > end { // truncate at the end of the timeline
			d := end - covDur
			if d <= 0 {
				break
			}
			frac := float64(d) / float64(seg.Duration)
			seg.To = seg.From + (seg.To-seg.From)*frac
			seg.Duration = d
		}
		segs = append(segs, seg)
		covDur += seg.Duration
		prev = seg.To
	}
	if covDur < end {
		segs = append(segs, Segment{From: prev, To: prev, Duration: end - covDur})
	}
	return Piecewise(segs)
}

// End implements Schedule.
func (p *piecewise) End() time.Duration { return p.end }

// Ops implements Schedule.
func (p *piecewise) Ops(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	if t >= p.end {
		return p.total
	}
	sec := t.Seconds()
	k := len(p.segs) - 1
	for k > 0 && p.start[k] > sec {
		k--
	}
	s := p.segs[k]
	x := sec - p.start[k]
	T := s.Duration.Seconds()
	return p.cum[k] + s.From*x + (s.To-s.From)/(2*T)*x*x
}

// At implements Schedule.
func (p *piecewise) At(i uint64) (time.Duration, bool) {
	n := float64(i)
	if n >= p.total {
		return 0, false
	}
	// Find the segment holding operation i: the last one with cum ≤ n.
	k := 0
	if len(p.segs) > 1 {
		lo, hi := 0, len(p.segs)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if p.cum[mid] <= n {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		k = lo
		// Skip zero-rate segments that contain no operation.
		for k < len(p.segs)-1 && p.cum[k+1] <= n {
			k++
		}
	}
	s := p.segs[k]
	m := n - p.cum[k] // operations into this segment
	var x float64     // seconds into this segment
	if s.From == s.To {
		if s.From == 0 {
			return 0, false // unreachable: a zero segment holds no ops
		}
		// Exact for integer rates: i·1e9/rate nanoseconds, no accumulation.
		if k == 0 {
			d := time.Duration(math.Round(m * 1e9 / s.From))
			return d, d < p.end
		}
		x = m / s.From
	} else if m > 0 {
		a := (s.To - s.From) / (2 * s.Duration.Seconds())
		// Stable root of a·x² + r0·x − m = 0 (m > 0: a ramp from 0/s
		// would otherwise give 0/0 for its first operation).
		x = 2 * m / (s.From + math.Sqrt(s.From*s.From+4*a*m))
	}
	t := (p.start[k] + x) * 1e9
	if math.IsNaN(t) || math.IsInf(t, 0) || t >= float64(p.end) {
		return 0, false // never hand the dispatcher a time it cannot sleep until
	}
	d := time.Duration(math.Round(t))
	return d, d < p.end
}

// Count returns how many operations the schedule intends strictly before
// t: an exact integer (the first i with At(i) ≥ t), for target rates and
// for counting operations dropped when a run stops early.
func Count(s Schedule, t time.Duration) uint64 {
	if t <= 0 {
		return 0
	}
	// Upper bound from the closed form, then binary search on At.
	hi := uint64(math.Ceil(s.Ops(t))) + 2
	lo := uint64(0)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if at, ok := s.At(mid); ok && at < t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
