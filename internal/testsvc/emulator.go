package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
)

// AuthEmulatorHowTo is the install hint given when the Firebase Auth
// emulator cannot be used.
const AuthEmulatorHowTo = firebaseemu.HowTo + " (needs Node.js; the auth emulator needs no Java)"

// AuthEmulator is a running Firebase Auth emulator owned by a test binary.
// Starting one takes ~10 s, so a package that needs it in many tests
// launches one in TestMain (or in one parent test with subtests) and
// closes it at the end, instead of starting one per test.
type AuthEmulator struct {
	*firebaseemu.Emulator
}

// StartAuthEmulator starts a Firebase Auth emulator for the calling test
// and stops it when the test ends. It returns the emulator's host:port and
// project ID. If the firebase CLI is missing or the emulator does not come
// up, the test fails in CI and is skipped elsewhere (see Unavailable).
func StartAuthEmulator(tb testing.TB) (host, project string) {
	tb.Helper()
	e, err := LaunchAuthEmulator(context.Background())
	if err != nil {
		Unavailable(tb, "Firebase Auth emulator", err, AuthEmulatorHowTo)
		return "", ""
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Logf("stop Firebase Auth emulator: %v", err)
		}
	})
	return e.Host, e.Project
}

// Require returns the emulator's host and project for tb, or reports it
// Unavailable (fail in CI, skip elsewhere) when launchErr, the error
// LaunchAuthEmulator returned in TestMain, is non-nil. It lets a TestMain
// launch once and every test decide by itself.
func (e *AuthEmulator) Require(tb testing.TB, launchErr error) (host, project string) {
	tb.Helper()
	if launchErr != nil || e == nil {
		if launchErr == nil {
			launchErr = errors.New("not launched")
		}
		Unavailable(tb, "Firebase Auth emulator", launchErr, AuthEmulatorHowTo)
		return "", ""
	}
	return e.Host, e.Project
}

// LaunchAuthEmulator starts an emulator (see firebaseemu.Start) serving a
// fresh project "demo-sessionbench-<hex>": the "demo-" prefix makes the
// CLI refuse to touch any real project. The caller must Close it.
func LaunchAuthEmulator(ctx context.Context) (*AuthEmulator, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("random project suffix: %w", err)
	}
	e, err := firebaseemu.Start(ctx, firebaseemu.Options{Project: "demo-sessionbench-" + hex.EncodeToString(rnd[:])})
	if err != nil {
		return nil, err
	}
	return &AuthEmulator{e}, nil
}
