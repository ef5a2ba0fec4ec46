//go:build linux

package engine

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kernelTimer is a timerfd read through Go's netpoller: the dispatcher
// parks like any goroutine blocked on I/O, and the kernel's hrtimer
// wakes the poller at the asked time, without the millisecond rounding
// of the runtime's own timers and without a blocked OS thread.
type kernelTimer struct {
	fd int      // for timerfd_settime (os.File.Fd would make f blocking)
	f  *os.File // for reads through the netpoller
}

func newKernelTimer() (*kernelTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	return &kernelTimer{fd: fd, f: os.NewFile(uintptr(fd), "dispatch-timerfd")}, nil
}

// sleep blocks the goroutine for d.
func (k *kernelTimer) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(k.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("timerfd_settime: %w", err)
	}
	var buf [8]byte
	_, err := k.f.Read(buf[:])
	return err
}

func (k *kernelTimer) close() error { return k.f.Close() }
