package session

import "errors"

// More errors, beside those in contract.go.
var (
	// ErrBackend wraps every Redis failure (connection, timeout, context
	// deadline, unexpected reply) so callers can answer 503 and fail
	// closed; errors.Is also matches the underlying cause.
	ErrBackend = errors.New("session: backend failure")
	// ErrSealOpen means sealed fields could not be decrypted: an unknown
	// key id (rotated out), a wrong key, or a tampered or moved blob.
	ErrSealOpen = errors.New("session: sealed fields cannot be decrypted")
	// ErrNoSealer means NewSession.Sealed was set but Config.Sealer is nil.
	ErrNoSealer = errors.New("session: sealed fields need Config.Sealer")
	// ErrInvalidSession means a NewSession field is unusable; the message
	// names the field.
	ErrInvalidSession = errors.New("session: invalid new session")
)
