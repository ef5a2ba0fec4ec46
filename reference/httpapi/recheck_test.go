package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/session"
)

// fakeUsers is an Admin API whose answers the test sets, counting calls.
type fakeUsers struct {
	mu    sync.Mutex
	state map[string]auth.UserState
	gone  map[string]bool
	down  error
	calls int
}

func (f *fakeUsers) User(ctx context.Context, uid string) (auth.UserState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch {
	case f.down != nil:
		return auth.UserState{}, f.down
	case f.gone[uid]:
		return auth.UserState{}, fmt.Errorf("%w: %s", auth.ErrUserNotFound, uid)
	}
	st := f.state[uid]
	st.UID = uid
	return st, nil
}

func (f *fakeUsers) EachUser(context.Context, func(auth.UserState) error) error { return nil }

func (f *fakeUsers) set(uid string, st auth.UserState) {
	f.mu.Lock()
	f.state[uid] = st
	f.mu.Unlock()
}

func (f *fakeUsers) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func recheckEnv(t *testing.T) (*testEnv, *fakeUsers, *manualClock) {
	users := &fakeUsers{state: map[string]auth.UserState{}, gone: map[string]bool{}}
	clock := &manualClock{t: time.Now()}
	e := newEnv(t, envOptions{storeCfg: session.Config{Now: clock.Now}, cfg: func(c *Config) {
		c.Users = users
		c.RecheckUser = 5 * time.Minute
		c.Now = clock.Now
		c.RecentAuth = 24 * time.Hour // tokens signed in "now" by the real clock
	}})
	return e, users, clock
}

// Issue 6: disabling or deleting a user, or revoking their tokens, did
// not end their live sessions. With --recheck-user a validate asks
// Firebase once the session's last check is older than the interval.
func TestRecheckEndsSessionsOfDisabledDeletedRevokedUsers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		apply func(f *fakeUsers, uid string, signIn time.Time)
		code  string
	}{
		{"disabled", func(f *fakeUsers, uid string, _ time.Time) { f.set(uid, auth.UserState{Disabled: true}) }, "user_disabled"},
		{"deleted", func(f *fakeUsers, uid string, _ time.Time) { f.mu.Lock(); f.gone[uid] = true; f.mu.Unlock() }, "user_deleted"},
		{"revoked after sign-in", func(f *fakeUsers, uid string, signIn time.Time) {
			f.set(uid, auth.UserState{TokensValidAfter: signIn.Add(time.Second)})
		}, "token_revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, users, clock := recheckEnv(t)
			c := e.browser()
			signIn := time.Now().Truncate(time.Second)
			r := e.do(c, "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice", authtest.WithClaim("auth_time", signIn.Unix())))
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d %s", r.StatusCode, r.body)
			}
			id := e.sessionCookie(c)
			tc.apply(users, "alice", signIn)
			// Within the interval the session counts as checked at
			// creation: no call, still valid.
			clock.Advance(4 * time.Minute)
			if s := e.do(c, "GET", "/v1/sessions/current", "").StatusCode; s != http.StatusOK || users.n() != 0 {
				t.Fatalf("within the interval: %d after %d Admin API calls, want 200 and none", s, users.n())
			}
			clock.Advance(2 * time.Minute)
			e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusUnauthorized, tc.code)
			if users.n() != 1 {
				t.Fatalf("%d Admin API calls, want 1", users.n())
			}
			// The session is ended, not merely refused.
			e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+id).wantError(t, http.StatusUnauthorized, "unknown_session")
		})
	}
}

// A revocation before the session's sign-in does not end it, and the
// answer is cached per user for the interval: one Admin API call per
// active user per interval per instance, whatever the request rate.
func TestRecheckCachesPerUserPerInterval(t *testing.T) {
	e, users, clock := recheckEnv(t)
	signIn := time.Now().Truncate(time.Second)
	users.set("alice", auth.UserState{TokensValidAfter: signIn.Add(-time.Hour)})
	laptop, phone, bob := e.browser(), e.browser(), e.browser()
	e.login(laptop, "alice")
	e.login(phone, "alice")
	e.login(bob, "bob")
	clock.Advance(6 * time.Minute)
	for i := 0; i < 20; i++ {
		for _, c := range []*http.Client{laptop, phone, bob} {
			if r := e.do(c, "GET", "/v1/sessions/current", ""); r.StatusCode != http.StatusOK {
				t.Fatalf("validate %d: %d %s", i, r.StatusCode, r.body)
			}
		}
	}
	if n := users.n(); n != 2 {
		t.Fatalf("%d Admin API calls for 60 validates of 2 users, want 2", n)
	}
	clock.Advance(5 * time.Minute)
	e.do(laptop, "GET", "/v1/sessions/current", "")
	e.do(phone, "GET", "/v1/sessions/current", "")
	if n := users.n(); n != 3 {
		t.Fatalf("%d calls after the interval, want 3 (alice asked again once)", n)
	}
	m := string(e.do(laptop, "GET", "/metrics", "").body)
	if !strings.Contains(m, `sessiond_user_rechecks_total{result="ok"} 3`) {
		t.Fatalf("metrics do not count the lookups")
	}
}

// Decided: fail closed. When Firebase cannot answer, a validate that
// needs a check is 503 (the session is kept and works again once
// Firebase answers); failures are remembered for 5 s so an outage costs
// one call per user per 5 s, not one per request.
func TestRecheckFailsClosedWhenFirebaseIsDown(t *testing.T) {
	e, users, clock := recheckEnv(t)
	c := e.browser()
	e.login(c, "alice")
	clock.Advance(6 * time.Minute)
	users.mu.Lock()
	users.down = errors.New("identitytoolkit: connection refused")
	users.mu.Unlock()
	for i := 0; i < 10; i++ {
		e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusServiceUnavailable, "auth_unavailable")
	}
	if n := users.n(); n != 1 {
		t.Fatalf("%d Admin API calls during the outage, want 1 (failure held 5 s)", n)
	}
	if n := strings.Count(e.logs.String(), "cannot check the session's user"); n != 1 {
		t.Fatalf("%d log lines for 10 failures in a second, want 1", n)
	}
	// A session created within the interval was checked at its creation:
	// the outage does not touch it.
	young := e.browser()
	users.mu.Lock()
	users.down = nil
	users.mu.Unlock()
	e.login(young, "alice")
	users.mu.Lock()
	users.down = errors.New("identitytoolkit: connection refused")
	users.mu.Unlock()
	if r := e.do(young, "GET", "/v1/sessions/current", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("a session younger than the interval during the outage: %d %s, want 200", r.StatusCode, r.body)
	}
	users.mu.Lock()
	users.down = nil
	users.mu.Unlock()
	clock.Advance(recheckFailHold)
	if r := e.do(c, "GET", "/v1/sessions/current", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("after Firebase is back: %d %s, want 200 (the session was kept)", r.StatusCode, r.body)
	}
}

// --recheck-user needs the Admin API, and makes create check revocation.
func TestRecheckConfig(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := New(Config{Store: e.store, Verifier: e.api.verify, RecheckUser: time.Minute}); err == nil || !strings.Contains(err.Error(), "Users") {
		t.Fatalf("RecheckUser without Users: %v", err)
	}
	spy := &spyVerifier{}
	e2 := newEnv(t, envOptions{
		cfg:      func(c *Config) { c.Users = &fakeUsers{}; c.RecheckUser = time.Minute },
		verifier: func(v auth.Verifier) auth.Verifier { spy.Verifier = v; return spy },
	})
	e2.login(e2.browser(), "alice")
	if !spy.sawCheckRevoked {
		t.Fatal("create did not check revocation under RecheckUser")
	}
	if h := e2.do(e2.browser(), "GET", "/healthz", "").json(t); h["recheck_user"] != "1m0s" {
		t.Fatalf("healthz recheck_user = %v", h["recheck_user"])
	}
}
