package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/session"
)

// Regression (issue 11): /readyz stayed 200 while every create failed
// with OOM. It now fails while Redis is out of memory, and a refused
// create says that no session was created.
func TestReadyzFailsWhileRedisOutOfMemory(t *testing.T) {
	e := newEnv(t, envOptions{redisAddr: testsvc.StartRedis(t)})
	e.api.readyEvery = 0 // read INFO on every probe in this test
	ctx := context.Background()
	if r := e.do(e.browser(), "GET", "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz before: %d %s", r.StatusCode, r.body)
	}
	info, _ := e.rdb.Info(ctx, "memory").Result()
	var used int64
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := e.rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+256<<10, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 4096)
	for i := 0; ; i++ {
		err := e.rdb.Set(ctx, fmt.Sprintf("filler:%d", i), pad, time.Hour).Err()
		if redis.IsOOMError(err) {
			break
		}
		if err != nil || i > 100000 {
			t.Fatalf("filling Redis: %v", err)
		}
	}
	keys := e.rdb.DBSize(ctx).Val()
	r := e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice"))
	r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	if m := r.json(t); m["outcome"] != "not_applied" || !strings.Contains(m["message"].(string), "full") {
		t.Fatalf("create on a full Redis: %s; want outcome not_applied and a message saying it is full", r.body)
	}
	if n := e.rdb.DBSize(ctx).Val(); n != keys {
		t.Fatalf("the refused create changed the key count %d -> %d", keys, n)
	}
	e.do(e.browser(), "GET", "/readyz", "").wantError(t, http.StatusServiceUnavailable, "store_full")
	// Room again: ready once a write has succeeded.
	if err := e.rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	e.login(e.browser(), "alice")
	if r := e.do(e.browser(), "GET", "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz after Redis has room: %d %s", r.StatusCode, r.body)
	}
}

// failingStore makes chosen writes fail with a chosen error.
type failingStore struct {
	session.API
	destroyErr error
}

func (f failingStore) Destroy(ctx context.Context, id string) error {
	if f.destroyErr != nil {
		return f.destroyErr
	}
	return f.API.Destroy(ctx, id)
}

func (f failingStore) DestroyAll(ctx context.Context, uid string) (int, error) {
	if f.destroyErr != nil {
		return 0, f.destroyErr
	}
	return f.API.DestroyAll(ctx, uid)
}

// A logout answered 503 says whether it did not happen or its outcome
// is unknown (it can never happen later: the store fences it), so a
// client knows to retry.
func TestLogout503SaysTheOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w: %w", session.ErrBackend, session.ErrNotApplied), "not_applied"},
		{fmt.Errorf("x: %w: %w", session.ErrBackend, session.ErrOutcomeUnknown), "unknown"},
	} {
		e := newEnv(t, envOptions{store: func(s session.API) session.API { return failingStore{s, tc.err} }})
		c := e.browser()
		e.login(c, "alice")
		for _, method := range []string{"/v1/sessions/current", "/v1/sessions"} {
			r := e.do(c, "DELETE", method, "")
			r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
			if got := r.json(t)["outcome"]; got != tc.want {
				t.Errorf("DELETE %s with %v: outcome %v, want %q (%s)", method, tc.err, got, tc.want, r.body)
			}
		}
	}
}

// validateFailingStore cannot reach Redis to validate.
type validateFailingStore struct{ session.API }

func (f validateFailingStore) Validate(ctx context.Context, id string) (*session.Session, error) {
	return nil, fmt.Errorf("x: %w: %w", session.ErrBackend, session.ErrNotApplied)
}

// TestWriteRefusedAtValidateSaysNotApplied: during an outage, logout
// everywhere answered 503 with no "outcome" (the README promises one on
// every 503 to a write): its validate failed before the write began, so
// nothing changed. A read (GET) has no outcome to report.
func TestWriteRefusedAtValidateSaysNotApplied(t *testing.T) {
	e := newEnv(t, envOptions{store: func(s session.API) session.API { return validateFailingStore{s} }})
	c := e.browser()
	e.login(c, "alice")
	r := e.do(c, "DELETE", "/v1/sessions", "")
	r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	if got := r.json(t)["outcome"]; got != "not_applied" {
		t.Errorf("DELETE /v1/sessions: outcome %v, want not_applied (%s)", got, r.body)
	}
	r = e.do(c, "GET", "/v1/sessions/current", "")
	r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	if got, ok := r.json(t)["outcome"]; ok {
		t.Errorf("GET: outcome %v on a read", got)
	}
}
