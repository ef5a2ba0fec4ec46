package httpapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sessionbench/sessionbench/reference/auth"
)

// recheckFailHold is how long a failed Firebase lookup of a user is
// remembered: during an outage each user costs one Admin API call per
// hold per instance, not one per request.
const recheckFailHold = 5 * time.Second

// userEntry is the cached answer about one user.
type userEntry struct {
	at      time.Time // when Firebase answered (or failed)
	state   auth.UserState
	deleted bool
	err     error // Firebase could not answer; kept recheckFailHold
}

// recheck asks Firebase about the users of live sessions, at most once
// per user per interval per instance, and remembers the answers for the
// interval. Concurrent validates of one user share one lookup.
type recheck struct {
	users    auth.Users
	interval time.Duration
	timeout  time.Duration
	metrics  *metrics

	mu      sync.Mutex
	cache   map[string]*userEntry
	sweepAt int // cache size that triggers the next sweep of old entries
	lookups singleflight.Group
}

func newRecheck(users auth.Users, interval, timeout time.Duration, m *metrics) *recheck {
	return &recheck{users: users, interval: interval, timeout: timeout, metrics: m, cache: map[string]*userEntry{}, sweepAt: 1024}
}

// recheckLabel is RecheckUser as /healthz shows it ("off" for 0).
func recheckLabel(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return d.String()
}

// user returns what Firebase says about uid: from the cache when the
// answer is younger than the interval (or a failure younger than
// recheckFailHold), else from one Admin API call. need reports whether a
// check is due at all: a session created within the interval was checked
// at its creation, so only a cached answer applies to it.
func (c *recheck) user(ctx context.Context, uid string, now time.Time, need bool) (*userEntry, error) {
	c.mu.Lock()
	e := c.cache[uid]
	c.mu.Unlock()
	if e != nil {
		hold := c.interval
		if e.err != nil {
			hold = recheckFailHold
		}
		if now.Sub(e.at) < hold && (e.err == nil || need) {
			return e, e.err
		}
	}
	if !need {
		return nil, nil // checked at creation; a failed lookup of others does not apply
	}
	ch := c.lookups.DoChan(uid, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		st, err := c.users.User(lctx, uid)
		ne := &userEntry{at: now, state: st}
		switch {
		case errors.Is(err, auth.ErrUserNotFound):
			ne.deleted = true
			c.metrics.recheck("deleted")
		case err != nil:
			ne.err = err
			c.metrics.recheck("error")
		case st.Disabled:
			c.metrics.recheck("disabled")
		default:
			c.metrics.recheck("ok")
		}
		c.store(uid, ne, now)
		return ne, nil
	})
	select {
	case r := <-ch:
		ne := r.Val.(*userEntry)
		return ne, ne.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store caches an answer and, when the cache has doubled since the last
// sweep, drops entries older than the interval (inactive users).
func (c *recheck) store(uid string, e *userEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache[uid] = e
	if len(c.cache) < c.sweepAt {
		return
	}
	for k, v := range c.cache {
		if now.Sub(v.at) >= c.interval {
			delete(c.cache, k)
		}
	}
	c.sweepAt = max(1024, 2*len(c.cache))
}

// verdict says why Firebase's answer ends a session signed in at
// authTime ("" when it does not): the error code and message.
func (e *userEntry) verdict(authTime time.Time) (code, msg string) {
	switch {
	case e.deleted:
		return "user_deleted", "the user account was deleted; the session has been ended"
	case e.state.Disabled:
		return "user_disabled", "the user account is disabled; the session has been ended"
	case e.state.RevokedAt(authTime):
		return "token_revoked", "the user's sessions were revoked after this sign-in; the session has been ended, sign in again"
	}
	return "", ""
}
