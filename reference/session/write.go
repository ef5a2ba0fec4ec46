package session

// This file holds what makes a failed write safe to report: the fence
// that stops a write reaching Redis after its caller gave up, the
// classification of a failed write (not applied, or outcome unknown) and
// the background clean-up of a create that failed half way.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// More errors of writes (Create, Destroy, DestroyAll, DestroyHandle,
// UpdateData). Both are wrapped together with ErrBackend.
var (
	// ErrNotApplied: Redis refused the write (out of memory, past its
	// deadline, not reachable) and nothing changed.
	ErrNotApplied = errors.New("session: write not applied")
	// ErrOutcomeUnknown: the write's reply did not arrive in time. It may
	// have run before its deadline; it can never run after it (see the
	// fence in scripts.go). Retrying a logout is always safe.
	ErrOutcomeUnknown = errors.New("session: write outcome unknown")
	// ErrOutOfMemory: Redis refused the write because it is out of
	// memory (maxmemory reached under noeviction). Wraps ErrNotApplied.
	ErrOutOfMemory = errors.New("session: redis is out of memory")
)

// clockSyncEvery is how often the Redis clock offset is measured again
// (in the background: writes keep using the last measurement meanwhile).
const clockSyncEvery = 10 * time.Second

// clockSyncTimeout bounds a background measurement of the offset.
const clockSyncTimeout = 5 * time.Second

// driftPPM is the clock drift allowed for between two measurements, in
// parts per million (crystal oscillators without NTP stay well within it):
// an older offset is lowered by it so it stays a lower bound.
const driftPPM = 100

// cleanupTimeout bounds the background clean-up of a failed create; it
// waits for a paused Redis that long.
const cleanupTimeout = 30 * time.Second

// oomHold is how long a write refused for lack of memory keeps
// Backend.OutOfMemory true when no later write succeeded (readiness must
// not flap between a refused write and the next INFO).
const oomHold = 10 * time.Second

// redisClock keeps a lower bound of (Redis TIME − this process's wall
// clock), so a deadline of this process can be written in Redis time.
type redisClock struct {
	mu       sync.Mutex
	offsetUS int64     // lower bound of redis − local, µs
	at       time.Time // when measured; zero: never
	every    time.Duration
	sf       singleflight.Group // one measurement at a time
}

// clockOffset returns the offset. A known offset is returned at once
// (lowered by driftPPM for its age) and, when older than every, measured
// again in the background. Only an unknown offset, or force (a LATE
// refusal that came back in time), makes the caller wait for TIME; then
// concurrent callers share one measurement.
func (s *Store) clockOffset(ctx context.Context, force bool) (int64, error) {
	c := &s.clock
	c.mu.Lock()
	off, at := c.offsetUS, c.at
	c.mu.Unlock()
	if !force && !at.IsZero() {
		age := time.Since(at)
		if age >= c.every {
			s.refreshClock()
		}
		return off - age.Microseconds()*driftPPM/1e6, nil
	}
	v, err, _ := c.sf.Do("offset", func() (any, error) { return s.syncClock(ctx) })
	if err != nil {
		if !at.IsZero() {
			return off - time.Since(at).Microseconds()*driftPPM/1e6, nil
		}
		return 0, err
	}
	return v.(int64), nil
}

// refreshClock measures the offset again in the background, unless a
// measurement is already running.
func (s *Store) refreshClock() {
	ch := s.clock.sf.DoChan("offset", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), clockSyncTimeout)
		defer cancel()
		return s.syncClock(ctx)
	})
	_ = ch // the result lands in s.clock; nobody waits for it
}

// syncClock measures the offset and records it.
func (s *Store) syncClock(ctx context.Context) (int64, error) {
	m, err := s.measureOffset(ctx)
	if err != nil {
		return 0, err
	}
	c := &s.clock
	c.mu.Lock()
	c.offsetUS, c.at = m, time.Now()
	c.mu.Unlock()
	return m, nil
}

// SyncClock measures the offset between Redis's clock and this process's
// now, so that the first writes do not pay for it (sessiond calls it at
// start). Writes measure it themselves when it is unknown; the error only
// says that Redis did not answer.
func (s *Store) SyncClock(ctx context.Context) error {
	_, err := s.syncClock(ctx)
	if err != nil {
		return backendErr("read redis clock", err)
	}
	return nil
}

// measureOffset asks TIME of Redis (every master of a cluster, keeping
// the smallest offset). The reply was produced before it arrived, so
// TIME − arrival is a lower bound of the offset: a fence computed with
// it is never later than the caller's deadline.
func (s *Store) measureOffset(ctx context.Context) (int64, error) {
	one := func(ctx context.Context, c redis.Cmdable) (int64, error) {
		rt, err := c.Time(ctx).Result()
		arrived := time.Now()
		if err != nil {
			return 0, err
		}
		return rt.UnixMicro() - arrived.UnixMicro(), nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		best := int64(math.MaxInt64)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			o, err := one(ctx, c)
			if err == nil {
				mu.Lock()
				best = min(best, o)
				mu.Unlock()
			}
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("read redis clock: %w", err)
		}
		return best, nil
	}
	o, err := one(ctx, s.rdb)
	if err != nil {
		return 0, fmt.Errorf("read redis clock: %w", err)
	}
	return o, nil
}

// fenced is a write's deadline: in this process's clock, and in Redis
// microseconds as the scripts' ARGV[1].
type fenced struct {
	local time.Time // zero: no deadline
	arg   string    // "0": no deadline
}

// fence returns the deadline of a write: the earlier of ctx's and limit
// (either may be absent). A write that runs in Redis later than this is
// refused (LATE), so a write its caller gave up on (and reported as
// failed) never happens afterwards.
func (s *Store) fence(ctx context.Context, limit time.Time) (*fenced, error) {
	if d, ok := ctx.Deadline(); ok && (limit.IsZero() || d.Before(limit)) {
		limit = d
	}
	f := &fenced{local: limit, arg: "0"}
	if limit.IsZero() {
		return f, nil
	}
	off, err := s.clockOffset(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("session: %w: %w: %w", ErrBackend, ErrNotApplied, err)
	}
	f.arg = strconv.FormatInt(limit.UnixMicro()+off, 10)
	return f, nil
}

// refreshable reports whether a LATE refusal came while this process's
// deadline had not passed: then Redis's clock moved ahead of the last
// measurement (a clock step), not the write too late. f is measured
// again and the caller may retry once: the refused write changed nothing.
func (s *Store) refreshable(ctx context.Context, f *fenced, err error) bool {
	if !isLate(err) || f.local.IsZero() || !time.Now().Before(f.local) {
		return false
	}
	off, merr := s.clockOffset(ctx, true)
	if merr != nil {
		return false
	}
	f.arg = strconv.FormatInt(f.local.UnixMicro()+off, 10)
	return true
}

// isLate reports a write refused by its fence.
func isLate(err error) bool { return redis.HasErrorPrefix(err, "LATE ") }

// runWrite runs a fenced write script with f as ARGV[1], retrying once
// when refreshable says the refusal came from a stale clock offset.
func (s *Store) runWrite(ctx context.Context, sc *redis.Script, f *fenced, keys []string, args ...any) *redis.Cmd {
	argv := append([]any{f.arg}, args...)
	cmd := sc.Run(ctx, s.rdb, keys, argv...)
	if s.refreshable(ctx, f, cmd.Err()) {
		argv[0] = f.arg
		cmd = sc.Run(ctx, s.rdb, keys, argv...)
	}
	return cmd
}

// notApplied reports whether a failed write certainly changed nothing:
// Redis answered with an error (our scripts fail, if at all, before
// their first write: LATE, OOM) or no connection could be made.
func notApplied(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, redis.ErrClosed)
}

// writeErr wraps a failed write for the caller: ErrBackend and either
// ErrNotApplied (with ErrOutOfMemory when that was the reason) or
// ErrOutcomeUnknown. It also feeds the out-of-memory signal.
func (s *Store) writeErr(op string, err error) error {
	switch {
	case redis.IsOOMError(err):
		s.oomAt.Store(time.Now().UnixNano())
		return fmt.Errorf("session: %s: %w: %w: %w: %w", op, ErrBackend, ErrNotApplied, ErrOutOfMemory, err)
	case notApplied(err):
		return fmt.Errorf("session: %s: %w: %w: %w", op, ErrBackend, ErrNotApplied, err)
	default:
		return fmt.Errorf("session: %s: %w: %w: %w", op, ErrBackend, ErrOutcomeUnknown, err)
	}
}

// wrote records that a memory-consuming write succeeded: Redis has room.
func (s *Store) wrote() {
	if s.oomAt.Load() != 0 {
		s.oomAt.Store(0)
	}
}

// background runs f in a goroutine with its own deadline, retrying it
// until it succeeds or cleanupTimeout passes. Drain waits for them.
func (s *Store) background(f func(ctx context.Context) error) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		for {
			if f(ctx) == nil {
				return
			}
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// Drain waits until the background clean-ups of failed writes have
// finished, or ctx ends. Call it before closing the Redis client.
func (s *Store) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("session: drain: %w", ctx.Err())
	}
}
