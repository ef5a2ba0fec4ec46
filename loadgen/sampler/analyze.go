package sampler

import (
	"fmt"
	"math"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Leak thresholds: growth per minute that the live-session count does
// not explain, above which a leak is suspected. Each is the larger of an
// absolute floor (noise on a small process) and a share of the mean.
const (
	LeakMinSamples   = 30 // rows with the series known
	LeakMinSpanSec   = 60 // seconds covered by those rows
	RedisLeakFloor   = 256 << 10
	RedisLeakShare   = 0.01
	HeapLeakFloor    = 1 << 20
	HeapLeakShare    = 0.02
	GoroutinesFloor  = 5
	GoroutinesShare  = 0.05
	minSessionsDelta = 100 // live-session change needed for bytes per session
)

// Extra are facts from outside the timeline that Analyze folds in.
type Extra struct {
	// KeysWithoutTTL is the number of the run's keys without a TTL at the
	// end (nil when unknown).
	KeysWithoutTTL *uint64
	// Sampled is MEMORY USAGE on a sample of session and index keys (nil
	// when unknown).
	Sampled *results.SampledSessionSize
}

// Analyze turns timeline rows into the summary's memory section: start,
// end and peak of every series, its slope, Redis bytes per live session,
// and the leak verdict.
func Analyze(rows []results.TimelineRow, x Extra) results.MemoryAnalysis {
	a := results.MemoryAnalysis{Series: map[string]results.SeriesStats{}}
	for s := results.Series(0); s < results.NumSeries; s++ {
		if st, ok := seriesStats(rows, s); ok {
			a.Series[s.Name()] = st
		}
	}
	a.RedisBytesPerSessionSampled = x.Sampled
	var leak results.LeakVerdict
	if x.KeysWithoutTTL != nil {
		if *x.KeysWithoutTTL > 0 {
			leak.Suspected = true
			leak.Reasons = append(leak.Reasons, fmt.Sprintf("%d of the run's Redis keys have no TTL: they would never expire", *x.KeysWithoutTTL))
		} else {
			leak.Checks = append(leak.Checks, "every key of the run has a TTL")
		}
	}
	// Redis: bytes per live session, and growth the sessions do not
	// explain, on the data's memory (client buffers come and go with
	// connections, not with sessions).
	// A short run's fit is mostly connection and script buffers coming
	// and going: it needs as many samples as the leak verdict.
	fit, n, span := fitAgainstSessions(rows, results.RedisDataMemory)
	if fit.sessionsKnown && fit.deltaSessions >= minSessionsDelta && fit.perSession > 0 && n >= LeakMinSamples {
		a.RedisBytesPerSession = fit.perSession
	}
	judge(&leak, "Redis data memory", fit, n, span, RedisLeakFloor, RedisLeakShare, bytesText)
	fit, n, span = fitAgainstSessions(rows, results.ServerHeap)
	judge(&leak, "server heap", fit, n, span, HeapLeakFloor, HeapLeakShare, bytesText)
	fit, n, span = fitAgainstSessions(rows, results.ServerGoroutines)
	judge(&leak, "server goroutines", fit, n, span, GoroutinesFloor, GoroutinesShare, countText)
	a.Leak = leak
	return a
}

func bytesText(v float64) string {
	switch av := math.Abs(v); {
	case av >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case av >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

func countText(v float64) string { return fmt.Sprintf("%.1f", v) }

// judge adds the verdict on one series: suspected when its growth per
// minute, beyond what live sessions explain, passes the threshold.
func judge(l *results.LeakVerdict, what string, f sessionFit, n int, spanS float64, floor, share float64, text func(float64) string) {
	if n == 0 {
		return // not sampled (embedded Redis, external server without /metrics)
	}
	if n < LeakMinSamples || spanS < LeakMinSpanSec {
		l.Checks = append(l.Checks, fmt.Sprintf("%s: too short to judge (%d samples over %.0f s; needs %d over %d s)", what, n, spanS, LeakMinSamples, LeakMinSpanSec))
		return
	}
	if f.collinear {
		l.Checks = append(l.Checks, fmt.Sprintf("%s: live sessions grew steadily with time, so growth with sessions and a leak cannot be told apart in this run (vary the session count, e.g. with a destroy-heavy stage)", what))
		return
	}
	limit := math.Max(floor, share*f.mean)
	growth := f.perMinute
	desc := fmt.Sprintf("%s grows %s/min beyond what live sessions explain (threshold %s/min, %d samples over %.0f s)",
		what, text(growth), text(limit), n, spanS)
	if growth > limit {
		l.Suspected = true
		l.Reasons = append(l.Reasons, desc)
	} else {
		l.Checks = append(l.Checks, desc)
	}
}

// sessionFit is y ≈ a + perSession·live + perMinute·t over the rows.
type sessionFit struct {
	perSession, perMinute, mean float64
	sessionsKnown               bool
	deltaSessions               float64
	// collinear: the session count moved in step with time, so only
	// perSession (y on live alone) is known, not perMinute.
	collinear bool
}

// maxCollinearity is the |correlation| of live sessions with time above
// which the two cannot be separated.
const maxCollinearity = 0.98

// fitAgainstSessions fits series s against the live-session count and
// time by least squares, so that growth with the sessions (expected) and
// growth with time at a given session count (a leak) come apart. When
// the session count does not vary, only time is fitted. It returns the
// fit, the rows used and the seconds they span.
func fitAgainstSessions(rows []results.TimelineRow, s results.Series) (sessionFit, int, float64) {
	var xs [][]float64
	var ys []float64
	var t0 int64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		y, live := r.Values[s], r.Values[results.SessionsLive]
		if math.IsNaN(y) || math.IsNaN(live) {
			continue
		}
		if len(ys) == 0 {
			t0 = r.UnixMs
		}
		xs = append(xs, []float64{1, live, float64(r.UnixMs-t0) / 60000})
		ys = append(ys, y)
		lo, hi = math.Min(lo, live), math.Max(hi, live)
	}
	n := len(ys)
	if n < 3 {
		return sessionFit{}, n, 0
	}
	span := xs[n-1][2] * 60
	f := sessionFit{mean: mean(ys), deltaSessions: hi - lo}
	if hi-lo >= 1 {
		live, tm := make([]float64, n), make([]float64, n)
		for i := range xs {
			live[i], tm[i] = xs[i][1], xs[i][2]
		}
		if math.Abs(correlation(live, tm)) > maxCollinearity {
			lx := make([][]float64, n)
			for i := range xs {
				lx[i] = []float64{1, live[i]}
			}
			if b, ok := leastSquares(lx, ys); ok {
				f.perSession, f.sessionsKnown, f.collinear = b[1], true, true
			}
			return f, n, span
		}
		if b, ok := leastSquares(xs, ys); ok {
			f.perSession, f.perMinute, f.sessionsKnown = b[1], b[2], true
			return f, n, span
		}
	}
	// No session variation: time alone.
	tx := make([][]float64, n)
	for i := range xs {
		tx[i] = []float64{1, xs[i][2]}
	}
	if b, ok := leastSquares(tx, ys); ok {
		f.perMinute = b[1]
	}
	return f, n, span
}

// correlation is Pearson's r of a and b (0 when either is constant).
func correlation(a, b []float64) float64 {
	ma, mb := mean(a), mean(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// leastSquares solves the normal equations XᵀX b = Xᵀy by Gaussian
// elimination with partial pivoting; ok is false when XᵀX is singular.
func leastSquares(x [][]float64, y []float64) ([]float64, bool) {
	k := len(x[0])
	a := make([][]float64, k)
	for i := range a {
		a[i] = make([]float64, k+1)
	}
	for r, row := range x {
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				a[i][j] += row[i] * row[j]
			}
			a[i][k] += row[i] * y[r]
		}
	}
	scale := 0.0
	for i := 0; i < k; i++ {
		scale = math.Max(scale, math.Abs(a[i][i]))
	}
	for c := 0; c < k; c++ {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) <= 1e-9*scale {
			return nil, false
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < k; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j <= k; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	b := make([]float64, k)
	for i := range b {
		b[i] = a[i][k] / a[i][i]
	}
	return b, true
}

// seriesStats gives the first, last and largest known value of s, and
// its least-squares slope per minute.
func seriesStats(rows []results.TimelineRow, s results.Series) (results.SeriesStats, bool) {
	var st results.SeriesStats
	var xs [][]float64
	var ys []float64
	var t0 int64
	for _, r := range rows {
		v := r.Values[s]
		if math.IsNaN(v) {
			continue
		}
		if len(ys) == 0 {
			st.Start, st.Peak, t0 = v, v, r.UnixMs
		}
		st.End = v
		st.Peak = math.Max(st.Peak, v)
		xs = append(xs, []float64{1, float64(r.UnixMs-t0) / 60000})
		ys = append(ys, v)
	}
	if len(ys) == 0 {
		return st, false
	}
	if len(ys) >= 2 {
		if b, ok := leastSquares(xs, ys); ok {
			st.SlopePerMin = b[1]
		}
	}
	return st, true
}
