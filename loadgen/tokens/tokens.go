// Package tokens provides pools of Firebase ID tokens for load runs.
package tokens

import (
	"context"
	"fmt"
)

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

// Warmer is implemented by sources whose first Token for a user is
// expensive (an RSA signature, an emulator sign-in). The engine calls
// Warm before a run starts, so that cost never lands inside a measured
// latency: a create's corrected latency runs from its intended send
// time, and a token minted on the spot would be counted as the target's.
type Warmer interface {
	// Warm readies a token for every user, using up to all CPUs. It
	// returns early with ctx's error when ctx ends.
	Warm(ctx context.Context) error
}

// warmAll calls fn(user) for every user with up to workers goroutines,
// stopping at the first error or when ctx ends.
func warmAll(ctx context.Context, users, workers int, fn func(user int) error) error {
	if workers < 1 {
		workers = 1
	}
	next := make(chan int)
	errc := make(chan error, workers)
	for range workers {
		go func() {
			for u := range next {
				if err := fn(u); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	var err error
feed:
	for u := range users {
		select {
		case next <- u:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		case err = <-errc:
			workers-- // that worker has stopped
			break feed
		}
	}
	close(next)
	for range workers {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return fmt.Errorf("tokens: warm %d users: %w", users, err)
	}
	return nil
}
