// Package compare reads several results directories side by side: a
// comparison across Redis tiers, profiles or commits (HTML and Markdown,
// ratios against the first run), and the noise-aware CI gate, which
// fails a change only when a regression is both significant — judged by
// resampling the runs' own one-second interval histograms — and larger
// than the thresholds a team chose.
package compare

import (
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Gate defaults (loadgen gate's flags take theirs from here).
const (
	DefaultMaxRegression = 0.10                   // a p50/p99 ratio above 1.10 can fail
	DefaultMinDelta      = 200 * time.Microsecond // and only when it is this much slower
	DefaultConfidence    = 0.95                   // for the whole gate (each check gets its Bonferroni share)
	DefaultResamples     = 2000
	// DefaultMinIntervals is the fewest one-second intervals per side
	// for a latency verdict.
	DefaultMinIntervals = 5
	// DefaultMaxErrorRateIncrease is the error-rate rise (a fraction:
	// 0.001 = 0.1 percentage point) that can fail.
	DefaultMaxErrorRateIncrease = 0.001
)

// Options tune the gate. Zero values take the defaults.
type Options struct {
	MaxRegression        float64
	MinDelta             time.Duration
	Confidence           float64
	Resamples            int
	MinIntervals         int
	MaxErrorRateIncrease float64
	// Seed makes the resampling repeatable; 0 picks 1 (the gate must
	// give the same answer twice on the same input).
	Seed uint64
}

func (o *Options) defaults() {
	if o.MaxRegression <= 0 {
		o.MaxRegression = DefaultMaxRegression
	}
	if o.MinDelta <= 0 {
		o.MinDelta = DefaultMinDelta
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = DefaultConfidence
	}
	if o.Resamples <= 0 {
		o.Resamples = DefaultResamples
	}
	if o.MinIntervals <= 0 {
		o.MinIntervals = DefaultMinIntervals
	}
	if o.MaxErrorRateIncrease <= 0 {
		o.MaxErrorRateIncrease = DefaultMaxErrorRateIncrease
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// Verdicts of a check and of the gate.
const (
	Pass         = "pass"
	Regression   = "regression"
	Improvement  = "improvement" // a pass, worth saying
	Inconclusive = "inconclusive"
)

// Check is one operation's metric compared.
type Check struct {
	Op     string // create, validate, destroy; "" for an SLO term
	Metric string // p50, p99, error_rate, or the SLO term's key
	// Baseline and Current are milliseconds (latency) or fractions
	// (error rate); Ratio is Current/Baseline, with its confidence
	// interval [Lo, Hi] (latency).
	Baseline, Current, Ratio, Lo, Hi float64
	Verdict                          string
	Why                              string
}

// Name is "validate p99", or the SLO term.
func (c Check) Name() string {
	if c.Op == "" {
		return c.Metric
	}
	return c.Op + " " + c.Metric
}

// Decision is the gate's answer.
type Decision struct {
	// Verdict is Pass, Regression or Inconclusive.
	Verdict string
	Checks  []Check
	// Warnings: environments that differ between the sides, runs that
	// are not valid.
	Warnings []string
	// Paired is true when every baseline run had a current partner (the
	// same --pair), resampled together; Aligned when the partners were
	// duets, measured at the same moments, whose intervals were resampled
	// together too.
	Paired, Aligned bool
}

// ExitCode is the gate's contract: 0 pass, 3 regression, 1 inconclusive.
func (d *Decision) ExitCode() int {
	switch d.Verdict {
	case Pass:
		return 0
	case Regression:
		return 3
	}
	return 1
}

// gateOps are the operations the gate judges.
var gateOps = []string{"create", "validate", "destroy"}

// Gate compares the current runs with the baseline runs: the current
// runs' absolute SLOs, then per operation p50 and p99 (corrected
// latency) and the error rate. A latency check fails only when the
// ratio's confidence interval lies above 1, the ratio exceeds
// 1+MaxRegression and the slowdown exceeds MinDelta. Any run that is not
// a valid, complete run makes the gate inconclusive: its numbers can
// neither fail nor pass a change. So do sides measured under different
// load (another rate or duration, or, unless they are duets, background
// load more than BackgroundGap apart).
func Gate(baseline, current []*results.Run, o Options) (*Decision, error) {
	o.defaults()
	if len(baseline) == 0 || len(current) == 0 {
		return nil, errors.New("gate: need at least one baseline and one current results directory")
	}
	d := &Decision{}
	if cur, ok := pairUp(baseline, current); ok {
		current, d.Paired = cur, true
		d.Aligned = allDuets(baseline) && allDuets(cur)
	}
	d.Warnings = append(d.Warnings, envWarnings(baseline, current)...)
	loadWarn, undecidable := loadWarnings(baseline, current, d.Aligned)
	d.Warnings = append(d.Warnings, loadWarn...)
	invalid := undecidable
	for _, side := range []struct {
		name string
		runs []*results.Run
	}{{"baseline", baseline}, {"current", current}} {
		for _, r := range side.runs {
			s := r.Summary
			if s.Partial || !s.Load.Valid || s.Verdict == results.VerdictFailed || s.Verdict == results.VerdictPartial || s.Verdict == results.VerdictInvalid {
				invalid = true
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s run %s is %s: its numbers cannot decide", side.name, r.Name(), orText(s.Verdict, "not valid")))
			}
			if len(r.Intervals) == 0 {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s run %s has no latency.hlog: latency checks use nothing from it", side.name, r.Name()))
			}
		}
	}
	// Absolute SLOs of the current runs. A term the baseline breaches
	// too says the machine (or the scenario) cannot meet it, not that the
	// change broke it: that is inconclusive, not a regression.
	baseBreached := map[string]bool{}
	for _, r := range baseline {
		for k, t := range r.Summary.SLO.Terms {
			if !t.Passed {
				baseBreached[k] = true
			}
		}
	}
	for _, r := range current {
		for _, k := range sortedKeys(r.Summary.SLO.Terms) {
			t := r.Summary.SLO.Terms[k]
			c := Check{Metric: "SLO " + k, Verdict: Pass, Why: "within the scenario's SLO"}
			if t.ObservedMs != nil {
				c.Current, c.Baseline = *t.ObservedMs, *t.ThresholdMs
			} else if t.Observed != nil {
				c.Current, c.Baseline = *t.Observed, *t.Threshold
			}
			switch {
			case t.Passed:
			case baseBreached[k]:
				c.Verdict, c.Why = Inconclusive, "breached in "+r.Name()+" and in the baseline too: the machine or the scenario cannot meet it, whatever the change"
			default:
				c.Verdict, c.Why = Regression, "breaches the scenario's SLO in "+r.Name()+" (the baseline met it)"
			}
			d.Checks = append(d.Checks, c)
		}
	}
	rng := mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x5eed))
	quantiles := []struct {
		name string
		q    float64
	}{{"p50", 50}, {"p99", 99}}
	var ops []string
	for _, op := range gateOps {
		if total(intervals(baseline, op))+total(intervals(current, op)) > 0 {
			ops = append(ops, op)
		}
	}
	// Confidence is for the whole gate: with k latency checks, each is
	// judged at 1 − (1 − Confidence)/k (Bonferroni), or six checks at 95 %
	// each would cry wolf on one identical pair in four.
	each := o
	if k := len(ops) * len(quantiles); k > 1 {
		each.Confidence = 1 - (1-o.Confidence)/float64(k)
	}
	for _, op := range ops {
		bs, cs := intervals(baseline, op), intervals(current, op)
		for _, q := range quantiles {
			d.Checks = append(d.Checks, latencyCheck(op, q.name, q.q, bs, cs, d.Paired, d.Aligned, each, rng))
		}
		d.Checks = append(d.Checks, errorRateCheck(op, baseline, current, each))
	}
	d.Verdict = Pass
	for _, c := range d.Checks {
		if c.Verdict == Inconclusive && d.Verdict == Pass {
			d.Verdict = Inconclusive
		}
		if c.Verdict == Regression {
			d.Verdict = Regression
		}
	}
	if invalid {
		// A regression measured on an invalid run is not evidence either.
		d.Verdict = Inconclusive
	}
	return d, nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// intervals are op's interval histograms, one list per run.
func intervals(runs []*results.Run, op string) [][]*hdrhistogram.Histogram {
	out := make([][]*hdrhistogram.Histogram, len(runs))
	for i, r := range runs {
		out[i] = r.Intervals[op]
	}
	return out
}

func total(hs [][]*hdrhistogram.Histogram) int {
	n := 0
	for _, l := range hs {
		n += len(l)
	}
	return n
}

func minLen(hs [][]*hdrhistogram.Histogram) int {
	m := math.MaxInt
	for _, l := range hs {
		m = min(m, len(l))
	}
	return m
}

// latencyCheck compares quantile q of op's corrected latency.
func latencyCheck(op, name string, q float64, bs, cs [][]*hdrhistogram.Histogram, paired, aligned bool, o Options, rng *mrand.Rand) Check {
	c := Check{Op: op, Metric: name}
	if minLen(bs) < o.MinIntervals || minLen(cs) < o.MinIntervals {
		c.Verdict = Inconclusive
		c.Why = fmt.Sprintf("too few one-second intervals to judge (fewest %d baseline, %d current; need %d per run)", minLen(bs), minLen(cs), o.MinIntervals)
		return c
	}
	b := newBuckets(append(append([][]*hdrhistogram.Histogram{}, bs...), cs...))
	toSide := func(hs [][]*hdrhistogram.Histogram) side {
		s := make(side, len(hs))
		for i, l := range hs {
			for _, h := range l {
				s[i] = append(s[i], b.sparse(h))
			}
		}
		return s
	}
	base, cur := toSide(bs), toSide(cs)
	ab, ac := newAccumulator(b), newAccumulator(b)
	for _, run := range base {
		for _, s := range run {
			ab.add(s)
		}
	}
	for _, run := range cur {
		for _, s := range run {
			ac.add(s)
		}
	}
	c.Baseline, c.Current = ab.quantile(q)/1000, ac.quantile(q)/1000
	c.Ratio = c.Current / c.Baseline
	rs := &resampler{rng: rng, paired: paired, aligned: aligned}
	ratios := make([]float64, 0, o.Resamples)
	for i := 0; i < o.Resamples; i++ {
		rs.replicate(base, cur, ab, ac)
		if bq := ab.quantile(q); bq > 0 {
			ratios = append(ratios, ac.quantile(q)/bq)
		}
	}
	sort.Float64s(ratios)
	alpha := 1 - o.Confidence
	c.Lo, c.Hi = percentile(ratios, alpha/2), percentile(ratios, 1-alpha/2)
	delta := time.Duration((c.Current - c.Baseline) * float64(time.Millisecond))
	ci := fmt.Sprintf("%.2f× [%.2f, %.2f] at %.1f%%", c.Ratio, c.Lo, c.Hi, o.Confidence*100)
	switch {
	case c.Lo > 1 && c.Ratio > 1+o.MaxRegression && delta > o.MinDelta:
		c.Verdict = Regression
		c.Why = fmt.Sprintf("slower: %s, +%v (thresholds +%.0f%%, +%v)", ci, delta.Round(time.Microsecond), o.MaxRegression*100, o.MinDelta)
	case c.Hi < 1 && c.Ratio < 1/(1+o.MaxRegression) && -delta > o.MinDelta:
		c.Verdict = Improvement
		c.Why = fmt.Sprintf("faster: %s, %v", ci, delta.Round(time.Microsecond))
	case c.Lo > 1:
		c.Verdict = Pass
		c.Why = fmt.Sprintf("slower but within the thresholds: %s, %+v", ci, delta.Round(time.Microsecond))
	default:
		c.Verdict = Pass
		c.Why = fmt.Sprintf("no significant change: %s", ci)
	}
	return c
}

// errorRateCheck compares op's error rate with a two-proportion z-test:
// a regression when the rise is significant (one-sided, at the gate's
// confidence) and larger than MaxErrorRateIncrease.
func errorRateCheck(op string, baseline, current []*results.Run, o Options) Check {
	c := Check{Op: op, Metric: "error_rate"}
	sum := func(runs []*results.Run) (n, e float64) {
		for _, r := range runs {
			s := r.Summary.Ops[op]
			n += float64(s.Count - s.ExpectedRejections)
			e += float64(s.Errors)
		}
		return n, e
	}
	nb, eb := sum(baseline)
	nc, ec := sum(current)
	if nb == 0 || nc == 0 {
		c.Verdict, c.Why = Inconclusive, "no operations on one side"
		return c
	}
	c.Baseline, c.Current = eb/nb, ec/nc
	if c.Baseline > 0 {
		c.Ratio = c.Current / c.Baseline
	}
	p := (eb + ec) / (nb + nc)
	se := math.Sqrt(p * (1 - p) * (1/nb + 1/nc))
	z := 0.0
	if se > 0 {
		z = (c.Current - c.Baseline) / se
	}
	zCrit := normalQuantile(o.Confidence)
	rise := c.Current - c.Baseline
	switch {
	case z > zCrit && rise > o.MaxErrorRateIncrease:
		c.Verdict = Regression
		c.Why = fmt.Sprintf("more errors: %.3f%% → %.3f%% (z = %.1f; threshold +%.2f points)", c.Baseline*100, c.Current*100, z, o.MaxErrorRateIncrease*100)
	default:
		c.Verdict = Pass
		c.Why = fmt.Sprintf("%.3f%% → %.3f%%", c.Baseline*100, c.Current*100)
	}
	return c
}

// normalQuantile is the standard normal quantile at p (Acklam's
// rational approximation; |error| < 1.2e-9, plenty for a threshold).
func normalQuantile(p float64) float64 {
	a := []float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := []float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := []float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := []float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const low = 0.02425
	switch {
	case p < low:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-low:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	default:
		q := p - 0.5
		r := q * q
		return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
	}
}

// pairUp orders current so that current[i] is baseline[i]'s partner
// (the same --pair id), when every run has exactly one partner.
func pairUp(baseline, current []*results.Run) ([]*results.Run, bool) {
	if len(baseline) != len(current) {
		return nil, false
	}
	byPair := map[string]*results.Run{}
	for _, c := range current {
		id := c.Summary.Pair
		if id == "" || byPair[id] != nil {
			return nil, false
		}
		byPair[id] = c
	}
	out := make([]*results.Run, len(baseline))
	for i, b := range baseline {
		c := byPair[b.Summary.Pair]
		if c == nil {
			return nil, false
		}
		out[i] = c
		delete(byPair, b.Summary.Pair)
	}
	return out, true
}

func allDuets(runs []*results.Run) bool {
	for _, r := range runs {
		if !r.Summary.Duet {
			return false
		}
	}
	return true
}

// machineWarnings say where the runs' machines differ: a committed
// baseline from another machine measures that machine as much as the
// change.
func machineWarnings(first *results.Run, others []*results.Run) []string {
	var w []string
	for _, o := range others {
		b, c := first.Summary, o.Summary
		if b.Env.CPUModel != c.Env.CPUModel || b.Env.NumCPU != c.Env.NumCPU {
			w = append(w, fmt.Sprintf("MACHINES DIFFER: %s ran on %d × %q, %s on %d × %q; the numbers compare the machines as much as anything else",
				first.Name(), b.Env.NumCPU, b.Env.CPUModel, o.Name(), c.Env.NumCPU, c.Env.CPUModel))
		}
	}
	return w
}

// envWarnings are the gate's: the machine, and anything besides the code
// that differs between the sides (the Redis, the scenario).
func envWarnings(baseline, current []*results.Run) []string {
	w := machineWarnings(baseline[0], current)
	b, c := baseline[0].Summary, current[0].Summary
	diff := func(what, x, y string) {
		if x != y {
			w = append(w, fmt.Sprintf("%s differs: %q in the baseline, %q now; the gate compares code, so keep everything else the same", what, x, y))
		}
	}
	diff("Redis version", b.Target.Redis.Version, c.Target.Redis.Version)
	diff("Redis", b.Target.Redis.Mode+" "+b.Target.Redis.Profile, c.Target.Redis.Mode+" "+c.Target.Redis.Profile)
	diff("scenario", b.Scenario, c.Scenario)
	// A tracing server costs more at 100 % sampling than at 1 %.
	diff("trace sample", traceSample(b), traceSample(c))
	return w
}

// traceSample is the share of a run's operations sent with a sampled
// traceparent, as text: runs of a loadgen that did not record it sent
// every measured HTTP operation sampled; the store driver sends none.
func traceSample(s *results.Summary) string {
	switch {
	case s.Target.TraceSample != nil:
		return strconv.FormatFloat(*s.Target.TraceSample, 'g', -1, 64)
	case s.Target.Driver == "store":
		return "none (store driver)"
	default:
		return "1"
	}
}

// BackgroundGap is how many percentage points more of the machine other
// processes may take during one side than during the other (the mean of
// timeline.csv's host_other_cpu_pct over the measured phase) before runs
// that were not measured together cannot tell the change from the
// neighbours. Duets share their moments, so it does not apply to them.
const BackgroundGap = 20.0

// loadWarnings say where the two sides were not measured under the same
// load: a different schedule (latency depends on the rate), or, for runs
// not measured side by side, very different background load. Either
// makes the comparison undecidable.
func loadWarnings(baseline, current []*results.Run, aligned bool) (w []string, undecidable bool) {
	b := baseline[0].Summary
	others := make([]*results.Run, 0, len(baseline)-1+len(current))
	others = append(append(others, baseline[1:]...), current...)
	for _, r := range others {
		c := r.Summary
		if relDiff(b.Load.TargetRate, c.Load.TargetRate) > 0.01 || relDiff(b.DurationS, c.DurationS) > 0.01 {
			w = append(w, fmt.Sprintf("LOAD DIFFERS: %s ran %.6g/s for %.6g s, %s %.6g/s for %.6g s; latency depends on the load, so run both sides with the same scenario and flags",
				baseline[0].Name(), b.Load.TargetRate, b.DurationS, r.Name(), c.Load.TargetRate, c.DurationS))
			undecidable = true
		}
	}
	if aligned {
		return w, undecidable
	}
	bo, co := otherCPU(baseline), otherCPU(current)
	if !math.IsNaN(bo) && !math.IsNaN(co) && math.Abs(bo-co) > BackgroundGap {
		w = append(w, fmt.Sprintf("BACKGROUND LOAD DIFFERS: other processes used %.1f %% of the cores during the baseline and %.1f %% during the current runs (timeline host_other_cpu_pct); the gate cannot tell the change from its neighbours: rerun as duets (loadgen run --duet, make gate) or on a quiet machine",
			bo, co))
		undecidable = true
	}
	return w, undecidable
}

// relDiff is |a−b| relative to the larger (0 when both are 0).
func relDiff(a, b float64) float64 {
	m := math.Max(math.Abs(a), math.Abs(b))
	if m == 0 {
		return 0
	}
	return math.Abs(a-b) / m
}

// otherCPU is the mean over runs of each run's mean host_other_cpu_pct in
// the measured phase; NaN when no run has a timeline.
func otherCPU(runs []*results.Run) float64 {
	sum, n := 0.0, 0
	for _, r := range runs {
		rs, rn := 0.0, 0
		for _, row := range r.Timeline {
			if v := row.Values[results.HostOtherCPUPct]; row.Phase == engine.PhaseMeasure && !math.IsNaN(v) {
				rs += v
				rn++
			}
		}
		if rn > 0 {
			sum += rs / float64(rn)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
