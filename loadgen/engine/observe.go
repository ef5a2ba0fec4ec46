package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/recorder"
)

// PhaseDone is the last phase an Observer sees: the run is over.
const PhaseDone = "done"

// DefaultObserveEvery is how often observers are called.
const DefaultObserveEvery = time.Second

// Observer watches a run from outside the dispatcher, as k6's outputs
// do: memory samplers, and later fault injectors, plug in here without
// touching dispatch. Observe is called every Config.ObserveEvery and at
// each phase change (tokens, prefill, warmup, measure, drain, done),
// from one goroutine, never concurrently with itself or with another
// observer's call. It must return quickly: slow work (a Redis INFO, an
// HTTP scrape) belongs on the observer's own goroutine.
type Observer interface {
	Observe(Observation)
}

// Observation is the engine's side of one observation.
type Observation struct {
	// Time is the wall clock of the observation.
	Time time.Time
	// Phase is the phase in force (a Phase* constant); Changed is true
	// when the observation marks the start of that phase.
	Phase   string
	Changed bool
	// Elapsed is the offset in the timeline (warmup starts at 0); zero
	// before the timeline starts (token warm-up, prefill).
	Elapsed time.Duration
	// MeasureStart is when the measured phase starts (zero until the
	// timeline starts).
	MeasureStart time.Time
	// Live is the number of sessions the generator holds (created, not
	// destroyed), prefilled ones included.
	Live int
	// Done and Errors count finished scheduled operations per kind since
	// the timeline began, warmup included (the recorder counts only the
	// measured phase; prefill creates are not counted): observers derive
	// per-second rates from them.
	Done, Errors [recorder.NumOps]uint64
}

// counters count finished operations of every phase, per kind.
type counters struct {
	done, errors [recorder.NumOps]atomic.Uint64
}

func (c *counters) add(op recorder.Op, failed bool) {
	c.done[op].Add(1)
	if failed {
		c.errors[op].Add(1)
	}
}

// observers fans one observation out to every observer, serialised.
type observers struct {
	mu   sync.Mutex
	list []Observer
}

func (o *observers) notify(obs Observation) {
	if o == nil || len(o.list) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ob := range o.list {
		ob.Observe(obs)
	}
}

// observation builds the engine's current observation.
func (r *run) observation(phase string, changed bool) Observation {
	obs := Observation{Time: time.Now(), Phase: phase, Changed: changed, Live: r.pool.Len()}
	if !r.t0.IsZero() {
		obs.Elapsed = obs.Time.Sub(r.t0)
		obs.MeasureStart = r.t0.Add(r.warm)
	}
	for i := range obs.Done {
		obs.Done[i] = r.counts.done[i].Load()
		obs.Errors[i] = r.counts.errors[i].Load()
	}
	return obs
}
