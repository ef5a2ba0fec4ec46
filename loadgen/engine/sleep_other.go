//go:build !linux

package engine

import (
	"errors"
	"time"
)

type kernelTimer struct{}

func newKernelTimer() (*kernelTimer, error) {
	return nil, errors.New("no timerfd on this OS")
}

func (*kernelTimer) sleep(time.Duration) error { return nil }
func (*kernelTimer) close() error              { return nil }
