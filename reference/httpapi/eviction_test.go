package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/session"
)

// Issue 6: nothing checked the eviction policy, and under volatile-lru
// or allkeys-lru logout everywhere silently missed sessions. Readiness
// fails on an evicting policy unless AllowEvictingRedis, which /healthz
// and a metric report.
func TestReadinessByEvictionPolicy(t *testing.T) {
	addr := testsvc.StartRedis(t)
	for _, policy := range []string{"noeviction", "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random", "volatile-ttl"} {
		for _, allow := range []bool{false, true} {
			e := newEnv(t, envOptions{redisAddr: addr, cfg: func(c *Config) { c.AllowEvictingRedis = allow }})
			e.api.readyEvery = 0
			if err := e.rdb.ConfigSet(context.Background(), "maxmemory-policy", policy).Err(); err != nil {
				t.Fatal(err)
			}
			r := e.do(e.browser(), "GET", "/readyz", "")
			wantReady := policy == "noeviction" || allow
			if wantReady && r.StatusCode != http.StatusOK {
				t.Errorf("%s allow=%v: readyz %d %s, want 200", policy, allow, r.StatusCode, r.body)
			}
			if !wantReady {
				r.wantError(t, http.StatusServiceUnavailable, "store_evicting")
				if !strings.Contains(string(r.body), policy) || !strings.Contains(string(r.body), "noeviction") {
					t.Errorf("%s: message does not name the policy and the fix: %s", policy, r.body)
				}
			}
			h := e.do(e.browser(), "GET", "/healthz", "").json(t)
			if h["allow_evicting_redis"] != allow {
				t.Errorf("healthz allow_evicting_redis = %v, want %v", h["allow_evicting_redis"], allow)
			}
			m := string(e.do(e.browser(), "GET", "/metrics", "").body)
			if want := fmt.Sprintf("sessiond_allow_evicting_redis %d", map[bool]int{false: 0, true: 1}[allow]); !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	}
}

// unconfirmedStore fails logout everywhere the way the store does after
// Redis evicted keys.
type unconfirmedStore struct{ session.API }

func (u unconfirmedStore) DestroyAll(ctx context.Context, uid string) (int, error) {
	n, _ := u.API.DestroyAll(ctx, uid)
	return n, session.ErrLogoutUnconfirmed
}

// Logout everywhere never reports success it cannot stand behind.
func TestLogoutEverywhereUnconfirmedIs503(t *testing.T) {
	e := newEnv(t, envOptions{store: func(s session.API) session.API { return unconfirmedStore{s} }})
	c := e.browser()
	e.login(c, "alice")
	e.login(e.browser(), "alice")
	r := e.do(c, "DELETE", "/v1/sessions", "")
	r.wantError(t, http.StatusServiceUnavailable, "logout_unconfirmed")
	m := r.json(t)
	if m["outcome"] != "unknown" || !strings.Contains(m["message"].(string), "2 sessions were ended") || !strings.Contains(m["message"].(string), "noeviction") {
		t.Fatalf("body %s", r.body)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatal("the caller's (ended) cookie is not cleared")
	}
}
