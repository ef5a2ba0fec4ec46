package compare

import (
	"math"
	mrand "math/rand/v2"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The gate's statistics come from resampling the runs' one-second
// interval histograms: each run is a time series of intervals, so they
// are resampled in blocks (moving-block bootstrap) to keep the
// correlation between neighbouring seconds, and, when a side has several
// runs, the runs themselves are resampled first. When both sides are
// duet partners (measured at the same time, interval by interval), the
// same blocks are drawn on both sides, so noise that hit both servers
// alike cancels out of the ratio.

// sparse is an interval histogram as (bucket, count) pairs over a bucket
// list shared by every histogram of one comparison: merging is adding a
// few hundred counts, not walking tens of thousands of buckets.
type sparse struct {
	idx []int32
	cnt []int64
}

// buckets maps HdrHistogram bucket values (each bucket's highest
// equivalent value, which ValueAtQuantile reports) to dense indexes.
type buckets struct {
	values []int64 // sorted
	index  map[int64]int32
}

func newBuckets(hs [][]*hdrhistogram.Histogram) *buckets {
	set := map[int64]struct{}{}
	for _, list := range hs {
		for _, h := range list {
			for _, b := range h.Distribution() {
				if b.Count > 0 {
					set[b.To] = struct{}{}
				}
			}
		}
	}
	b := &buckets{index: map[int64]int32{}}
	for v := range set {
		b.values = append(b.values, v)
	}
	sort.Slice(b.values, func(i, j int) bool { return b.values[i] < b.values[j] })
	for i, v := range b.values {
		b.index[v] = int32(i)
	}
	return b
}

func (b *buckets) sparse(h *hdrhistogram.Histogram) sparse {
	var s sparse
	for _, bar := range h.Distribution() {
		if bar.Count > 0 {
			s.idx = append(s.idx, b.index[bar.To])
			s.cnt = append(s.cnt, bar.Count)
		}
	}
	return s
}

// accumulator merges sparse histograms and reads quantiles.
type accumulator struct {
	b      *buckets
	counts []int64
	total  int64
}

func newAccumulator(b *buckets) *accumulator {
	return &accumulator{b: b, counts: make([]int64, len(b.values))}
}

func (a *accumulator) reset() {
	clear(a.counts)
	a.total = 0
}

func (a *accumulator) add(s sparse) {
	for i, idx := range s.idx {
		a.counts[idx] += s.cnt[i]
		a.total += s.cnt[i]
	}
}

// quantile is the value at q (0..100), as HdrHistogram computes it: the
// first bucket whose cumulative count reaches the rank round(q% of the
// total), at least 1, at most the total.
func (a *accumulator) quantile(q float64) float64 {
	if a.total == 0 {
		return math.NaN()
	}
	rank := min(q, 100)/100*float64(a.total) + 0.5
	want := int64(rank)
	switch {
	case !(rank >= 1):
		want = 1
	case rank >= float64(a.total):
		want = a.total
	}
	var cum int64
	for i, c := range a.counts {
		cum += c
		if cum >= want {
			return float64(a.b.values[i])
		}
	}
	return float64(a.b.values[len(a.b.values)-1])
}

// side is one side of a comparison: its runs' intervals, sparse.
type side [][]sparse

// blockLen is the moving-block length for n intervals: n^(1/3),
// rounded, at least 1 (Hall, Horowitz and Jing's rate for variance).
func blockLen(n int) int {
	return max(1, int(math.Round(math.Cbrt(float64(n)))))
}

// drawBlocks picks interval indexes for a run of n intervals: blocks of
// blockLen consecutive intervals from uniform starts, n in all.
func drawBlocks(rng *mrand.Rand, n int, out []int) []int {
	out = out[:0]
	l := blockLen(n)
	for len(out) < n {
		start := rng.IntN(n - l + 1)
		for j := 0; j < l && len(out) < n; j++ {
			out = append(out, start+j)
		}
	}
	return out
}

// resampler draws bootstrap replicates of a statistic on two sides.
type resampler struct {
	rng *mrand.Rand
	// paired: base[k] and cur[k] are partners, drawn together; aligned:
	// their intervals are simultaneous (duet), drawn together too.
	paired, aligned bool
	picks           []int
}

// replicate adds one resample of each side into ab and ac. Runs are
// drawn with replacement when a side has several; partners are drawn
// together, and the intervals of aligned partners by the same blocks.
func (r *resampler) replicate(base, cur side, ab, ac *accumulator) {
	ab.reset()
	ac.reset()
	if r.paired {
		for range base {
			k := r.rng.IntN(len(base))
			if len(base) == 1 {
				k = 0
			}
			if r.aligned {
				n := min(len(base[k]), len(cur[k]))
				r.picks = drawBlocks(r.rng, n, r.picks)
				for _, i := range r.picks {
					ab.add(base[k][i])
					ac.add(cur[k][i])
				}
				continue
			}
			r.picks = drawBlocks(r.rng, len(base[k]), r.picks)
			for _, i := range r.picks {
				ab.add(base[k][i])
			}
			r.picks = drawBlocks(r.rng, len(cur[k]), r.picks)
			for _, i := range r.picks {
				ac.add(cur[k][i])
			}
		}
		return
	}
	for _, sd := range []struct {
		s   side
		acc *accumulator
	}{{base, ab}, {cur, ac}} {
		for range sd.s {
			run := sd.s[r.rng.IntN(len(sd.s))]
			if len(sd.s) == 1 {
				run = sd.s[0]
			}
			r.picks = drawBlocks(r.rng, len(run), r.picks)
			for _, i := range r.picks {
				sd.acc.add(run[i])
			}
		}
	}
}

// percentile of sorted v at p (0..1), linear interpolation.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	x := p * float64(len(v)-1)
	i := int(math.Floor(x))
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	f := x - float64(i)
	return v[i]*(1-f) + v[i+1]*f
}
