package httpapi

import (
	"net/http"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// TestMainFlowOnRealRedis runs create, validate, list, logout and the
// refused replay against a real redis-server (not miniredis), so the Lua
// scripts and TTL handling are proven on the real thing.
func TestMainFlowOnRealRedis(t *testing.T) {
	e := newEnv(t, envOptions{redisAddr: testsvc.StartRedis(t)})
	c := e.browser()
	e.login(c, "alice")
	if r := e.do(c, "GET", "/v1/sessions/current", ""); r.StatusCode != http.StatusOK || r.json(t)["user_id"] != "alice" {
		t.Fatalf("validate: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(c, "GET", "/v1/sessions", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(c, "GET", "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}
	id := e.sessionCookie(c)
	if r := e.do(c, "DELETE", "/v1/sessions/current", ""); r.StatusCode != http.StatusNoContent {
		t.Fatalf("destroy: %d %s", r.StatusCode, r.body)
	}
	e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+id).wantError(t, http.StatusUnauthorized, "unknown_session")
}
