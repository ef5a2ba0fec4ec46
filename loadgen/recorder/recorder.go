// Package recorder records per-operation latencies of an open-loop run in
// HdrHistograms, both corrected (from the intended send time, so server
// stalls are not hidden: no coordinated omission) and uncorrected (from the
// actual send), plus schedule lag, and emits 1 s interval histograms for
// the latency.hlog interval log.
//
// Values are microseconds, 1 µs to 1 min, 3 significant digits; a value
// above the maximum is clamped to it and counted in OpStats.Clamped.
package recorder

import (
	"sort"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// Histogram bounds, in microseconds.
const (
	LowestUs  = 1
	HighestUs = 60_000_000
	SigFigs   = 3
)

// Op is an operation kind.
type Op int

// Operation kinds. BadToken and UnknownSession are the deliberately
// invalid operations, recorded apart from the normal ones.
const (
	Create Op = iota
	Validate
	Destroy
	BadToken
	UnknownSession
	NumOps // number of kinds, for arrays indexed by Op
)

var opNames = [NumOps]string{"create", "validate", "destroy", "bad_token", "unknown_session"}

// String is the name used in summary.json and as the hlog tag.
func (o Op) String() string {
	if o < 0 || o >= NumOps {
		return "unknown"
	}
	return opNames[o]
}

// Ops lists every kind, in order.
func Ops() []Op { return []Op{Create, Validate, Destroy, BadToken, UnknownSession} }

// ParseOp is the inverse of Op.String.
func ParseOp(s string) (Op, bool) {
	for i, n := range opNames {
		if n == s {
			return Op(i), true
		}
	}
	return 0, false
}

// Expected-rejection reasons.
const (
	ReasonBadToken       = "bad_token"       // create with a corrupted token got 401
	ReasonUnknownSession = "unknown_session" // validate of an unknown credential got 401
	ReasonRacedDestroy   = "raced_destroy"   // validate of a session destroyed meanwhile got 401
)

// ClassAcceptedInvalid is the error class of a deliberately invalid
// operation that the target accepted (it should have been rejected).
const ClassAcceptedInvalid driver.Class = "accepted_invalid"

// Sample is one finished operation. Times are offsets from the start of
// the run's timeline (monotonic).
type Sample struct {
	Intended, Sent, Done time.Duration
	// Err is the error class; empty when the operation succeeded or was an
	// expected rejection.
	Err driver.Class
	// Expected is the expected-rejection reason; empty otherwise.
	Expected string
	// Trace is the trace the operation was sent with (zero: none).
	Trace driver.TraceID
}

// NewHistogram returns an empty histogram with the recorder's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestUs, HighestUs, SigFigs)
}

// Interval-log tags besides the operation names: the uncorrected latency
// of an operation kind is tagged UncorrectedTag(op), the schedule lag
// LagTag.
const (
	uncorrectedTagPrefix = "uncorrected."
	LagTag               = "lag"
)

// UncorrectedTag is the hlog tag of op's uncorrected latency, e.g.
// "uncorrected.validate".
func UncorrectedTag(op Op) string { return uncorrectedTagPrefix + op.String() }

// ParseTag reads an hlog tag: an operation's corrected latency (op,
// false), its uncorrected latency (op, true), or neither (the lag tag,
// or a tag of another tool): ok false.
func ParseTag(tag string) (op Op, uncorrected, ok bool) {
	name, unc := strings.CutPrefix(tag, uncorrectedTagPrefix)
	op, ok = ParseOp(name)
	return op, unc, ok
}

// opRec is one kind's state, behind its own mutex so kinds never contend.
type opRec struct {
	mu          sync.Mutex
	interval    *hdrhistogram.Histogram // corrected, since the last Tick
	uncInterval *hdrhistogram.Histogram // uncorrected, since the last Tick
	corrected   *hdrhistogram.Histogram // corrected, up to the last Tick
	uncorrected *hdrhistogram.Histogram // uncorrected, up to the last Tick
	count       uint64
	errors      uint64
	expected    uint64
	clamped     uint64
	errByClass  map[driver.Class]uint64
	expByReason map[string]uint64
	slowest     slowHeap
	// closed is set by Close; late counts what was recorded after it.
	closed bool
	late   uint64
	_      [64]byte // keep neighbouring kinds off this cache line
}

// Recorder accumulates samples. It is safe for concurrent use.
type Recorder struct {
	ops     [NumOps]opRec
	slowest int // how many of the slowest samples each kind keeps

	lagMu       sync.Mutex
	lag         *hdrhistogram.Histogram // up to the last Tick
	lagInterval *hdrhistogram.Histogram // since the last Tick
	lagClamped  uint64
	lagClosed   bool
}

// New returns an empty Recorder.
func New() *Recorder {
	r := &Recorder{lag: NewHistogram(), lagInterval: NewHistogram(), slowest: DefaultSlowest}
	for i := range r.ops {
		o := &r.ops[i]
		o.interval = NewHistogram()
		o.uncInterval = NewHistogram()
		o.corrected = NewHistogram()
		o.uncorrected = NewHistogram()
		o.errByClass = map[driver.Class]uint64{}
		o.expByReason = map[string]uint64{}
	}
	return r
}

// KeepSlowest sets how many of the slowest operations of each kind are
// kept (default DefaultSlowest; 0 keeps none). Call it before recording.
func (r *Recorder) KeepSlowest(n int) { r.slowest = max(n, 0) }

// toUs converts d to microseconds within the histogram bounds and reports
// whether it had to be clamped.
func toUs(d time.Duration) (int64, bool) {
	us := d.Microseconds()
	if us < LowestUs {
		return LowestUs, false
	}
	if us > HighestUs {
		return HighestUs, true
	}
	return us, false
}

// Record adds one finished operation of kind op.
func (r *Recorder) Record(op Op, s Sample) {
	c, cc := toUs(s.Done - s.Intended)
	u, uc := toUs(s.Done - s.Sent)
	o := &r.ops[op]
	o.mu.Lock()
	if o.closed {
		o.late++
		o.mu.Unlock()
		return
	}
	_ = o.interval.RecordValue(c)
	_ = o.uncInterval.RecordValue(u)
	o.count++
	if cc || uc {
		o.clamped++
	}
	o.slowest.offer(Slow{Latency: s.Done - s.Intended, Intended: s.Intended, Trace: s.Trace}, r.slowest)
	switch {
	case s.Err != "":
		o.errors++
		o.errByClass[s.Err]++
	case s.Expected != "":
		o.expected++
		o.expByReason[s.Expected]++
	}
	o.mu.Unlock()
}

// RecordLag adds one schedule-lag observation (actual dispatch − intended)
// of a measured operation.
func (r *Recorder) RecordLag(d time.Duration) {
	v, clamped := toUs(d)
	r.lagMu.Lock()
	if r.lagClosed {
		r.lagMu.Unlock()
		return
	}
	_ = r.lagInterval.RecordValue(v)
	if clamped {
		r.lagClamped++
	}
	r.lagMu.Unlock()
}

// Tick closes the current interval: it returns, for every kind that had
// samples, a copy of its corrected interval histogram tagged with the
// kind's name and of its uncorrected one tagged UncorrectedTag, then the
// schedule lag tagged LagTag, each stamped with [startMs, endMs] (ms
// since the epoch), and folds the interval into the running totals: the
// log holds every histogram the summary is made of.
func (r *Recorder) Tick(startMs, endMs int64) []*hdrhistogram.Histogram {
	return r.tick(startMs, endMs, nil)
}

// Close closes the last interval as Tick does and freezes the recorder:
// the snapshot it returns is taken under the same locks, so an interval
// log of every Tick and this Close holds exactly the operations the
// snapshot counts (an operation recorded between a last Tick and a
// separate Snapshot would be in one and not the other, and a log cut
// short could not be told from a whole one). Operations recorded after
// Close are not kept; Late counts them.
func (r *Recorder) Close(startMs, endMs int64) ([]*hdrhistogram.Histogram, Snapshot) {
	var s Snapshot
	hs := r.tick(startMs, endMs, &s)
	return hs, s
}

// Late is the number of operations recorded after Close (and dropped).
func (r *Recorder) Late() uint64 {
	var n uint64
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		n += o.late
		o.mu.Unlock()
	}
	return n
}

// tick is Tick, and Close when snap is not nil.
func (r *Recorder) tick(startMs, endMs int64, snap *Snapshot) []*hdrhistogram.Histogram {
	var out []*hdrhistogram.Histogram
	emit := func(src *hdrhistogram.Histogram, tag string) {
		h := src.Clone()
		h.SetTag(tag)
		h.SetStartTimeMs(startMs)
		h.SetEndTimeMs(endMs)
		out = append(out, h)
	}
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		if o.interval.TotalCount() > 0 {
			emit(o.interval, Op(i).String())
			emit(o.uncInterval, UncorrectedTag(Op(i)))
			o.corrected.Merge(o.interval)
			o.uncorrected.Merge(o.uncInterval)
			o.interval.Reset()
			o.uncInterval.Reset()
		}
		if snap != nil {
			snap.Ops[i] = o.stats(Op(i))
			o.closed = true
		}
		o.mu.Unlock()
	}
	r.lagMu.Lock()
	if r.lagInterval.TotalCount() > 0 {
		emit(r.lagInterval, LagTag)
		r.lag.Merge(r.lagInterval)
		r.lagInterval.Reset()
	}
	if snap != nil {
		snap.Lag, snap.LagClamped = r.lag.Clone(), r.lagClamped
		r.lagClosed = true
	}
	r.lagMu.Unlock()
	return out
}

// OpStats is a snapshot of one kind.
type OpStats struct {
	Op                 Op
	Count              uint64
	Errors             uint64
	ExpectedRejections uint64
	// Clamped counts samples above the histogram maximum (1 min).
	Clamped          uint64
	ErrorsByClass    map[driver.Class]uint64
	ExpectedByReason map[string]uint64
	// Corrected and Uncorrected are in microseconds.
	Corrected, Uncorrected *hdrhistogram.Histogram
	// Slowest are the slowest operations by corrected latency, slowest
	// first (at most the Recorder's KeepSlowest).
	Slowest []Slow
}

// Snapshot is a consistent-per-kind copy of everything recorded so far.
type Snapshot struct {
	Ops        [NumOps]OpStats
	Lag        *hdrhistogram.Histogram // microseconds
	LagClamped uint64
}

// Snapshot copies the totals (including the still-open interval).
func (r *Recorder) Snapshot() Snapshot {
	var s Snapshot
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		s.Ops[i] = o.stats(Op(i))
		o.mu.Unlock()
	}
	r.lagMu.Lock()
	s.Lag = r.lag.Clone()
	s.Lag.Merge(r.lagInterval)
	s.LagClamped = r.lagClamped
	r.lagMu.Unlock()
	return s
}

// stats copies o's totals, the open interval included. o.mu is held.
func (o *opRec) stats(op Op) OpStats {
	c := o.corrected.Clone()
	c.Merge(o.interval)
	u := o.uncorrected.Clone()
	u.Merge(o.uncInterval)
	st := OpStats{
		Op: op, Count: o.count, Errors: o.errors, ExpectedRejections: o.expected,
		Clamped: o.clamped, Corrected: c, Uncorrected: u,
		ErrorsByClass: make(map[driver.Class]uint64, len(o.errByClass)), ExpectedByReason: make(map[string]uint64, len(o.expByReason)),
		Slowest: o.slowest.sorted(),
	}
	for k, v := range o.errByClass {
		st.ErrorsByClass[k] = v
	}
	for k, v := range o.expByReason {
		st.ExpectedByReason[k] = v
	}
	return st
}

// Totals sums counts over all kinds: done operations, errors.
func (s Snapshot) Totals() (count, errors uint64) {
	for _, o := range s.Ops {
		count += o.Count
		errors += o.Errors
	}
	return count, errors
}

// ErrorClasses merges ErrorsByClass over all kinds, sorted by class.
func (s Snapshot) ErrorClasses() []ClassCount {
	m := map[driver.Class]uint64{}
	for _, o := range s.Ops {
		for k, v := range o.ErrorsByClass {
			m[k] += v
		}
	}
	out := make([]ClassCount, 0, len(m))
	for k, v := range m {
		out = append(out, ClassCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return out
}

// ClassCount is an error class and how often it occurred.
type ClassCount struct {
	Class driver.Class
	Count uint64
}

// MergeCorrected resets dst and merges into it the corrected latencies of
// ops recorded so far (for a running p99 without copying every histogram).
func (r *Recorder) MergeCorrected(dst *hdrhistogram.Histogram, ops ...Op) {
	dst.Reset()
	for _, op := range ops {
		o := &r.ops[op]
		o.mu.Lock()
		dst.Merge(o.corrected)
		dst.Merge(o.interval)
		o.mu.Unlock()
	}
}

// Counts returns recorded operations and errors over all kinds, cheaply.
func (r *Recorder) Counts() (count, errors uint64) {
	for i := range r.ops {
		o := &r.ops[i]
		o.mu.Lock()
		count += o.count
		errors += o.errors
		o.mu.Unlock()
	}
	return count, errors
}
