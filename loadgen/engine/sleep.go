package engine

import (
	"context"
	"runtime"
	"time"
)

// Precise dispatch. Go's runtime timers wake the dispatcher up to about
// a millisecond late when the process is otherwise idle (the netpoller
// waits in whole milliseconds), and every microsecond of that lateness
// lands in the corrected latency of the operation: measured at 200/s
// against an instant target, dispatch lag was p50 0.5 ms, p99 1 ms —
// as large as a Redis-backed validate itself. On Linux the dispatcher
// therefore sleeps on a timerfd read through the netpoller, which the
// kernel's hrtimer wakes at the asked time; elsewhere it falls back to a
// runtime timer. A blocking clock_nanosleep on a locked thread was tried
// first: as precise, but it doubled the generator's CPU (every sleep a
// blocking syscall that sysmon hands the P away from).

// spinWindow is how close to an intended time the dispatcher stops
// sleeping and busy-waits, when there is a second P (with GOMAXPROCS=1
// a spinning dispatcher would hold the only P the operations need). It
// covers the poller's wake-up latency (a few µs to tens of µs), but a
// busy-wait costs CPU: spinShare bounds it to a share of the time until
// the operation, so that spinning never takes more than that share of a
// core whatever the rate (20 µs of every 5 ms at 200/s, 2.5 µs of every
// 50 µs at 20,000/s, where a fixed 20 µs window had cost 40 % of a core).
const (
	spinWindow = 20 * time.Microsecond
	spinShare  = 20 // 1/20: 5 %
)

// minSleep is the shortest wait worth a sleep: a timerfd sleep and its
// wake-up cost the process more CPU than busy-waiting this long, and
// would wake later than the intended time anyway. Shorter waits (only at
// rates near 100,000/s) spin — with one P, yielding to the operations
// between checks of the clock.
const minSleep = 10 * time.Microsecond

// maxSleepChunk bounds one sleep so cancellation is noticed.
const maxSleepChunk = 5 * time.Millisecond

// sleeper waits until intended times. Not safe for concurrent use.
type sleeper struct {
	spin  bool         // a second P: busy-wait the last stretch
	kt    *kernelTimer // nil: use timer
	timer *time.Timer
}

func newSleeper() *sleeper {
	s := &sleeper{timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
	s.spin = runtime.GOMAXPROCS(0) > 1
	if kt, err := newKernelTimer(); err == nil {
		s.kt = kt
	}
	return s
}

func (s *sleeper) close() {
	s.timer.Stop()
	if s.kt != nil {
		_ = s.kt.close()
	}
}

// until waits until deadline; false if ctx ended first.
func (s *sleeper) until(ctx context.Context, deadline time.Time) bool {
	gap := time.Until(deadline)
	if gap <= 0 {
		return ctx.Err() == nil
	}
	var window time.Duration // the last stretch, busy-waited
	switch {
	case gap <= minSleep:
		window = gap
	case s.spin:
		window = min(spinWindow, gap/spinShare)
	}
	for {
		d := time.Until(deadline) - window
		if d <= 0 {
			break
		}
		if d > maxSleepChunk {
			d = maxSleepChunk
		}
		if s.kt == nil || s.kt.sleep(d) != nil {
			s.kt = nil // fall back for good on any timerfd error
			s.timer.Reset(d)
			select {
			case <-ctx.Done():
				return false
			case <-s.timer.C:
			}
		}
		if ctx.Err() != nil {
			return false
		}
	}
	for time.Now().Before(deadline) {
		if !s.spin {
			runtime.Gosched() // the only P: let the operations run
		}
	}
	return ctx.Err() == nil
}
