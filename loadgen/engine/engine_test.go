package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/pacer"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// fakeTokens hands out "tok-<user>".
type fakeTokens struct{ users int }

func (f fakeTokens) Token(_ context.Context, u int) (string, error) {
	return fmt.Sprintf("tok-%d", u), nil
}
func (f fakeTokens) Users() int   { return f.users }
func (f fakeTokens) Mode() string { return "fake" }

// fakeDriver is an in-memory session service: tokens "tok-N" are valid,
// anything else is rejected; sessions live in a map. When stall is set,
// the stallOn-th call (counting from 1) sleeps for stall: a pause placed
// by operation count, not by wall clock, so the test means the same on a
// loaded machine. acceptAll makes it accept anything (a broken target).
type fakeDriver struct {
	mu        sync.Mutex
	live      map[string]bool
	n         int
	acceptAll bool

	stallOn int64
	stall   time.Duration
	calls   atomic.Int64
}

func newFake() *fakeDriver { return &fakeDriver{live: map[string]bool{}} }

func (f *fakeDriver) maybeStall() {
	if n := f.calls.Add(1); f.stall > 0 && n == f.stallOn {
		time.Sleep(f.stall)
	}
}

func (f *fakeDriver) Create(_ context.Context, tok string, _ json.RawMessage) (driver.Session, driver.Result) {
	f.maybeStall()
	if !f.acceptAll && !strings.HasPrefix(tok, "tok-") || strings.Contains(tok, "A") && !f.acceptAll {
		return driver.Session{}, driver.Result{Class: driver.Rejected, Status: 401}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	c := fmt.Sprintf("s%d", f.n)
	f.live[c] = true
	return driver.Session{Credential: c}, driver.Result{Class: driver.OK, Status: 200}
}

func (f *fakeDriver) Validate(_ context.Context, s driver.Session) driver.Result {
	f.maybeStall()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live[s.Credential] || f.acceptAll {
		return driver.Result{Class: driver.OK, Status: 200}
	}
	return driver.Result{Class: driver.Rejected, Status: 401}
}

func (f *fakeDriver) Destroy(_ context.Context, s driver.Session) driver.Result {
	f.maybeStall()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, s.Credential)
	return driver.Result{Class: driver.OK, Status: 204}
}

func (f *fakeDriver) Close() error { return nil }

func sc(rate scenario.Rate, d time.Duration) *scenario.Scenario {
	return &scenario.Scenario{
		Name: "t", Duration: d, Rate: rate,
		Mix:        scenario.Mix{Create: 10, Validate: 85, Destroy: 5},
		Population: scenario.Population{Users: 100, Prefill: 50, Pick: scenario.PickUniform},
	}
}

// TestCorrectedLatencyContainsStall: the target stalls 200 ms once while
// the schedule continues at 1000/s. With one operation in flight allowed
// (a closed-loop-like bottleneck), ops intended during the stall are sent
// late: their corrected latency (from the intended time) shows the stall,
// their uncorrected latency (from the send) does not — and the run is
// marked invalid because the in-flight bound was hit.
func TestCorrectedLatencyContainsStall(t *testing.T) {
	f := newFake()
	s := sc(1000, 1500*time.Millisecond)
	s.Population.Prefill = 10
	f.stall = 200 * time.Millisecond
	f.stallOn = 10 + 300 // the 300th operation of the run, after prefill
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: f, Tokens: fakeTokens{100}, Seed: 1, MaxInFlight: 1, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Count samples at or above 150 ms: the ~200 operations queued behind
	// the stall have corrected latencies up to 200 ms, but only the one
	// stalled operation took that long from its own send.
	var corrSlow, uncSlow int64
	for _, st := range rep.Stats.Ops {
		corrSlow += countAtLeast(st.Corrected, 150_000)
		uncSlow += countAtLeast(st.Uncorrected, 150_000)
	}
	t.Logf("ops with corrected ≥150ms: %d, uncorrected ≥150ms: %d", corrSlow, uncSlow)
	if corrSlow < 20 {
		t.Errorf("corrected latency shows the 200ms stall in %d operations; want the queue behind it (≥ 20)", corrSlow)
	}
	if uncSlow > 1 {
		t.Errorf("uncorrected latency ≥150ms in %d operations; want only the stalled one", uncSlow)
	}
	if rep.Valid || !strings.Contains(strings.Join(rep.InvalidReasons, ";"), "in-flight") {
		t.Errorf("valid=%v reasons=%v; want invalid for the in-flight bound", rep.Valid, rep.InvalidReasons)
	}
}

// countAtLeast counts a microsecond histogram's values ≥ us.
func countAtLeast(h *hdrhistogram.Histogram, us int64) int64 {
	var n int64
	for _, b := range h.Distribution() {
		if b.From >= us {
			n += b.Count
		}
	}
	return n
}

// TestSteadyRunCountsAndValidity: an unconstrained run against a fast
// target keeps its schedule and records about rate × duration ops.
func TestSteadyRunCountsAndValidity(t *testing.T) {
	f := newFake()
	s := sc(500, time.Second)
	s.Warmup = 200 * time.Millisecond
	var hlog bytes.Buffer
	var progress atomic.Int64
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: f, Tokens: fakeTokens{100}, Seed: 2, IntervalLog: &hlog,
		Progress: func(Progress) { progress.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Partial {
		t.Fatalf("valid %v partial %v reasons %v", rep.Valid, rep.Partial, rep.InvalidReasons)
	}
	// Everything comes from the schedule: 500 operations intended in the
	// measured second, all of them recorded, whatever the wall clock did.
	count, errs := rep.Stats.Totals()
	if rep.ScheduledOps != 500 || count != 500 || errs != 0 || rep.Dropped != 0 {
		t.Errorf("scheduled %d recorded %d errors %d dropped %d; want 500 500 0 0", rep.ScheduledOps, count, errs, rep.Dropped)
	}
	if rep.Duration != time.Second || rep.TargetRate != 500 || rep.AchievedRate != 500 {
		t.Errorf("duration %v target rate %v achieved %v; want 1s 500 500", rep.Duration, rep.TargetRate, rep.AchievedRate)
	}
	if rep.Prefilled != 50 {
		t.Errorf("prefilled %d", rep.Prefilled)
	}
	// The generator's cost is reported over every operation sent in the
	// timeline: 100 in the 200 ms of warmup and the 500 measured.
	if rep.SentOps != 600 || rep.CPUPerOp <= 0 {
		t.Errorf("sent %d, CPU per operation %v; want 600 and a positive cost", rep.SentOps, rep.CPUPerOp)
	}
	a := rep.Stats.Ops
	if c := a[recorder.Create].Count; c < 20 || c > 90 {
		t.Errorf("creates %d of %d; mix says ~10%%", c, count)
	}
	// hlog: as many histograms as the report says were written, and the
	// same counts per tag as the totals.
	logged := hlog.String()
	if n := strings.Count(logged, "\nTag="); n != rep.IntervalLogHistograms || n == 0 {
		t.Errorf("hlog holds %d histograms, the report says %d were written", n, rep.IntervalLogHistograms)
	}
	per := hlogCounts(t, strings.NewReader(logged))
	for _, op := range []recorder.Op{recorder.Create, recorder.Validate, recorder.Destroy} {
		if per[op.String()] != int64(a[op].Count) {
			t.Errorf("hlog %s count %d, totals %d", op, per[op.String()], a[op].Count)
		}
	}
	if progress.Load() == 0 {
		t.Error("no progress callback")
	}
	if rep.SessionsLiveEnd != len(f.live) {
		t.Errorf("pool %d live vs target %d", rep.SessionsLiveEnd, len(f.live))
	}
}

// TestCancelGivesPartialReport: cancelling mid-run returns promptly with
// Partial set and consistent counts.
func TestCancelGivesPartialReport(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	start := time.Now()
	rep, err := Run(ctx, Config{Scenario: sc(500, 20*time.Second), Driver: f, Tokens: fakeTokens{100}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v after cancel", el)
	}
	if !rep.Partial {
		t.Error("not partial")
	}
	count, _ := rep.Stats.Totals()
	if count == 0 || rep.Duration <= 0 || rep.Duration > 2*time.Second {
		t.Errorf("count %d duration %v", count, rep.Duration)
	}
	if int64(count) > f.calls.Load() {
		t.Errorf("recorded %d > driver calls %d", count, f.calls.Load())
	}
}

// TestInvalidOpsAreExpectedRejections: bad tokens and unknown sessions
// rejected with 401 count as expected rejections, not errors; a target
// that accepts them gets accepted_invalid errors.
func TestInvalidOpsAreExpectedRejections(t *testing.T) {
	for _, acceptAll := range []bool{false, true} {
		f := newFake()
		f.acceptAll = acceptAll
		s := sc(400, 500*time.Millisecond)
		s.Invalid = scenario.Invalid{BadToken: 20, UnknownSession: 20}
		rep, err := Run(context.Background(), Config{Scenario: s, Driver: f, Tokens: fakeTokens{100}, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []recorder.Op{recorder.BadToken, recorder.UnknownSession} {
			st := rep.Stats.Ops[op]
			if st.Count < 10 {
				t.Fatalf("%s: only %d ops", op, st.Count)
			}
			if !acceptAll && (st.ExpectedRejections != st.Count || st.Errors != 0) {
				t.Errorf("%s: %d ops, %d expected, %d errors", op, st.Count, st.ExpectedRejections, st.Errors)
			}
			if acceptAll && st.ErrorsByClass[recorder.ClassAcceptedInvalid] != st.Count {
				t.Errorf("accepting target: %s errors %v of %d", op, st.ErrorsByClass, st.Count)
			}
		}
		if v := rep.Stats.Ops[recorder.Validate]; v.Errors != 0 {
			t.Errorf("validate errors %v", v.ErrorsByClass)
		}
	}
}

// TestEmptyPoolRunsCreates: with no prefill and a destroy-heavy mix,
// destroys that find the pool empty run as creates and are counted.
func TestEmptyPoolRunsCreates(t *testing.T) {
	s := sc(400, 300*time.Millisecond)
	s.Population.Prefill = 0
	s.Mix = scenario.Mix{Destroy: 1}
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: fakeTokens{10}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	c, d := rep.Stats.Ops[recorder.Create].Count, rep.Stats.Ops[recorder.Destroy].Count
	if rep.Skipped[SkippedEmptyPool] == 0 || c == 0 || d == 0 {
		t.Errorf("skipped %v creates %d destroys %d", rep.Skipped, c, d)
	}
	if uint64(rep.Skipped[SkippedEmptyPool]) > c {
		t.Errorf("skipped %d > creates %d", rep.Skipped[SkippedEmptyPool], c)
	}
}

func TestPrefillAllFailIsError(t *testing.T) {
	s := sc(10, 100*time.Millisecond)
	_, err := Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: badTokens{}, Seed: 6})
	if err == nil || !strings.Contains(err.Error(), "prefill") {
		t.Fatalf("err = %v", err)
	}
}

type badTokens struct{}

func (badTokens) Token(context.Context, int) (string, error) { return "A-broken", nil }
func (badTokens) Users() int                                 { return 1 }
func (badTokens) Mode() string                               { return "bad" }

// warmTokens is a token source that must be warmed before any Token call.
type warmTokens struct {
	fakeTokens
	warmed atomic.Bool
	cold   atomic.Int64 // Token calls before Warm
}

func (w *warmTokens) Warm(context.Context) error { w.warmed.Store(true); return nil }

func (w *warmTokens) Token(ctx context.Context, u int) (string, error) {
	if !w.warmed.Load() {
		w.cold.Add(1)
	}
	return w.fakeTokens.Token(ctx, u)
}

// A source's first token can cost a millisecond of RSA signing; the engine
// warms it before prefill so that cost never lands in a create's latency.
func TestTokensWarmedBeforeAnyOperation(t *testing.T) {
	tok := &warmTokens{fakeTokens: fakeTokens{users: 10}}
	var mu sync.Mutex
	var phases []string
	rep, err := Run(context.Background(), Config{
		Scenario: sc(200, 200*time.Millisecond), Driver: newFake(), Tokens: tok, CPUSaturation: -1,
		Progress: func(p Progress) { mu.Lock(); phases = append(phases, p.Phase); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.warmed.Load() || tok.cold.Load() != 0 {
		t.Fatalf("warmed %v, %d Token calls before Warm; want Warm first", tok.warmed.Load(), tok.cold.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(phases) == 0 || phases[0] != PhaseTokens {
		t.Fatalf("first progress phase %v, want %q", phases, PhaseTokens)
	}
	if rep.Prefilled == 0 {
		t.Fatal("no prefill after warm")
	}
}

// blockingDriver never answers until its operation's context ends: a
// target that has stopped serving.
type blockingDriver struct{ calls atomic.Int64 }

func (b *blockingDriver) Create(ctx context.Context, _ string, _ json.RawMessage) (driver.Session, driver.Result) {
	b.calls.Add(1)
	<-ctx.Done()
	return driver.Session{}, driver.Result{Class: driver.Timeout, Err: ctx.Err()}
}
func (b *blockingDriver) Validate(ctx context.Context, _ driver.Session) driver.Result {
	_, r := b.Create(ctx, "", nil)
	return r
}
func (b *blockingDriver) Destroy(ctx context.Context, s driver.Session) driver.Result {
	return b.Validate(ctx, s)
}
func (b *blockingDriver) Close() error { return nil }

// TestOverloadEndsWithSchedule: a target that never answers fills the
// in-flight bound; the run still ends with its schedule (plus MaxLag),
// counts every unsent operation as dropped, reports the schedule's rate
// (not a rate shrunk by wall-clock time) and is invalid, with the reason.
// It used to keep dispatching past the end of its schedule.
func TestOverloadEndsWithSchedule(t *testing.T) {
	s := sc(1000, 500*time.Millisecond)
	s.Population.Prefill = 0
	b := &blockingDriver{}
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: b, Tokens: fakeTokens{10}, Seed: 7,
		MaxInFlight: 5, MaxLag: 100 * time.Millisecond, DrainTimeout: 100 * time.Millisecond, OpTimeout: time.Hour, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ScheduledOps != 500 || rep.TargetRate != 1000 || rep.Duration != 500*time.Millisecond {
		t.Errorf("scheduled %d target %v duration %v; want 500, 1000/s, 500ms", rep.ScheduledOps, rep.TargetRate, rep.Duration)
	}
	if sent := uint64(b.calls.Load()); rep.Dropped == 0 || rep.Dropped+sent != 500 {
		t.Errorf("dropped %d + sent %d; want 500 scheduled, most dropped", rep.Dropped, sent)
	}
	if rep.Valid || !strings.Contains(strings.Join(rep.InvalidReasons, ";"), "dropped") {
		t.Errorf("valid %v reasons %v; want invalid: dropped", rep.Valid, rep.InvalidReasons)
	}
}

// TestRampFromZeroRuns: a schedule that ramps up from 0/s runs to its end
// (its first operation's time was NaN, and the dispatcher slept forever).
func TestRampFromZeroRuns(t *testing.T) {
	s := sc(0, 500*time.Millisecond)
	s.Stages = []scenario.Stage{{Ramp: true, RampTo: 400, Duration: 500 * time.Millisecond}}
	done := make(chan struct{})
	var rep *Report
	var err error
	go func() {
		defer close(done)
		rep, err = Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: fakeTokens{10}, Seed: 8})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("a ramp from 0/s never finished")
	}
	if err != nil {
		t.Fatal(err)
	}
	count, _ := rep.Stats.Totals()
	if rep.ScheduledOps != 100 || (rep.Valid && count != 100) {
		t.Errorf("scheduled %d recorded %d valid %v; want 100 (0→400/s over 0.5 s)", rep.ScheduledOps, count, rep.Valid)
	}
}

// recordingObserver keeps every observation.
type recordingObserver struct {
	mu   sync.Mutex
	seen []Observation
}

func (o *recordingObserver) Observe(obs Observation) {
	o.mu.Lock()
	o.seen = append(o.seen, obs)
	o.mu.Unlock()
}

// TestObserversSeePhasesAndCounts: observers get every phase change in
// order, periodic observations in between, and counts that end equal to
// what was recorded (warmup included, so they are at least as large).
func TestObserversSeePhasesAndCounts(t *testing.T) {
	s := sc(400, 600*time.Millisecond)
	s.Warmup = 300 * time.Millisecond
	o := &recordingObserver{}
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: &warmTokens{fakeTokens: fakeTokens{users: 10}},
		Seed: 9, Observers: []Observer{o}, ObserveEvery: 100 * time.Millisecond, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var changes []string
	periodic := 0
	for i, obs := range o.seen {
		if obs.Changed {
			changes = append(changes, obs.Phase)
		} else {
			periodic++
		}
		if i > 0 && obs.Time.Before(o.seen[i-1].Time) {
			t.Errorf("observation %d goes back in time", i)
		}
	}
	want := []string{PhaseTokens, PhasePrefill, PhaseWarmup, PhaseMeasure, PhaseDrain, PhaseDone}
	if strings.Join(changes, ",") != strings.Join(want, ",") {
		t.Errorf("phase changes %v, want %v", changes, want)
	}
	if periodic == 0 {
		t.Error("no periodic observation")
	}
	last := o.seen[len(o.seen)-1]
	var done uint64
	for op := range last.Done {
		done += last.Done[op]
		if last.Done[op] < rep.Stats.Ops[op].Count {
			t.Errorf("%v: observed %d done < %d recorded", recorder.Op(op), last.Done[op], rep.Stats.Ops[op].Count)
		}
	}
	if recorded, _ := rep.Stats.Totals(); done <= recorded {
		t.Errorf("observed %d operations, recorded %d: warmup operations missing", done, recorded)
	}
	if last.Live != rep.SessionsLiveEnd {
		t.Errorf("last observation: %d live, report %d", last.Live, rep.SessionsLiveEnd)
	}
}

// tracingDriver records the trace of every call.
type tracingDriver struct {
	*fakeDriver
	mu     sync.Mutex
	traces map[driver.TraceID]bool // id → sampled
	calls  int
}

func (d *tracingDriver) see(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if t, ok := driver.TraceFrom(ctx); ok {
		d.traces[t.ID] = t.Sampled
	}
}

func (d *tracingDriver) Create(ctx context.Context, tok string, data json.RawMessage) (driver.Session, driver.Result) {
	d.see(ctx)
	return d.fakeDriver.Create(ctx, tok, data)
}
func (d *tracingDriver) Validate(ctx context.Context, s driver.Session) driver.Result {
	d.see(ctx)
	return d.fakeDriver.Validate(ctx, s)
}
func (d *tracingDriver) Destroy(ctx context.Context, s driver.Session) driver.Result {
	d.see(ctx)
	return d.fakeDriver.Destroy(ctx, s)
}

// TestEveryOperationHasItsOwnTrace: with Trace on, each scheduled
// operation (not prefill) carries a distinct trace, sampled exactly for
// the measured phase, and the report's slowest operations are traces the
// server saw.
func TestEveryOperationHasItsOwnTrace(t *testing.T) {
	s := sc(400, 500*time.Millisecond)
	s.Warmup = 250 * time.Millisecond
	d := &tracingDriver{fakeDriver: newFake(), traces: map[driver.TraceID]bool{}}
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: d, Tokens: fakeTokens{100}, Seed: 10, Trace: true, Slowest: 3, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	scheduled := d.calls - rep.Prefilled
	sampled := 0
	for _, s := range d.traces {
		if s {
			sampled++
		}
	}
	count, _ := rep.Stats.Totals()
	if len(d.traces) != scheduled || uint64(sampled) != count || rep.ScheduledOps != count {
		t.Errorf("%d traces for %d scheduled operations; %d sampled for %d measured (%d scheduled in the measured phase)",
			len(d.traces), scheduled, sampled, count, rep.ScheduledOps)
	}
	for _, st := range rep.Stats.Ops {
		if st.Count >= 3 && len(st.Slowest) != 3 {
			t.Errorf("%v: %d slowest kept, want 3", st.Op, len(st.Slowest))
		}
		for _, sl := range st.Slowest {
			if sampled, ok := d.traces[sl.Trace]; !ok || !sampled {
				t.Errorf("%v: slowest trace %v was not sent sampled", st.Op, sl.Trace)
			}
		}
	}
}

// TestBatchedOperationsKeepTheirOwnIntendedTimes: at 1,000,000/s no
// dispatcher wakes once per operation, so operations that fell due
// together are sent in one batch. Each must still be recorded with its
// own intended time from the schedule — never the batch's — so that the
// corrected latency counts every microsecond of the batching. Asserted on
// the intended times the recorder kept, not on any clock.
func TestBatchedOperationsKeepTheirOwnIntendedTimes(t *testing.T) {
	s := sc(1_000_000, time.Millisecond)
	s.Mix = scenario.Mix{Create: 1}
	s.Population.Prefill = 0
	sched, err := pacer.FromScenario(s)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: fakeTokens{100}, Seed: 11,
		Slowest: 5000, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stats.Ops[recorder.Create]
	if rep.ScheduledOps != 1000 || st.Count != 1000 || uint64(len(st.Slowest)) != st.Count {
		t.Fatalf("scheduled %d, recorded %d, kept %d; want 1000 of each", rep.ScheduledOps, st.Count, len(st.Slowest))
	}
	want := map[time.Duration]bool{}
	for i := uint64(0); i < 1000; i++ {
		off, _ := sched.At(i)
		want[off] = true
	}
	got := map[time.Duration]bool{}
	for _, sl := range st.Slowest {
		if !want[sl.Intended] {
			t.Fatalf("an operation was recorded as intended at %v, which is no operation's time in the schedule", sl.Intended)
		}
		if got[sl.Intended] {
			t.Fatalf("two operations recorded as intended at %v: a batch shared one intended time", sl.Intended)
		}
		got[sl.Intended] = true
		if sl.Latency < 0 {
			t.Errorf("operation intended at %v: negative corrected latency %v", sl.Intended, sl.Latency)
		}
	}
	if lag := rep.Stats.Lag.TotalCount(); lag != 1000 {
		t.Errorf("%d lag samples, want one per operation (1000)", lag)
	}
}

// deafDriver answers creates at once, except its last `hold` calls,
// which honour no context: they return only when release is closed.
type deafDriver struct {
	total, hold int64
	calls       atomic.Int64
	release     chan struct{}
	returned    atomic.Int64
}

func (d *deafDriver) Create(context.Context, string, json.RawMessage) (driver.Session, driver.Result) {
	if d.calls.Add(1) > d.total-d.hold {
		<-d.release
		d.returned.Add(1)
	}
	return driver.Session{Credential: "s"}, driver.Result{Class: driver.OK, Status: 200}
}
func (d *deafDriver) Validate(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 200}
}
func (d *deafDriver) Destroy(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 204}
}
func (d *deafDriver) Close() error { return nil }

// releaseWhenDone lets the deaf driver's held operations finish once the
// run is done (after its last interval was closed, before its summary is
// taken), and waits until they have.
type releaseWhenDone struct{ d *deafDriver }

func (o releaseWhenDone) Observe(obs Observation) {
	if obs.Phase != PhaseDone || !obs.Changed {
		return
	}
	close(o.d.release)
	for o.d.returned.Load() < o.d.hold {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let their workers record them
}

// TestLateOperationsAreInNeitherLogNorSummary: operations that honour
// only their own deadline outlive the drain and finish after the run's
// last interval was closed. They must be in neither latency.hlog nor the
// summary (they were in the summary only: a log that held fewer
// operations than its summary could not be told from a log cut short),
// and the run says it is invalid.
func TestLateOperationsAreInNeitherLogNorSummary(t *testing.T) {
	s := sc(100, 500*time.Millisecond)
	s.Mix = scenario.Mix{Create: 100}
	s.Population.Prefill = 0
	d := &deafDriver{total: 50, hold: 5, release: make(chan struct{})}
	var hlog bytes.Buffer
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: d, Tokens: fakeTokens{10}, Seed: 3, IntervalLog: &hlog,
		DrainTimeout: 50 * time.Millisecond, OpTimeout: time.Hour, CPUSaturation: -1, Observers: []Observer{releaseWhenDone{d}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.calls.Load() != 50 {
		t.Fatalf("%d creates sent, want the schedule's 50", d.calls.Load())
	}
	// The 45 answered creates are counted; the 5 held ones could only
	// finish after the run was closed.
	if got := rep.Stats.Ops[recorder.Create].Count; got != 45 {
		t.Errorf("summary counts %d creates, want the 45 answered before the run closed", got)
	}
	per := hlogCounts(t, &hlog)
	for _, tag := range []string{"create", recorder.UncorrectedTag(recorder.Create)} {
		if per[tag] != int64(rep.Stats.Ops[recorder.Create].Count) {
			t.Errorf("hlog %s holds %d, summary counts %d", tag, per[tag], rep.Stats.Ops[recorder.Create].Count)
		}
	}
	if rep.Valid || !strings.Contains(strings.Join(rep.InvalidReasons, ";"), "drain") {
		t.Errorf("valid %v reasons %v; want invalid: drain", rep.Valid, rep.InvalidReasons)
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, fmt.Errorf("disk full")
	}
	f.n--
	return len(p), nil
}

// TestIntervalLogErrorIsReported: a log that could not be written whole
// makes the run invalid and is reported as such, so that the harness can
// remove the incomplete file rather than leave a log that reads as fewer
// operations.
func TestIntervalLogErrorIsReported(t *testing.T) {
	s := sc(100, 300*time.Millisecond)
	rep, err := Run(context.Background(), Config{Scenario: s, Driver: newFake(), Tokens: fakeTokens{100}, Seed: 4,
		IntervalLog: &failAfter{n: 1}, CPUSaturation: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.IntervalLogErr == nil || !strings.Contains(rep.IntervalLogErr.Error(), "disk full") {
		t.Errorf("IntervalLogErr = %v, want the write error", rep.IntervalLogErr)
	}
	if rep.Valid || !strings.Contains(strings.Join(rep.InvalidReasons, ";"), "interval log") {
		t.Errorf("valid %v reasons %v; want invalid: interval log", rep.Valid, rep.InvalidReasons)
	}
}

// TestTraceSampleSamplesAShare: with TraceSample, every scheduled
// operation still carries a trace, but only about that share of the
// measured ones is sent sampled (the picks come from the seed), and only
// sampled traces are kept among the slowest (an unsampled one leads to
// no trace). A negative share samples none and keeps no trace ID.
func TestTraceSampleSamplesAShare(t *testing.T) {
	for _, tc := range []struct {
		share    float64
		min, max int // sampled, of 400 measured
	}{{0.25, 50, 150}, {-1, 0, 0}} {
		s := sc(400, time.Second)
		d := &tracingDriver{fakeDriver: newFake(), traces: map[driver.TraceID]bool{}}
		rep, err := Run(context.Background(), Config{Scenario: s, Driver: d, Tokens: fakeTokens{100}, Seed: 11, Trace: true,
			TraceSample: tc.share, Slowest: 5, CPUSaturation: -1})
		if err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		sampled := 0
		for _, s := range d.traces {
			if s {
				sampled++
			}
		}
		if len(d.traces) != d.calls-rep.Prefilled || sampled < tc.min || sampled > tc.max {
			t.Errorf("share %v: %d traces for %d operations, %d sampled; want a trace each and %d to %d sampled",
				tc.share, len(d.traces), d.calls-rep.Prefilled, sampled, tc.min, tc.max)
		}
		kept := 0
		for _, st := range rep.Stats.Ops {
			for _, sl := range st.Slowest {
				if sl.Trace.IsZero() {
					continue
				}
				kept++
				if !d.traces[sl.Trace] {
					t.Errorf("share %v: %v: slowest keeps trace %v, which was not sampled", tc.share, st.Op, sl.Trace)
				}
			}
		}
		if tc.share < 0 && kept != 0 {
			t.Errorf("share %v: %d trace IDs kept among the slowest, want none", tc.share, kept)
		}
		d.mu.Unlock()
	}
	if _, err := Run(context.Background(), Config{Scenario: sc(10, time.Second), Driver: newFake(), Tokens: fakeTokens{1}, TraceSample: 1.5}); err == nil || !strings.Contains(err.Error(), "TraceSample") {
		t.Errorf("TraceSample 1.5: %v, want refused", err)
	}
}

// hlogCounts reads an interval log and sums its counts per tag.
func hlogCounts(t *testing.T, log io.Reader) map[string]int64 {
	t.Helper()
	hs, err := recorder.ReadLog(log)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int64{}
	for _, h := range hs {
		per[h.Tag()] += h.TotalCount()
	}
	return per
}
