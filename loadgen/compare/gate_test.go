package compare

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// synthRun is a valid run whose validate latencies, interval by
// interval, are log-normal around median (µs) with spread sigma, each
// interval's level shifted by a noise factor drawn from intervalNoise
// (the drift of a shared runner), scaled by shift.
func synthRun(rng *mrand.Rand, intervals, perInterval int, median, sigma, intervalNoise, shift float64) *results.Run {
	r := &results.Run{Dir: "synthetic", Summary: &results.Summary{
		Schema: results.Schema, Scenario: "synthetic", Verdict: results.VerdictPass,
		Load: results.Load{Valid: true}, Ops: map[string]results.OpSummary{}, SLO: results.SLOResult{Passed: true},
	}, Intervals: map[string][]*hdrhistogram.Histogram{}}
	var count uint64
	for i := 0; i < intervals; i++ {
		h := recorder.NewHistogram()
		level := math.Exp(rng.NormFloat64() * intervalNoise)
		for j := 0; j < perInterval; j++ {
			v := median * shift * level * math.Exp(rng.NormFloat64()*sigma)
			_ = h.RecordValue(int64(v))
		}
		h.SetStartTimeMs(int64(i) * 1000)
		h.SetEndTimeMs(int64(i+1) * 1000)
		r.Intervals["validate"] = append(r.Intervals["validate"], h)
		count += uint64(perInterval)
	}
	r.Summary.Ops["validate"] = results.OpSummary{Count: count}
	return r
}

func decide(t *testing.T, base, cur []*results.Run) *Decision {
	t.Helper()
	d, err := Gate(base, cur, Options{Resamples: 500})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func check(d *Decision, name string) Check {
	for _, c := range d.Checks {
		if c.Name() == name {
			return c
		}
	}
	return Check{}
}

// TestGateIdenticalDistributionsPass: two runs from one distribution pass.
func TestGateIdenticalDistributionsPass(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	d := decide(t, []*results.Run{synthRun(rng, 60, 200, 800, 0.4, 0.05, 1)}, []*results.Run{synthRun(rng, 60, 200, 800, 0.4, 0.05, 1)})
	if d.Verdict != Pass || d.ExitCode() != 0 {
		t.Fatalf("verdict %s: %+v", d.Verdict, d.Checks)
	}
}

// TestGateThirtyPercentShiftFails: p99 30 % slower, well above the
// thresholds (a 1.2 ms median is ~3 ms at p99), is a regression, exit 3.
func TestGateThirtyPercentShiftFails(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	d := decide(t, []*results.Run{synthRun(rng, 60, 200, 1200, 0.4, 0.05, 1)}, []*results.Run{synthRun(rng, 60, 200, 1200, 0.4, 0.05, 1.3)})
	c := check(d, "validate p99")
	if d.Verdict != Regression || d.ExitCode() != 3 || c.Verdict != Regression || c.Lo <= 1 || c.Ratio < 1.2 {
		t.Fatalf("verdict %s, p99 check %+v", d.Verdict, c)
	}
}

// TestGateNoisyButEqualPasses: runs whose intervals drift ±20 % (a
// busy shared runner) but come from one distribution pass: the interval
// resampling sees the noise and widens the interval instead of failing.
func TestGateNoisyButEqualPasses(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	d := decide(t, []*results.Run{synthRun(rng, 60, 100, 1000, 0.5, 0.2, 1)}, []*results.Run{synthRun(rng, 60, 100, 1000, 0.5, 0.2, 1)})
	if d.Verdict != Pass {
		t.Fatalf("verdict %s: %+v", d.Verdict, d.Checks)
	}
}

// TestGateTooFewIntervalsIsInconclusive: three seconds cannot decide.
func TestGateTooFewIntervalsIsInconclusive(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	d := decide(t, []*results.Run{synthRun(rng, 3, 200, 1000, 0.4, 0.05, 1)}, []*results.Run{synthRun(rng, 3, 200, 1000, 0.4, 0.05, 2)})
	if d.Verdict != Inconclusive || d.ExitCode() != 1 || check(d, "validate p99").Verdict != Inconclusive {
		t.Fatalf("verdict %s: %+v", d.Verdict, d.Checks)
	}
}

// TestGateInvalidRunIsInconclusive: a regression measured on a run that
// did not keep its schedule is reported as inconclusive, not as a pass
// and not as a regression.
func TestGateInvalidRunIsInconclusive(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(9, 10))
	cur := synthRun(rng, 60, 200, 1200, 0.4, 0.05, 1.5)
	cur.Summary.Load.Valid, cur.Summary.Verdict = false, results.VerdictInvalid
	d := decide(t, []*results.Run{synthRun(rng, 60, 200, 1200, 0.4, 0.05, 1)}, []*results.Run{cur})
	if d.Verdict != Inconclusive || len(d.Warnings) == 0 {
		t.Fatalf("verdict %s warnings %v", d.Verdict, d.Warnings)
	}
}

// TestGateFalseAlarms: 20 pairs drawn from one noisy distribution; the
// gate may fail at most one of them.
func TestGateFalseAlarms(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(11, 12))
	fails := 0
	for i := 0; i < 20; i++ {
		d := decide(t, []*results.Run{synthRun(rng, 30, 150, 900, 0.5, 0.15, 1)}, []*results.Run{synthRun(rng, 30, 150, 900, 0.5, 0.15, 1)})
		if d.Verdict == Regression {
			fails++
			t.Logf("pair %d failed: %+v", i, d.Checks)
		}
	}
	if fails > 1 {
		t.Errorf("%d of 20 identical pairs failed the gate; want at most 1", fails)
	}
}

// TestGateSmallShiftBelowThresholdPasses: a real but small slowdown
// (5 %) below --max-regression passes, even when it is significant.
func TestGateSmallShiftBelowThresholdPasses(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(13, 14))
	d := decide(t, []*results.Run{synthRun(rng, 60, 400, 1500, 0.3, 0.02, 1)}, []*results.Run{synthRun(rng, 60, 400, 1500, 0.3, 0.02, 1.05)})
	if d.Verdict != Pass {
		t.Fatalf("verdict %s: %+v", d.Verdict, check(d, "validate p99"))
	}
}

// TestGatePairedCancelsSharedNoise: duet partners share each interval's
// drift; resampled as pairs, a 15 % shift is found although the drift is
// large, where unpaired resampling of the same data cannot decide it.
func TestGatePairedCancelsSharedNoise(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(15, 16))
	base, cur := synthRun(rng, 40, 150, 2000, 0.3, 0, 1), synthRun(rng, 40, 150, 2000, 0.3, 0, 1.15)
	// The same drift hits both, interval by interval.
	for i := range base.Intervals["validate"] {
		level := math.Exp(rng.NormFloat64() * 0.35)
		for _, h := range []*hdrhistogram.Histogram{base.Intervals["validate"][i], cur.Intervals["validate"][i]} {
			scaled := recorder.NewHistogram()
			for _, b := range h.Distribution() {
				if b.Count > 0 {
					_ = scaled.RecordValues(int64(float64(b.To)*level), b.Count)
				}
			}
			*h = *scaled
		}
	}
	unpaired := decide(t, []*results.Run{base}, []*results.Run{cur})
	base.Summary.Pair, cur.Summary.Pair = "d1", "d1"
	base.Summary.Duet, cur.Summary.Duet = true, true
	pairedD := decide(t, []*results.Run{base}, []*results.Run{cur})
	pc, uc := check(pairedD, "validate p99"), check(unpaired, "validate p99")
	if !pairedD.Paired || !pairedD.Aligned || pc.Verdict != Regression {
		t.Fatalf("paired: %+v", pc)
	}
	if pc.Hi-pc.Lo >= uc.Hi-uc.Lo {
		t.Errorf("paired interval [%.3f, %.3f] not narrower than unpaired [%.3f, %.3f]", pc.Lo, pc.Hi, uc.Lo, uc.Hi)
	}
	t.Logf("paired %s; unpaired %s", pc.Why, uc.Why)
}

// TestGateSLOBreachFails: a current run that breaches its scenario's SLO
// fails the gate whatever the ratios say.
func TestGateSLOBreachFails(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(17, 18))
	cur := synthRun(rng, 60, 200, 1000, 0.4, 0.05, 1)
	th, ob := 1.0, 2.5
	cur.Summary.SLO = results.SLOResult{Passed: false, Terms: map[string]results.SLOTerm{"validate.p99": {ThresholdMs: &th, ObservedMs: &ob}}}
	base := synthRun(rng, 60, 200, 1000, 0.4, 0.05, 1)
	d := decide(t, []*results.Run{base}, []*results.Run{cur})
	if d.Verdict != Regression || check(d, "SLO validate.p99").Verdict != Regression {
		t.Fatalf("verdict %s %+v", d.Verdict, d.Checks)
	}
	// The baseline breaching the same term is the machine's doing, not the
	// change's: inconclusive.
	base.Summary.SLO = cur.Summary.SLO
	d = decide(t, []*results.Run{base}, []*results.Run{cur})
	if d.Verdict != Inconclusive || check(d, "SLO validate.p99").Verdict != Inconclusive {
		t.Fatalf("both breached: verdict %s %+v", d.Verdict, d.Checks)
	}
}

// TestGateErrorRate: a significant rise above the threshold fails; a
// rise within noise does not.
func TestGateErrorRate(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(19, 20))
	mk := func(n, e uint64) *results.Run {
		r := synthRun(rng, 10, 50, 1000, 0.4, 0.05, 1)
		r.Summary.Ops["validate"] = results.OpSummary{Count: n, Errors: e}
		return r
	}
	d := decide(t, []*results.Run{mk(100000, 10)}, []*results.Run{mk(100000, 400)})
	if c := check(d, "validate error_rate"); c.Verdict != Regression {
		t.Errorf("0.01%% → 0.4%%: %+v", c)
	}
	d = decide(t, []*results.Run{mk(1000, 1)}, []*results.Run{mk(1000, 3)})
	if c := check(d, "validate error_rate"); c.Verdict != Pass {
		t.Errorf("1 → 3 errors in 1000: %+v", c)
	}
}

// TestAccumulatorMatchesHdrHistogram: the bootstrap's merged quantiles
// are HdrHistogram's own.
func TestAccumulatorMatchesHdrHistogram(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(21, 22))
	r := synthRun(rng, 20, 300, 700, 0.8, 0.1, 1)
	iv := r.Intervals["validate"]
	b := newBuckets([][]*hdrhistogram.Histogram{iv})
	acc := newAccumulator(b)
	merged := recorder.NewHistogram()
	for _, h := range iv {
		acc.add(b.sparse(h))
		merged.Merge(h)
	}
	for _, q := range []float64{1, 50, 90, 99, 99.9, 100} {
		if got, want := acc.quantile(q), float64(merged.ValueAtQuantile(q)); got != want {
			t.Errorf("q%v: accumulator %v, HdrHistogram %v", q, got, want)
		}
	}
}

// TestGatePairsRounds: interleaved rounds whose level drifts from round
// to round (a runner that gets busier) pair by --pair id, in any order,
// and the pairing removes the round-to-round drift: a 20 % slowdown is
// found paired where unpaired resampling cannot decide it.
func TestGatePairsRounds(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(23, 24))
	var base, cur []*results.Run
	for round := 0; round < 5; round++ {
		level := 1 + 0.6*float64(round) // round-level drift shared by both
		b := synthRun(rng, 20, 100, 1500*level, 0.3, 0.02, 1)
		c := synthRun(rng, 20, 100, 1500*level, 0.3, 0.02, 1.2)
		id := fmt.Sprintf("round-%d", round)
		b.Summary.Pair, c.Summary.Pair = id, id
		base = append(base, b)
		cur = append([]*results.Run{c}, cur...) // reversed: pairing goes by id
	}
	d := decide(t, base, cur)
	c := check(d, "validate p99")
	if !d.Paired || d.Aligned || c.Verdict != Regression {
		t.Fatalf("paired %v aligned %v: %+v", d.Paired, d.Aligned, c)
	}
	for _, r := range append(base, cur...) {
		r.Summary.Pair = ""
	}
	u := check(decide(t, base, cur), "validate p99")
	if u.Hi-u.Lo <= c.Hi-c.Lo {
		t.Errorf("unpaired interval [%.3f, %.3f] not wider than paired [%.3f, %.3f]", u.Lo, u.Hi, c.Lo, c.Hi)
	}
	t.Logf("paired: %s; unpaired: %s", c.Why, u.Why)
}

// timelineOf gives a run a measured-phase timeline in which other
// processes used pct % of the cores.
func timelineOf(r *results.Run, pct float64) *results.Run {
	for i := 0; i < 10; i++ {
		row := results.TimelineRow{ElapsedS: float64(i), Phase: engine.PhaseMeasure}
		for k := range row.Values {
			row.Values[k] = math.NaN()
		}
		row.Values[results.HostOtherCPUPct] = pct
		r.Timeline = append(r.Timeline, row)
	}
	return r
}

// TestGateDifferentLoadIsInconclusive: a 150/s, 5 s baseline against a
// 200/s, 10 s current run passed with no warning.
func TestGateDifferentLoadIsInconclusive(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(21, 22))
	base, cur := synthRun(rng, 60, 200, 800, 0.4, 0.05, 1), synthRun(rng, 60, 200, 800, 0.4, 0.05, 1)
	base.Summary.Load.TargetRate, base.Summary.DurationS = 150, 5
	cur.Summary.Load.TargetRate, cur.Summary.DurationS = 200, 10
	d := decide(t, []*results.Run{base}, []*results.Run{cur})
	if d.Verdict != Inconclusive || !strings.Contains(strings.Join(d.Warnings, "\n"), "LOAD DIFFERS") {
		t.Fatalf("verdict %s warnings %v", d.Verdict, d.Warnings)
	}
	cur.Summary.Load.TargetRate, cur.Summary.DurationS = 150, 5
	if d := decide(t, []*results.Run{base}, []*results.Run{cur}); d.Verdict != Pass {
		t.Fatalf("same load: verdict %s warnings %v", d.Verdict, d.Warnings)
	}
}

// TestGateBackgroundLoadGap: two runs of the same code one after the
// other, the first on a quiet machine (0.5 %) and the second beside
// other work (69 %), failed as a 2.6× p99 regression. Runs not measured
// together are inconclusive when their background load differs by more
// than BackgroundGap; duets, which share their moments, are judged.
func TestGateBackgroundLoadGap(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(23, 24))
	quiet := timelineOf(synthRun(rng, 60, 200, 800, 0.4, 0.05, 1), 0.5)
	busy := timelineOf(synthRun(rng, 60, 200, 800, 0.4, 0.05, 2.6), 69)
	d := decide(t, []*results.Run{quiet}, []*results.Run{busy})
	if d.Verdict != Inconclusive || d.ExitCode() != 1 || !strings.Contains(strings.Join(d.Warnings, "\n"), "BACKGROUND LOAD DIFFERS") {
		t.Fatalf("verdict %s warnings %v", d.Verdict, d.Warnings)
	}
	near := timelineOf(synthRun(rng, 60, 200, 800, 0.4, 0.05, 2.6), 0.5+BackgroundGap-1)
	if d := decide(t, []*results.Run{quiet}, []*results.Run{near}); d.Verdict != Regression {
		t.Fatalf("background within the gap: verdict %s warnings %v", d.Verdict, d.Warnings)
	}
	// Duets: each side counts its partner as "other"; the gap says nothing.
	for _, r := range []*results.Run{quiet, busy} {
		r.Summary.Pair, r.Summary.Duet = "duet-1", true
	}
	if d := decide(t, []*results.Run{quiet}, []*results.Run{busy}); d.Verdict != Regression || !d.Aligned {
		t.Fatalf("duet: verdict %s aligned %v warnings %v", d.Verdict, d.Aligned, d.Warnings)
	}
}

// A baseline whose operations were all sent sampled and a current run
// sampled at 1 % put different loads on a tracing server: the gate says
// so. A run from before the field counts as all sampled.
func TestGateWarnsWhenTraceSamplingDiffers(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(31, 32))
	base, cur := synthRun(rng, 60, 200, 800, 0.4, 0.05, 1), synthRun(rng, 60, 200, 800, 0.4, 0.05, 1)
	low := 0.01
	cur.Summary.Target.TraceSample = &low
	d := decide(t, []*results.Run{base}, []*results.Run{cur})
	if w := strings.Join(d.Warnings, "\n"); !strings.Contains(w, `trace sample differs: "1" in the baseline, "0.01" now`) {
		t.Fatalf("warnings %v, want the trace sample named", d.Warnings)
	}
	all := 1.0
	cur.Summary.Target.TraceSample = &all
	if w := strings.Join(decide(t, []*results.Run{base}, []*results.Run{cur}).Warnings, "\n"); strings.Contains(w, "trace sample") {
		t.Fatalf("an unrecorded share (all sampled) against 1: %v", w)
	}
}

// compare says when its columns were sent with different trace shares.
func TestCompareWarnsWhenTraceSamplingDiffers(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(41, 42))
	a, b := synthRun(rng, 10, 100, 800, 0.4, 0.05, 1), synthRun(rng, 10, 100, 800, 0.4, 0.05, 1)
	if w := compareWarnings([]*results.Run{a, b}); len(w) != 0 {
		t.Fatalf("same share: warnings %v", w)
	}
	low := 0.01
	b.Summary.Target.TraceSample = &low
	if w := strings.Join(compareWarnings([]*results.Run{a, b}), "\n"); !strings.Contains(w, "trace sample differs") || !strings.Contains(w, "0.01") {
		t.Fatalf("warnings %q, want the trace sample named", w)
	}
}
