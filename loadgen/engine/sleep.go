package engine

import (
	"context"
	"time"
)

// Precise dispatch. Go's runtime timers wake the dispatcher up to about
// a millisecond late when the process is otherwise idle (the netpoller
// waits in whole milliseconds), and every microsecond of that lateness
// lands in the corrected latency of the operation: measured at 200/s
// against an instant target, dispatch lag was p50 0.5 ms, p99 1 ms —
// as large as a Redis-backed validate itself. So the dispatcher runs on
// its own OS thread and sleeps with the kernel's clock_nanosleep (timer
// slack lowered to 1 ns on Linux), which wakes within tens of µs, and
// busy-waits the last spinWindow before the intended time.

// spinWindow is how close to an intended time the dispatcher stops
// sleeping and busy-waits. It covers the kernel's wake-up latency
// (tens of µs) without burning a core at low rates.
const spinWindow = 100 * time.Microsecond

// maxSleepChunk bounds one kernel sleep so cancellation is noticed.
const maxSleepChunk = 5 * time.Millisecond

// sleeper waits until intended times on the calling goroutine's thread.
// Call prepare once on the dispatcher goroutine before using until.
type sleeper struct{}

// prepare locks the dispatcher to its OS thread and lowers the thread's
// timer slack; release undoes the lock.
func (sleeper) prepare() (release func()) { return lockThreadForSleep() }

// until waits until deadline; false if ctx ended first.
func (sleeper) until(ctx context.Context, deadline time.Time) bool {
	for {
		d := time.Until(deadline) - spinWindow
		if d <= 0 {
			break
		}
		if d > maxSleepChunk {
			d = maxSleepChunk
		}
		kernelSleep(d)
		if ctx.Err() != nil {
			return false
		}
	}
	for time.Now().Before(deadline) {
		// Busy-wait: at most spinWindow. No runtime.Gosched here: the
		// goroutine is locked to its thread, and yielding would hand
		// the thread off and back through the scheduler.
	}
	return ctx.Err() == nil
}
