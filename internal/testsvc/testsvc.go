// Package testsvc starts the real services tests need (redis-server, a
// Redis Cluster, the Firebase Auth emulator) on free loopback ports and
// tears them down when the test ends.
//
// A missing service fails the test when CI is set (CI must prove the real
// thing works) and skips it elsewhere with a message saying how to get it.
package testsvc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
)

// InCI reports whether the CI environment variable is set to a non-empty,
// non-"false" value.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Unavailable reports that service cannot be used because of err. In CI
// it fails the test; elsewhere it skips. Only when the tool is missing
// (err is exec.ErrNotFound or firebaseemu.ErrCLIMissing) does the message
// give howTo, a hint such as "apt-get install -y redis-server", once: a
// tool that is installed but failed gets its error, not a guess.
func Unavailable(tb testing.TB, service string, err error, howTo string) {
	tb.Helper()
	msg, fail := unavailable(service, err, howTo, InCI())
	if fail {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// unavailable is Unavailable's message, and whether it fails the test.
func unavailable(service string, err error, howTo string, ci bool) (string, bool) {
	switch {
	case NotInstalled(err) && ci:
		return fmt.Sprintf("%s is required in CI but not installed; install it with: %s", service, howTo), true
	case NotInstalled(err):
		return fmt.Sprintf("%s not installed; to run this test: %s", service, howTo), false
	case ci:
		return fmt.Sprintf("%s is required in CI and is installed, but unusable: %v", service, err), true
	default:
		return fmt.Sprintf("%s is installed but unusable, skipping: %v", service, err), false
	}
}

// NotInstalled reports whether err says a needed program or service is
// missing (not in PATH, or, for Docker, no engine answering).
func NotInstalled(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, firebaseemu.ErrCLIMissing) || errors.Is(err, redisenv.ErrUnavailable)
}

// SyncBuffer is an io.Writer that servers' goroutines may write to while
// a test reads it: the log sink of tests that check log lines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
