package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/pacer"
	"github.com/sessionbench/sessionbench/loadgen/pool"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// Reasons for replacing a scheduled operation, in Report.Skipped.
const SkippedEmptyPool = "skipped_empty_pool"

func (c *Config) defaults() error {
	if c.Scenario == nil || c.Driver == nil || c.Tokens == nil {
		return errors.New("engine: Config needs Scenario, Driver and Tokens")
	}
	if c.Tokens.Users() < 1 {
		return errors.New("engine: token source has no users")
	}
	if c.MaxLag <= 0 {
		c.MaxLag = DefaultMaxLag
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.PrefillWorkers <= 0 {
		c.PrefillWorkers = DefaultPrefillWorkers
	}
	if c.CPUSaturation == 0 {
		c.CPUSaturation = DefaultCPUSaturation
	}
	switch {
	case c.TraceSample == 0:
		c.TraceSample = DefaultTraceSample
	case c.TraceSample > 1 || c.TraceSample != c.TraceSample: // NaN
		return fmt.Errorf("engine: TraceSample %v: want a share of at most 1 (negative: none sampled)", c.TraceSample)
	}
	if c.ObserveEvery <= 0 {
		c.ObserveEvery = DefaultObserveEvery
	}
	if c.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	if p := c.Progress; p != nil {
		// The ticker and the run's phase changes both report; serialise
		// them so the callback never runs concurrently with itself.
		var mu sync.Mutex
		c.Progress = func(pr Progress) { mu.Lock(); defer mu.Unlock(); p(pr) }
	}
	return nil
}

// run is the state of one Run.
type run struct {
	cfg   Config
	sc    *scenario.Scenario
	rec   *recorder.Recorder
	pool  *pool.Pool
	data  json.RawMessage
	t0    time.Time     // timeline start (monotonic)
	warm  time.Duration // recorded ops are intended at or after warm
	opCtx context.Context

	inflight atomic.Int64
	wg       sync.WaitGroup
	counts   counters
	obs      *observers
	// jobs hands operations to idle workers (unbuffered: a send succeeds
	// only when a worker is waiting). Closed when the run ends.
	jobs chan job

	mu      sync.Mutex // guards invalid (the ticker marks too)
	invalid []string

	// Written by dispatch only, read by Run after dispatch returns.
	skipped map[string]uint64
	maxLag  time.Duration
	// sentMeasured counts dispatched operations intended in the measured
	// phase; cutAt is the schedule offset reached when ctx cut the run.
	sentMeasured uint64
	cutAt        time.Duration
	// sent counts every dispatched operation of the timeline (warmup
	// included), the denominator of Report.CPUPerOp.
	sent uint64
}

func (r *run) markInvalid(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.invalid {
		if strings.SplitN(x, ":", 2)[0] == strings.SplitN(reason, ":", 2)[0] {
			return // one reason per kind is enough
		}
	}
	r.invalid = append(r.invalid, reason)
}

// Run runs cfg.Scenario: prefill, warmup (not recorded), measured phase,
// drain. Cancelling ctx stops the schedule, drains in-flight operations
// for at most DrainTimeout and returns the report of what ran with
// Partial set and a nil error. An error is returned only when the run
// could not start (bad config, prefill failed entirely).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sc := cfg.Scenario
	sched := cfg.Schedule
	if sched == nil {
		var err error
		if sched, err = pacer.FromScenario(sc); err != nil {
			return nil, fmt.Errorf("engine: schedule: %w", err)
		}
	}
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOps()
	r := &run{
		cfg: cfg, sc: sc, rec: newRecorder(cfg.Slowest), pool: pool.New(), opCtx: opCtx,
		warm: sc.Warmup, skipped: map[string]uint64{},
		data: sessionData(sc.Session.DataBytes),
		jobs: make(chan job),
		obs:  &observers{list: cfg.Observers},
	}
	rep := &Report{Scenario: sc, Seed: cfg.Seed}
	rep.RSSStart, _ = readRSS()

	if w, ok := cfg.Tokens.(tokens.Warmer); ok {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Phase: PhaseTokens, Total: sched.End()})
		}
		r.obs.notify(r.observation(PhaseTokens, true))
		if err := w.Warm(ctx); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	if cfg.Progress != nil {
		cfg.Progress(Progress{Phase: PhasePrefill, Total: sched.End()})
	}
	r.obs.notify(r.observation(PhasePrefill, true))
	n, err := r.prefill(ctx)
	rep.Prefilled = n
	if err != nil {
		r.obs.notify(r.observation(PhaseDone, true))
		return nil, err
	}

	r.t0 = time.Now()
	if cfg.StartAt != nil {
		// A duet: the partner engine agrees on the same start, so every
		// operation is intended at the same moment on both.
		r.t0 = cfg.StartAt()
		if d := time.Until(r.t0); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
	}
	rep.StartedAt = r.t0.Add(sc.Warmup)
	tickDone := make(chan struct{})
	tickStop := make(chan struct{})
	var logErr error
	var final *recorder.Snapshot // the recorder's closing snapshot
	var logged int               // histograms written to the interval log
	go func() {
		defer close(tickDone)
		final, logged, logErr = r.ticker(tickStop, sched)
	}()

	cpu0 := cpuTime()
	cancelled := r.dispatch(ctx, sched)
	close(r.jobs) // idle workers exit; busy ones after their operation
	end := sched.End()
	if cancelled {
		end = min(r.cutAt, end)
	}

	// Drain in-flight operations with a deadline.
	if cfg.Progress != nil {
		cfg.Progress(Progress{Phase: PhaseDrain, Elapsed: end, Total: sched.End()})
	}
	r.obs.notify(r.observation(PhaseDrain, true))
	drained := make(chan struct{})
	go func() { r.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(cfg.DrainTimeout):
		left := r.inflight.Load()
		cancelOps() // abandoned operations finish as timeouts
		r.markInvalid(fmt.Sprintf("drain: %d operations still in flight %v after the schedule ended", left, cfg.DrainTimeout))
		select {
		case <-drained:
		case <-time.After(time.Second):
		}
	}
	close(tickStop)
	<-tickDone
	if cpu := cpuTime() - cpu0; r.sent > 0 && cpu > 0 {
		rep.SentOps, rep.CPUPerOp = r.sent, cpu/time.Duration(r.sent)
	}
	r.obs.notify(r.observation(PhaseDone, true))

	// Rates and durations come from the schedule, never from the wall
	// clock: a descheduled dispatcher must not shrink the target rate of
	// a run that still calls itself valid.
	measured := max(end-sc.Warmup, 0)
	rep.Duration = measured
	rep.Partial = cancelled
	if final != nil {
		// The snapshot taken with the last interval: latency.hlog holds
		// exactly the operations it counts.
		rep.Stats = *final
	} else { // the measured phase never started
		rep.Stats = r.rec.Snapshot()
	}
	if late := r.rec.Late(); late > 0 {
		r.markInvalid(fmt.Sprintf("late: %d operations finished after the run was closed and are not counted", late))
	}
	count, _ := rep.Stats.Totals()
	if measured > 0 {
		rep.ScheduledOps = pacer.Count(sched, end) - pacer.Count(sched, sc.Warmup)
		rep.AchievedRate = float64(count) / measured.Seconds()
		rep.TargetRate = float64(rep.ScheduledOps) / measured.Seconds()
	}
	if !cancelled && r.sentMeasured < rep.ScheduledOps {
		rep.Dropped = rep.ScheduledOps - r.sentMeasured
		r.markInvalid(fmt.Sprintf("dropped: %d of %d scheduled operations were never sent: the schedule ended (plus %v of grace) first; the generator or the target could not keep up",
			rep.Dropped, rep.ScheduledOps, cfg.MaxLag))
	}
	r.mu.Lock()
	rep.MaxLag = r.maxLag
	rep.InvalidReasons = append([]string(nil), r.invalid...)
	rep.Skipped = r.skipped
	r.mu.Unlock()
	rep.IntervalLogHistograms = logged
	if logErr != nil {
		rep.IntervalLogErr = logErr
		rep.InvalidReasons = append(rep.InvalidReasons, "interval log: "+logErr.Error())
	}
	rep.Valid = len(rep.InvalidReasons) == 0
	rep.SessionsLiveEnd = r.pool.Len()
	rep.RSSEnd, rep.RSSMax = readRSS()
	return rep, nil
}

// sampled decides whether a measured operation's trace is sampled.
func (r *run) sampled(rng *mrand.Rand) bool {
	switch ts := r.cfg.TraceSample; {
	case ts >= 1:
		return true
	case ts <= 0:
		return false
	default:
		return rng.Float64() < ts
	}
}

// newRecorder keeps the configured number of slowest operations.
func newRecorder(slowest int) *recorder.Recorder {
	rec := recorder.New()
	switch {
	case slowest < 0:
		rec.KeepSlowest(0)
	case slowest > 0:
		rec.KeepSlowest(slowest)
	}
	return rec
}

// sessionData is the custom data sent with each create: a JSON object
// whose encoding is n bytes (at least the 10 of {"d":""}).
func sessionData(n int) json.RawMessage {
	const frame = len(`{"d":""}`)
	pad := n - frame
	if pad < 0 {
		pad = 0
	}
	return json.RawMessage(`{"d":"` + strings.Repeat("x", pad) + `"}`)
}

// prefill creates sc.Population.Prefill sessions at bounded concurrency,
// unrecorded. It fails only if every create failed.
func (r *run) prefill(ctx context.Context) (int, error) {
	total := r.sc.Population.Prefill
	if total == 0 {
		return 0, nil
	}
	var next, ok atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	workers := min(r.cfg.PrefillWorkers, total)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				tok, err := r.cfg.Tokens.Token(ctx, i%r.cfg.Tokens.Users())
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				octx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
				s, res := r.cfg.Driver.Create(octx, tok, r.data)
				cancel()
				if res.Class != driver.OK {
					e := fmt.Errorf("%s (status %d): %v", res.Class, res.Status, res.Err)
					firstErr.CompareAndSwap(nil, &e)
					continue
				}
				r.pool.Add(s)
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() == 0 && ctx.Err() == nil {
		err := errors.New("unknown error")
		if p := firstErr.Load(); p != nil {
			err = *p
		}
		return 0, fmt.Errorf("engine: prefill: all %d creates failed, first: %w", total, err)
	}
	return int(ok.Load()), nil
}

// dispatch runs the schedule; it returns true when ctx cut it short.
func (r *run) dispatch(ctx context.Context, sched pacer.Schedule) bool {
	sc := r.sc
	rng := mrand.New(mrand.NewPCG(r.cfg.Seed, r.cfg.Seed*0x9e3779b97f4a7c15))
	var pk *pool.Picker
	if sc.Population.Pick == scenario.PickZipf {
		pk = pool.NewZipf(r.cfg.Seed+1, sc.Population.ZipfS)
	} else {
		pk = pool.NewUniform(r.cfg.Seed + 1)
	}
	mixTotal := sc.Mix.Create + sc.Mix.Validate + sc.Mix.Destroy
	traceRng := mrand.New(mrand.NewPCG(r.cfg.Seed^0x74726163, r.cfg.Seed))
	sl := newSleeper()
	defer sl.close()
	maxLag := r.cfg.MaxLag
	// Past stopAt nothing more is sent: every operation still unsent
	// would be later than the validity bound, and an overloaded run must
	// end with its schedule (Run counts the rest as dropped).
	stopAt := r.t0.Add(sched.End() + maxLag)
	var lagMarked, inflightMarked bool
	for i := uint64(0); ; i++ {
		off, ok := sched.At(i)
		if !ok {
			return false
		}
		intended := r.t0.Add(off)
		if !sl.until(ctx, intended) {
			r.cutAt = min(off, time.Since(r.t0))
			return true
		}
		now := time.Now()
		if now.After(stopAt) {
			return false
		}
		lag := now.Sub(intended)
		if off >= r.warm {
			r.rec.RecordLag(lag) // the summary and the log cover the measured phase
		}
		// maxLag and skipped are written only here and read by Run after
		// dispatch returns: no lock needed.
		if lag > r.maxLag {
			r.maxLag = lag
		}
		if lag > maxLag && !lagMarked {
			lagMarked = true // format the reason once, not on every late op
			r.markInvalid(fmt.Sprintf("schedule lag: %v > %v bound at t=%v: generator could not keep up",
				lag.Round(time.Millisecond), maxLag, off.Round(time.Second)))
		}
		if n := r.inflight.Load(); n >= int64(r.cfg.MaxInFlight) {
			if !inflightMarked {
				inflightMarked = true
				r.markInvalid(fmt.Sprintf("in-flight limit: %d operations in flight at t=%v: target or generator could not keep up",
					n, off.Round(time.Second)))
			}
			for r.inflight.Load() >= int64(r.cfg.MaxInFlight) {
				if ctx.Err() != nil {
					r.cutAt = min(off, time.Since(r.t0))
					return true
				}
				if time.Now().After(stopAt) {
					return false
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		r.sent++
		if off >= r.warm {
			r.sentMeasured++
		}

		// Choose the operation.
		var op recorder.Op
		u := rng.Float64() * 100
		switch {
		case u < sc.Invalid.BadToken:
			op = recorder.BadToken
		case u < sc.Invalid.BadToken+sc.Invalid.UnknownSession:
			op = recorder.UnknownSession
		default:
			w := rng.Float64() * mixTotal
			switch {
			case w < sc.Mix.Create:
				op = recorder.Create
			case w < sc.Mix.Create+sc.Mix.Validate:
				op = recorder.Validate
			default:
				op = recorder.Destroy
			}
		}
		var e pool.Entry
		switch op {
		case recorder.Validate, recorder.Destroy:
			var got bool
			if op == recorder.Validate {
				e, got = r.pool.Pick(pk)
			} else {
				e, got = r.pool.Take(pk)
			}
			if !got {
				if off >= r.warm {
					r.skipped[SkippedEmptyPool]++
				}
				op = recorder.Create
			}
		case recorder.UnknownSession:
			e = pool.Entry{Session: driver.Session{Credential: randomCredential(rng)}}
		}
		user := int(rng.Uint64N(uint64(r.cfg.Tokens.Users())))
		r.inflight.Add(1)
		r.wg.Add(1)
		j := job{op: op, e: e, user: user, off: off}
		if r.cfg.Trace {
			// Its own generator: the seed's operation picks do not
			// depend on whether traces are on.
			putID(j.trace.ID[:], traceRng)
			putID(j.trace.SpanID[:], traceRng)
			j.trace.Sampled = off >= r.warm && r.sampled(traceRng)
		}
		select {
		case r.jobs <- j: // an idle worker takes it
		default:
			go r.worker(j) // none idle: a new one, so workers never cap the rate
		}
	}
}

// putID fills b with random bytes (a trace or span ID, never all zero).
func putID(b []byte, rng *mrand.Rand) {
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64()|1)
	}
}

// randomCredential is a fresh well-formed (43-char base64url, like a
// 32-byte session ID) but unknown credential.
func randomCredential(rng *mrand.Rand) string {
	var b [32]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// corrupt breaks an ID token's signature while keeping its shape.
func corrupt(tok string) string {
	if tok == "" {
		return "x"
	}
	b := []byte(tok)
	i := len(b) - 2
	if i < 0 {
		i = 0
	}
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// do performs one operation intended at off and records it.
// job is one dispatched operation.
type job struct {
	op    recorder.Op
	e     pool.Entry
	user  int
	off   time.Duration
	trace driver.Trace
}

// worker performs j, then keeps taking jobs until r.jobs closes. Reusing
// goroutines spares each operation a goroutine start and the stack growth
// of the HTTP client's deep call chain (8% of the generator's CPU at
// 6000/s when every operation had its own goroutine).
func (r *run) worker(j job) {
	for {
		r.do(j)
		var ok bool
		if j, ok = <-r.jobs; !ok {
			return
		}
	}
}

func (r *run) do(j job) {
	op, e, user, off := j.op, j.e, j.user, j.off
	defer r.wg.Done()
	defer r.inflight.Add(-1)
	ctx, cancel := context.WithTimeout(r.opCtx, r.cfg.OpTimeout)
	defer cancel()
	s := recorder.Sample{Intended: off}
	if !j.trace.ID.IsZero() {
		ctx = driver.WithTrace(ctx, j.trace)
		if j.trace.Sampled { // an unsampled trace leads nowhere
			s.Trace = j.trace.ID
		}
	}
	var res driver.Result
	switch op {
	case recorder.Create, recorder.BadToken:
		tok, err := r.cfg.Tokens.Token(ctx, user)
		if err != nil {
			s.Sent = time.Since(r.t0)
			res = driver.Result{Class: driver.Other, Err: fmt.Errorf("token: %w", err)}
			break
		}
		if op == recorder.BadToken {
			tok = corrupt(tok)
		}
		s.Sent = time.Since(r.t0)
		var sess driver.Session
		sess, res = r.cfg.Driver.Create(ctx, tok, r.data)
		if op == recorder.Create && res.Class == driver.OK {
			r.pool.Add(sess)
		}
	case recorder.Validate, recorder.UnknownSession:
		s.Sent = time.Since(r.t0)
		res = r.cfg.Driver.Validate(ctx, e.Session)
	case recorder.Destroy:
		s.Sent = time.Since(r.t0)
		res = r.cfg.Driver.Destroy(ctx, e.Session)
	}
	s.Done = time.Since(r.t0)
	switch {
	case op == recorder.BadToken || op == recorder.UnknownSession:
		switch res.Class {
		case driver.Rejected:
			s.Expected = op.String()
		case driver.OK:
			s.Err = recorder.ClassAcceptedInvalid
		default:
			s.Err = res.Class
		}
	case res.Class == driver.OK:
	case res.Class == driver.Rejected && op == recorder.Validate && !r.pool.Live(e.ID):
		s.Expected = recorder.ReasonRacedDestroy
	default:
		s.Err = res.Class
		if s.Err == "" {
			s.Err = driver.Other
		}
	}
	r.counts.add(op, s.Err != "")
	if off >= r.warm {
		r.rec.Record(op, s)
	}
}

// ticker runs once a second: closes hlog intervals, checks generator CPU
// saturation and reports progress. When stopped it closes the recorder
// with the last interval and returns its snapshot (nil when the measured
// phase never started), the number of histograms written to the log,
// and the first log write error.
func (r *run) ticker(stop <-chan struct{}, sched pacer.Schedule) (*recorder.Snapshot, int, error) {
	var finalSnap *recorder.Snapshot
	var lw *recorder.LogWriter
	var logErr error
	measureStart := r.t0.Add(r.warm)
	lastTick := measureStart
	t := time.NewTicker(time.Second)
	defer t.Stop()
	cpu0, wall0 := cpuTime(), time.Now()
	saturated := 0
	procs := runtime.GOMAXPROCS(0)
	scratch := recorder.NewHistogram()
	closeInterval := func(now time.Time, final bool) {
		// The first interval starts at the measured phase; skip a tick
		// that would close a sliver of an interval.
		if now.Before(measureStart) || (!final && now.Sub(lastTick) < 500*time.Millisecond) {
			return
		}
		if lw == nil && r.cfg.IntervalLog != nil && logErr == nil {
			lw, logErr = recorder.NewLogWriter(r.cfg.IntervalLog, measureStart)
		}
		var hs []*hdrhistogram.Histogram
		if final {
			var snap recorder.Snapshot
			hs, snap = r.rec.Close(lastTick.UnixMilli(), now.UnixMilli())
			finalSnap = &snap
		} else {
			hs = r.rec.Tick(lastTick.UnixMilli(), now.UnixMilli())
		}
		lastTick = now
		if lw != nil && logErr == nil {
			logErr = lw.Write(hs)
		}
	}
	// Observers: the timeline's first phase now, the measured phase when
	// it starts, and every ObserveEvery.
	phase := PhaseMeasure
	var measureAt <-chan time.Time
	if r.warm > 0 {
		phase = PhaseWarmup
		mt := time.NewTimer(time.Until(measureStart))
		defer mt.Stop()
		measureAt = mt.C
	}
	r.obs.notify(r.observation(phase, true))
	ot := time.NewTicker(r.cfg.ObserveEvery)
	defer ot.Stop()
	for {
		select {
		case <-measureAt:
			phase = PhaseMeasure
			r.obs.notify(r.observation(phase, true))
		case <-ot.C:
			r.obs.notify(r.observation(phase, false))
		case <-stop:
			closeInterval(time.Now(), true)
			if lw == nil {
				return finalSnap, 0, logErr
			}
			return finalSnap, lw.Histograms(), logErr
		case now := <-t.C:
			closeInterval(now, false)
			if r.cfg.CPUSaturation > 0 {
				cpu := cpuTime()
				share := float64(cpu-cpu0) / (float64(now.Sub(wall0)) * float64(procs))
				cpu0, wall0 = cpu, now
				if share > r.cfg.CPUSaturation {
					saturated++
				} else {
					saturated = 0
				}
				if saturated >= SaturationWindow {
					reason := fmt.Sprintf("generator CPU: loadgen used %.0f%% of %d CPUs for %d s at t=%v: generator saturated",
						share*100, procs, SaturationWindow, now.Sub(r.t0).Round(time.Second))
					if r.cfg.CPUNote != "" {
						reason += " (" + r.cfg.CPUNote + ")"
					}
					r.markInvalid(reason)
				}
			}
			if r.cfg.Progress != nil {
				el := now.Sub(r.t0)
				p := Progress{Phase: PhaseWarmup, Elapsed: el, Total: sched.End()}
				if el >= r.warm {
					p.Phase = PhaseMeasure
					p.Done, p.Errors = r.rec.Counts()
					if m := el - r.warm; m > 0 {
						p.AchievedRate = float64(p.Done) / m.Seconds()
					}
					r.rec.MergeCorrected(scratch, recorder.Create, recorder.Validate, recorder.Destroy)
					p.P99 = time.Duration(scratch.ValueAtQuantile(99)) * time.Microsecond
				}
				r.cfg.Progress(p)
			}
		}
	}
}
