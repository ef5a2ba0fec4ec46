package auth

// This file holds what callers depend on: the Verifier interface, the
// verified Token and the error classes that decide 401 versus 503.

import (
	"context"
	"errors"
	"time"
)

// Mode names, as given to --auth and reported on /healthz.
const (
	ModeFirebase = "firebase"
	ModeEmulator = "emulator"
	ModeLocal    = "local"
)

// Errors. A Verify error that wraps ErrInvalidToken (or ErrRevoked,
// ErrUserDisabled, which wrap it) is the client's fault: HTTP 401. Any
// other error means the verifier could not decide (key fetch or emulator
// unreachable): HTTP 503, fail closed.
var (
	ErrInvalidToken = errors.New("auth: invalid ID token")
	ErrRevoked      = errors.Join(ErrInvalidToken, errors.New("auth: ID token revoked"))
	ErrUserDisabled = errors.Join(ErrInvalidToken, errors.New("auth: user disabled"))
)

// Token is a verified Firebase ID token.
type Token struct {
	UID      string
	Email    string
	Tenant   string
	AuthTime time.Time
	IssuedAt time.Time
	Expires  time.Time
	Claims   map[string]any
}

// Verifier checks a Firebase ID token. Implementations are safe for
// concurrent use.
type Verifier interface {
	// Verify checks idToken; with checkRevoked it also asks Firebase
	// whether the user's tokens were revoked or the user disabled.
	Verify(ctx context.Context, idToken string, checkRevoked bool) (*Token, error)
	// Mode is one of ModeFirebase, ModeEmulator, ModeLocal.
	Mode() string
}
