// Package scenario loads and validates loadgen scenario files (YAML).
//
// Decoding is strict: an unknown key or a bad value is an error that names
// the file, the line, the field and how to fix it, because a typo in a
// benchmark definition silently changes what is measured.
package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Pick modes for choosing which live session a validate or destroy uses.
const (
	PickUniform = "uniform"
	PickZipf    = "zipf"
)

// Bounds that keep a scenario file from asking for something absurd.
const (
	// MaxPrefill bounds population.prefill: prefill runs before warmup and
	// holds every session in memory.
	MaxPrefill = 10_000_000
	// MaxUsers bounds population.users (the token pool size).
	MaxUsers = 10_000_000
	// MaxDataBytes bounds session.data_bytes.
	MaxDataBytes = 1 << 20
	// MaxRate bounds any rate (operations per second).
	MaxRate = 10_000_000
	// MaxTimeline bounds warmup + duration (and any one stage): longer
	// than any soak, short enough that no sum of them overflows.
	MaxTimeline = 30 * 24 * time.Hour
)

// Scenario is one validated load scenario. Durations and rates are already
// parsed; every field has been range-checked by Parse.
type Scenario struct {
	// File is the path the scenario was loaded from, for messages.
	File string
	// Name matches [a-z0-9-]+; it names the results directory.
	Name        string
	Description string
	// Duration is the measured phase.
	Duration time.Duration
	// Warmup runs before the measured phase and is not recorded.
	Warmup time.Duration
	// Rate is the constant open-loop arrival rate (all operation kinds
	// together); zero when Stages is used.
	Rate Rate
	// Stages is the staged/ramped schedule over the whole timeline
	// (warmup included, starting at 0); nil when Rate is used. If the
	// stages end before Warmup+Duration, the last rate holds to the end.
	Stages []Stage
	// Mix is the relative weight of each operation kind.
	Mix Mix
	// Population describes the users and live sessions.
	Population Population
	// Session describes each session created.
	Session Session
	// Invalid is the share of deliberately bad operations.
	Invalid Invalid
	// SLO terms, in file order; empty when the scenario has none.
	SLO []SLOTerm
}

// Rate is an arrival rate in operations per second.
type Rate float64

// String formats r the way scenario files write it, e.g. "1000/s".
func (r Rate) String() string {
	return strconv.FormatFloat(float64(r), 'f', -1, 64) + "/s"
}

// Stage is one piece of a staged schedule: a constant rate (Ramp false) or
// a linear ramp from the previous stage's end rate to RampTo (Ramp true).
type Stage struct {
	Rate     Rate
	RampTo   Rate
	Ramp     bool
	Duration time.Duration
}

// Mix holds relative weights of the operation kinds (≥ 0, positive sum).
type Mix struct {
	Create, Validate, Destroy float64
}

// Population describes the users in the token pool and the sessions that
// exist before warmup.
type Population struct {
	// Users is the number of distinct users (≥ 1).
	Users int
	// Prefill is the number of live sessions created before warmup.
	Prefill int
	// Pick is PickUniform or PickZipf (default uniform).
	Pick string
	// ZipfS is the zipf exponent s (> 1) when Pick is zipf.
	ZipfS float64
}

// Session describes what each create sends.
type Session struct {
	// DataBytes is the size of the custom data sent with each create.
	DataBytes int
}

// Invalid holds percentages (of all operations) of deliberately bad
// operations, which the target is expected to reject with 401.
type Invalid struct {
	// BadToken: a create with a corrupted ID token.
	BadToken float64
	// UnknownSession: a validate with a well-formed but unknown credential.
	UnknownSession float64
}

// SLO statistics.
const (
	StatP50  = "p50"
	StatP90  = "p90"
	StatP99  = "p99"
	StatP999 = "p999"
	StatMax  = "max"
	StatMean = "mean"
)

// SLOTerm is one SLO line: either a latency bound on an operation's
// statistic (Op, Stat, Latency) or the error-rate bound (Key
// "error_rate", ErrorRate as a fraction, e.g. 0.001 for 0.1%).
type SLOTerm struct {
	Key       string
	Op        string
	Stat      string
	Latency   time.Duration
	ErrorRate float64
}

// IsErrorRate reports whether t bounds the error rate rather than a latency.
func (t SLOTerm) IsErrorRate() bool { return t.Key == "error_rate" }

// Timeline is the whole scheduled run: warmup plus the measured phase.
func (s *Scenario) Timeline() time.Duration { return s.Warmup + s.Duration }

// Overrides are command-line replacements for scenario values. Empty
// strings leave the scenario unchanged.
type Overrides struct {
	// Rate, e.g. "2000/s", replaces rate and any stages with a constant rate.
	Rate string
	// Duration, e.g. "30s", replaces the measured phase length.
	Duration string
}

// Apply validates o and applies it to s. Errors name the flag and the fix.
func (s *Scenario) Apply(o Overrides) error {
	if o.Rate != "" {
		r, err := ParseRate(o.Rate)
		if err != nil {
			return fmt.Errorf("--rate: %w", err)
		}
		if r <= 0 {
			return fmt.Errorf("--rate: %q must be positive; write e.g. 1000/s", o.Rate)
		}
		s.Rate = r
		s.Stages = nil
	}
	if o.Duration != "" {
		d, err := time.ParseDuration(o.Duration)
		if err != nil || d <= 0 || d > MaxTimeline {
			return fmt.Errorf("--duration: %q is not a positive duration up to %v; write e.g. 30s or 2m", o.Duration, MaxTimeline)
		}
		s.Duration = d
	}
	if s.Warmup+s.Duration > MaxTimeline {
		return fmt.Errorf("--duration: warmup %v + duration %v is longer than %v", s.Warmup, s.Duration, MaxTimeline)
	}
	if err := s.checkSchedulesWork(); err != nil {
		return fmt.Errorf("with --rate/--duration: %w", err)
	}
	return nil
}

// checkSchedulesWork refuses a schedule that sends nothing in the
// measured phase (e.g. stages: [{rate: 0/s}]), as rate: 0/s is refused:
// such a run would measure nothing and report it as a pass.
func (s *Scenario) checkSchedulesWork() error {
	if len(s.Stages) == 0 {
		return nil // rate is checked positive where it is parsed
	}
	// The rate in force during the measured phase: any stage that
	// overlaps it with a positive rate (or a ramp to or from one).
	var at time.Duration
	prev := Rate(0)
	end := s.Warmup + s.Duration
	for _, st := range s.Stages {
		from, to := st.Rate, st.Rate
		if st.Ramp {
			from, to = prev, st.RampTo
		}
		if at+st.Duration > s.Warmup && at < end && (from > 0 || to > 0) {
			return nil
		}
		at += st.Duration
		prev = to
	}
	if at < end && prev > 0 {
		return nil // the last rate holds to the end
	}
	return fmt.Errorf("stages schedule no operation in the measured phase (after warmup %v); give a stage a positive rate, e.g. {rate: 100/s, duration: 30s}", s.Warmup)
}

// ParseRate parses "1000/s", "60/m", "2k/s", "1.5k/s", "100/ms"... into
// operations per second. A bare number is rejected: the unit matters.
func ParseRate(text string) (Rate, error) {
	t := strings.TrimSpace(text)
	num, unit, ok := strings.Cut(t, "/")
	if !ok {
		return 0, fmt.Errorf("%q is not a rate; write e.g. 1000/s", text)
	}
	mult := 1.0
	num = strings.TrimSpace(num)
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1e3, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "M"):
		mult, num = 1e6, strings.TrimSuffix(num, "M")
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || n != n || num == "" || strings.ContainsAny(num, "eEinfINFxXpP_") {
		return 0, fmt.Errorf("%q is not a rate; write e.g. 1000/s", text)
	}
	var per float64
	switch strings.TrimSpace(unit) {
	case "s":
		per = 1
	case "m":
		per = 60
	case "h":
		per = 3600
	case "ms":
		per = 0.001
	default:
		return 0, fmt.Errorf("%q is not a rate: unit must be /s, /m, /h or /ms; write e.g. 1000/s", text)
	}
	r := n * mult / per
	if r > MaxRate {
		return 0, fmt.Errorf("%q is above the maximum rate %d/s", text, MaxRate)
	}
	return Rate(r), nil
}
