package engine

import (
	"context"
	"errors"
)

// Run runs cfg.Scenario: prefill, warmup (not recorded), measured phase,
// drain. Cancelling ctx stops the schedule, drains in-flight operations
// for at most DrainTimeout and returns the report of what ran with
// Partial set and a nil error. An error is returned only when the run
// could not start (bad config, prefill failed entirely).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	_ = ctx
	_ = cfg
	return nil, errors.New("engine: not implemented yet")
}
