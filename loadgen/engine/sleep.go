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
// covers the poller's wake-up latency at a bounded CPU cost: at most
// rate × spinWindow of one core.
const spinWindow = 20 * time.Microsecond

// maxSleepChunk bounds one sleep so cancellation is noticed.
const maxSleepChunk = 5 * time.Millisecond

// sleeper waits until intended times. Not safe for concurrent use.
type sleeper struct {
	spin  time.Duration // spinWindow, or 0 with a single P
	kt    *kernelTimer  // nil: use timer
	timer *time.Timer
}

func newSleeper() *sleeper {
	s := &sleeper{timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
	if runtime.GOMAXPROCS(0) > 1 {
		s.spin = spinWindow
	}
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
	for {
		d := time.Until(deadline) - s.spin
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
		// Busy-wait: at most s.spin (or the odd µs without it).
	}
	return ctx.Err() == nil
}
