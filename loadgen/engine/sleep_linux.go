//go:build linux

package engine

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

func lockThreadForSleep() func() {
	runtime.LockOSThread()
	// Timer slack defaults to 50 µs per thread; 1 ns makes the kernel
	// wake the dispatcher as close to the asked time as it can. Failure
	// only costs precision.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	return runtime.UnlockOSThread
}

// kernelSleep blocks the thread in clock_nanosleep for d. The runtime
// hands the P to other goroutines while the thread sleeps.
func kernelSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, &ts) == unix.EINTR {
	}
}
