package target

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
)

// ErrFirebaseMissing means the firebase CLI is not installed; the fix is
// FirebaseHowTo.
var ErrFirebaseMissing = firebaseemu.ErrCLIMissing

// FirebaseHowTo is how to get the Firebase Auth emulator.
const FirebaseHowTo = firebaseemu.HowTo

// AuthEmulator is a Firebase Auth emulator started by loadgen; Host is
// the value for FIREBASE_AUTH_EMULATOR_HOST. Close stops it.
type AuthEmulator = firebaseemu.Emulator

// StartAuthEmulator starts a Firebase Auth emulator serving project on
// free loopback ports (see firebaseemu.Start), its output going to
// logPath. It returns once the emulator is ready (timeout 60 s). A
// missing firebase CLI is ErrFirebaseMissing, with the fix in the message
// (install it, or set FIREBASE_AUTH_EMULATOR_HOST to a running emulator).
func StartAuthEmulator(ctx context.Context, project, logPath string) (*AuthEmulator, error) {
	e, err := firebaseemu.Start(ctx, firebaseemu.Options{Project: project, LogPath: logPath})
	if errors.Is(err, ErrFirebaseMissing) {
		return nil, fmt.Errorf("%w, or set %s to a running emulator", err, firebaseemu.HostEnv)
	}
	return e, err
}
