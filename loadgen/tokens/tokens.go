// Package tokens provides pools of Firebase ID tokens for load runs.
package tokens

import "context"

// Source hands out an ID token for user i (0 ≤ i < Users()). Tokens are
// renewed before they expire, so a Source can serve a long run.
// Implementations are safe for concurrent use.
type Source interface {
	Token(ctx context.Context, user int) (string, error)
	// Users is the number of distinct users in the pool.
	Users() int
	// Mode is "minted" or "emulator".
	Mode() string
}
