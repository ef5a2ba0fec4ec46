//go:build linux

package engine

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelTimer is a timerfd waited on through Go's netpoller: the
// dispatcher parks like any goroutine blocked on I/O, and the kernel's
// hrtimer wakes the poller at the asked time, without the millisecond
// rounding of the runtime's own timers and without a blocked OS thread.
//
// A sleep makes no read(2) at all: the timer is armed from inside the
// RawConn callback (after the poller has forgotten the previous expiry),
// the callback reports "not ready", and the expiry's epoll event wakes
// the goroutine; timerfd_settime resets the expiry count, so nothing
// needs to be read. timerfd_settime never blocks, so it is a raw system
// call: a plain one tells the runtime it may block, which wakes sysmon
// out of its deep sleep on every dispatch after an idle moment (measured:
// the two read(2)s and that wake-up were a fifth of the engine's own CPU
// per operation).
type kernelTimer struct {
	fd      int
	f       *os.File // keeps the fd registered with the netpoller
	rc      syscall.RawConn
	readyFn func(uintptr) bool // k.ready, made once (a method value allocates)
	spec    unix.ItimerSpec
	err     error
	armed   bool
}

func newKernelTimer() (*kernelTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dispatch-timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	k := &kernelTimer{fd: fd, f: f, rc: rc}
	k.readyFn = k.ready
	return k, nil
}

// sleep blocks the goroutine for d (at least 1 ns: a zero timer would be
// disarmed, never fire).
func (k *kernelTimer) sleep(d time.Duration) error {
	k.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	k.armed, k.err = false, nil
	if err := k.rc.Read(k.readyFn); err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	return k.err
}

// ready is the RawConn callback: the first call arms the timer and
// waits; the call after the expiry's wake-up ends the sleep.
func (k *kernelTimer) ready(uintptr) bool {
	if k.armed {
		return true
	}
	k.armed = true
	_, _, errno := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(k.fd), 0, uintptr(unsafe.Pointer(&k.spec)), 0, 0, 0)
	if errno != 0 {
		k.err = fmt.Errorf("timerfd_settime: %w", errno)
		return true
	}
	return false
}

func (k *kernelTimer) close() error { return k.f.Close() }
