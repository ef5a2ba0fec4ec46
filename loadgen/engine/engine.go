// Package engine runs one open-loop load scenario against a driver.
//
// One dispatcher goroutine computes the intended start time of every
// operation from the schedule, sleeps until then and hands the operation
// to a worker; latency is measured from the intended time (corrected) and
// from the actual send (uncorrected). Workers never cap the rate: a new
// goroutine serves each operation, bounded only by MaxInFlight, and a run
// that cannot keep its schedule is marked invalid with the reason instead
// of silently measuring a lower rate.
package engine

import (
	"io"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/pacer"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// Defaults for zero Config fields.
const (
	DefaultMaxLag         = time.Second
	DefaultMaxInFlight    = 10_000
	DefaultOpTimeout      = 10 * time.Second
	DefaultDrainTimeout   = 5 * time.Second
	DefaultPrefillWorkers = 64
	// DefaultCPUSaturation is the share of GOMAXPROCS·wall the generator
	// process may burn, sustained over SaturationWindow, before the run
	// is invalid: a saturated generator measures itself, not the target.
	DefaultCPUSaturation = 0.95
	// SaturationWindow is how many consecutive 1 s intervals of CPU
	// saturation make the run invalid.
	SaturationWindow = 3
	// DefaultTraceSample is the share of measured operations sent with a
	// sampled traceparent when Config.Trace is on: all of them, so that
	// every slowest operation can be looked up (k6's tracing default).
	DefaultTraceSample = 1.0
)

// Config configures one Run. Scenario, Driver and Tokens are required.
type Config struct {
	// Scenario to run, with command-line overrides (--rate, --duration)
	// already applied.
	Scenario *scenario.Scenario
	// Schedule gives every operation's intended time over the timeline
	// (warmup included). Default: pacer.FromScenario(Scenario). Passed in
	// so that a shard or a scaled run brings its own.
	Schedule pacer.Schedule
	// Driver performs the operations.
	Driver driver.Driver
	// Tokens supplies ID tokens for creates.
	Tokens tokens.Source
	// Seed seeds operation-kind and session picks; 0 picks a random seed
	// (reported in Report.Seed so a run can be repeated).
	Seed uint64
	// MaxLag is the schedule lag (actual dispatch − intended time) past
	// which the run is invalid. Default DefaultMaxLag (1 s). It is also
	// the grace after the schedule's end: dispatching stops at End+MaxLag
	// whatever is left, and what is left is counted as dropped, so an
	// overloaded run lasts as long as its schedule, not longer.
	MaxLag time.Duration
	// MaxInFlight bounds concurrent operations; reaching it makes the run
	// invalid (the target or the generator cannot keep up). Default
	// DefaultMaxInFlight (10 000).
	MaxInFlight int
	// OpTimeout bounds each operation (its context deadline). Default
	// DefaultOpTimeout (10 s).
	OpTimeout time.Duration
	// DrainTimeout bounds waiting for in-flight operations after the
	// schedule ends or ctx is cancelled. Default DefaultDrainTimeout (5 s).
	DrainTimeout time.Duration
	// PrefillWorkers bounds prefill concurrency. Default 64.
	PrefillWorkers int
	// CPUSaturation is the process CPU share (of GOMAXPROCS × wall) that,
	// sustained, makes the run invalid. Default DefaultCPUSaturation;
	// negative disables the check.
	CPUSaturation float64
	// CPUNote, if set, is appended to a CPU-saturation reason to say what
	// else shares the generator's process (e.g. an embedded Redis).
	CPUNote string
	// Progress, if set, is called about once a second and at each phase
	// change, never concurrently with itself.
	Progress func(Progress)
	// IntervalLog, if set, receives latency.hlog (1 s corrected interval
	// histograms, one per operation kind) as the run goes.
	IntervalLog io.Writer
	// Observers are called every ObserveEvery and at each phase change
	// (see Observer).
	Observers []Observer
	// ObserveEvery: default DefaultObserveEvery.
	ObserveEvery time.Duration
	// Trace gives every operation a W3C trace (driver.WithTrace): the
	// server continues it, sampled for measured operations as
	// TraceSample says, and the slowest operations' trace IDs are in the
	// report.
	Trace bool
	// TraceSample is the share of measured operations whose trace is
	// sent sampled (the server records it; the others carry an unsampled
	// traceparent, as a production client's mostly would): a server that
	// traces every request is slower than one that traces 1 %. Only
	// sampled operations keep their trace ID among the slowest. Default
	// DefaultTraceSample; negative samples none; at most 1.
	TraceSample float64
	// Slowest is how many of the slowest operations of each kind are
	// kept with their trace IDs. Default recorder.DefaultSlowest;
	// negative keeps none.
	Slowest int
	// StartAt, when set, is called once after prefill and returns the
	// start of the timeline, which the engine waits for: two engines of a
	// duet agree on one start so that each operation is intended at the
	// same moment against both servers. Default: right after prefill.
	StartAt func() time.Time
}

// Phases reported in Progress.Phase.
const (
	// PhaseTokens: readying every user's token (tokens.Warmer) before
	// anything is sent, so token minting never counts as latency.
	PhaseTokens  = "tokens"
	PhasePrefill = "prefill"
	PhaseWarmup  = "warmup"
	PhaseMeasure = "measure"
	PhaseDrain   = "drain"
)

// Progress is a live view of the run for a progress line.
type Progress struct {
	Phase string
	// Elapsed and Total cover the timeline (warmup + measured phase).
	Elapsed, Total time.Duration
	// Done counts recorded (measured-phase) operations.
	Done         uint64
	AchievedRate float64 // recorded operations per second so far
	Errors       uint64
	// P99 is the running corrected p99 over all normal operation kinds.
	P99 time.Duration
}

// Report is the outcome of a Run: everything results.New needs.
type Report struct {
	Scenario *scenario.Scenario
	Seed     uint64
	// StartedAt is the wall-clock start of the measured phase.
	StartedAt time.Time
	// Duration is the measured phase of the schedule: the scenario's
	// duration, or, when Partial, the part of it the schedule had reached
	// when the run was cut. It never stretches with a late dispatcher.
	Duration time.Duration
	// Partial is true when the run was cancelled before the schedule ended.
	Partial bool
	// ScheduledOps is the number of operations the schedule intends in
	// the measured part of Duration; TargetRate is ScheduledOps over
	// Duration (ops/s), a property of the schedule alone. AchievedRate is
	// recorded operations over Duration.
	ScheduledOps             uint64
	TargetRate, AchievedRate float64
	// Dropped counts measured-phase operations that were never sent
	// because the schedule (plus MaxLag of grace) ended first: the
	// generator or the target could not keep up. Dropped > 0 makes the
	// run invalid.
	Dropped uint64
	// MaxLag is the largest schedule lag seen (warmup included: validity
	// concerns the whole run; Stats.Lag holds the measured phase).
	MaxLag time.Duration
	// Valid is false when the run did not keep its schedule;
	// InvalidReasons says why, one sentence each.
	Valid          bool
	InvalidReasons []string
	// IntervalLogErr is the first error writing Config.IntervalLog (the
	// log is then incomplete; InvalidReasons says so too).
	IntervalLogErr error
	// IntervalLogHistograms is how many interval histograms (lines) were
	// written to Config.IntervalLog.
	IntervalLogHistograms int
	// Stats is what the recorder saw (measured phase only).
	Stats recorder.Snapshot
	// Skipped counts scheduled operations replaced by another kind, by
	// reason, e.g. "skipped_empty_pool" (a validate or destroy found no
	// live session, so a create was done instead).
	Skipped map[string]uint64
	// Prefilled is the number of sessions created before warmup.
	Prefilled int
	// SessionsLiveEnd is the pool size at the end.
	SessionsLiveEnd int
	// CPUPerOp is what each operation cost the generator: the loadgen
	// process's CPU time (user + system, every thread) from the start of
	// the timeline to the end of the drain, over SentOps, the operations
	// sent in that span (warmup included). Everything in the process
	// counts: dispatcher, driver, recorder, observers, and an embedded
	// Redis when there is one. Zero when nothing was sent.
	CPUPerOp time.Duration
	SentOps  uint64
	// RSS of the loadgen process in bytes (0 when unknown, e.g. not Linux).
	RSSStart, RSSEnd, RSSMax uint64
}
