// Package driver defines how loadgen talks to a session service, and the
// classification of each operation's outcome.
package driver

import (
	"context"
	"encoding/json"
	"time"
)

// Session is a live session as a driver knows it. Credential is opaque to
// the engine (the cookie value for the http driver, the session ID for the
// store driver).
type Session struct {
	Credential string
	UserID     string
}

// Class classifies the outcome of one operation.
type Class string

// Outcome classes. The engine decides whether a Rejected is expected (a
// deliberately bad token or unknown session) or an error.
const (
	OK            Class = "ok"
	Rejected      Class = "rejected"       // the service refused: 401
	Timeout       Class = "timeout"        // deadline exceeded
	Connection    Class = "connection"     // dial, reset, refused
	Unexpected4xx Class = "unexpected_4xx" // 4xx other than 401
	Server5xx     Class = "server_5xx"     // 5xx (503 included)
	Protocol      Class = "protocol"       // bad response shape, missing cookie
	Other         Class = "other"
)

// Result is the outcome of one operation.
type Result struct {
	Class  Class
	Status int   // HTTP status, 0 when not HTTP
	Err    error // detail; nil when Class == OK
}

// Driver performs session operations against one target. Implementations
// are safe for concurrent use by many goroutines.
type Driver interface {
	// Create starts a session with a Firebase ID token and custom data.
	Create(ctx context.Context, idToken string, data json.RawMessage) (Session, Result)
	// Validate checks a session is live.
	Validate(ctx context.Context, s Session) Result
	// Destroy ends a session.
	Destroy(ctx context.Context, s Session) Result
	// Close releases connections.
	Close() error
}

// opContext bounds one operation by timeout unless ctx already carries a
// deadline: the caller's own bound (the engine's OpTimeout) governs, and
// an operation needs only one timer.
func opContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}
