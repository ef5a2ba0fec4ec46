//go:build !linux

package engine

import (
	"runtime"
	"time"
)

func lockThreadForSleep() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

func kernelSleep(d time.Duration) { time.Sleep(d) }
