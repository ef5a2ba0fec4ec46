package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/session"
)

// auditLines returns the audit events in the env's JSON logs, in order.
func auditLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["audit"] == "session" {
			out = append(out, m)
		}
	}
	return out
}

// handleOf returns the listed handle of the caller's current session
// (created with User-Agent: phone; the test enforces the binding).
func handleOf(t *testing.T, e *testEnv, c *http.Client) string {
	t.Helper()
	var got struct {
		Sessions []session.Info `json:"sessions"`
	}
	if err := json.Unmarshal(e.do(c, "GET", "/v1/sessions", "", "User-Agent: phone").body, &got); err != nil {
		t.Fatal(err)
	}
	for _, s := range got.Sessions {
		if s.Current {
			return s.Handle
		}
	}
	t.Fatalf("no current session in %+v", got)
	return ""
}

func TestAuditEventPerSessionLifeChange(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.BindUserAgent = BindEnforce }})
	phone, laptop, stolen := e.browser(), e.browser(), e.browser()
	e.login(phone, "alice", "User-Agent: phone")
	hPhone := handleOf(t, e, phone)
	e.login(laptop, "alice", "User-Agent: phone")
	hLaptop := handleOf(t, e, laptop)
	e.login(stolen, "bob", "User-Agent: phone")
	hStolen := handleOf(t, e, stolen)

	if r := e.do(stolen, "GET", "/v1/sessions/current", "", "User-Agent: curl"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("UA mismatch under enforce: %d", r.StatusCode)
	}
	if r := e.do(laptop, "DELETE", "/v1/sessions/current", "", "User-Agent: phone"); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	// A second logout of the same cookie destroys nothing: no event.
	e.do(e.ts.Client(), "DELETE", "/v1/sessions/current", "", "Cookie: __Host-sid="+e.sessionCookie(laptop))
	if r := e.do(phone, "DELETE", "/v1/sessions", "", "User-Agent: phone"); r.StatusCode != http.StatusOK {
		t.Fatalf("logout everywhere: %d %s", r.StatusCode, r.body)
	}

	type ev struct{ event, reason, handle, user string }
	want := []ev{
		{"created", "login", hPhone, "alice"},
		{"created", "login", hLaptop, "alice"},
		{"created", "login", hStolen, "bob"},
		{"revoked", "user_agent_mismatch", hStolen, "bob"},
		{"destroyed", "logout", hLaptop, ""},
		{"destroyed", "logout_everywhere", hPhone, "alice"},
	}
	got := auditLines(t, e.logs.String())
	if len(got) != len(want) {
		t.Fatalf("%d audit events, want %d:\n%s", len(got), len(want), e.logs.String())
	}
	for i, w := range want {
		m := got[i]
		user, _ := m["user_id"].(string)
		if m["event"] != w.event || m["reason"] != w.reason || m["handle_prefix"] != w.handle[:HandlePrefixLen] || user != w.user {
			t.Errorf("event %d = %v, want %+v (handle prefix %s)", i, m, w, w.handle[:HandlePrefixLen])
		}
		if m["msg"] != "session "+w.event || m["level"] != "INFO" {
			t.Errorf("event %d: msg %v level %v", i, m["msg"], m["level"])
		}
	}
	if got[5]["count"] != float64(1) {
		t.Errorf("logout everywhere count = %v, want 1 (the laptop was already out)", got[5]["count"])
	}
}

// Issue 6's ways to end a session are audited too: a login that rotates
// the cookie's session, a per-device logout, and --recheck-user ending a
// disabled user's session.
func TestAuditRotationDeviceLogoutAndRecheck(t *testing.T) {
	e, users, clock := recheckEnv(t)
	phone, laptop := e.browser(), e.browser()
	e.login(phone, "alice")
	oldPhone := handleOf(t, e, phone)
	e.login(phone, "alice") // a page that posts a fresh token on every load
	newPhone := handleOf(t, e, phone)
	e.login(laptop, "alice")
	laptopHandle := handleOf(t, e, laptop)
	if r := e.do(phone, "DELETE", "/v1/sessions/"+laptopHandle, "", "User-Agent: phone"); r.StatusCode != http.StatusNoContent {
		t.Fatalf("per-device logout: %d %s", r.StatusCode, r.body)
	}
	users.set("alice", auth.UserState{Disabled: true})
	clock.Advance(6 * time.Minute)
	e.do(phone, "GET", "/v1/sessions/current", "", "User-Agent: phone").wantError(t, http.StatusUnauthorized, "user_disabled")

	type ev struct{ event, reason, handle, user string }
	want := []ev{
		{"created", "login", oldPhone, "alice"},
		{"created", "login", newPhone, "alice"},
		{"rotated", "login", oldPhone, ""},
		{"created", "login", laptopHandle, "alice"},
		{"destroyed", "logout_device", laptopHandle, "alice"},
		{"revoked", "user_disabled", newPhone, "alice"},
	}
	got := auditLines(t, e.logs.String())
	if len(got) != len(want) {
		t.Fatalf("%d audit events, want %d:\n%s", len(got), len(want), e.logs.String())
	}
	for i, w := range want {
		m := got[i]
		user, _ := m["user_id"].(string)
		if m["event"] != w.event || m["reason"] != w.reason || m["handle_prefix"] != w.handle[:HandlePrefixLen] || user != w.user {
			t.Errorf("event %d = %v, want %+v (handle prefix %s)", i, m, w, w.handle[:HandlePrefixLen])
		}
	}
	if got[2]["new_handle_prefix"] != newPhone[:HandlePrefixLen] {
		t.Errorf("rotation event names the new session %v, want %s", got[2]["new_handle_prefix"], newPhone[:HandlePrefixLen])
	}
}

// A login beyond --max-sessions-per-user ends the user's oldest session:
// that is audited too (it was not), as the server ending it, with the
// login that caused it, and counted as destroyed.
func TestAuditSessionEndedByTheCap(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{MaxSessionsPerUser: 2}})
	a, b, c := e.browser(), e.browser(), e.browser()
	e.login(a, "alice", "User-Agent: phone")
	ha := handleOf(t, e, a)
	e.login(b, "alice", "User-Agent: phone")
	hb := handleOf(t, e, b)
	e.login(c, "alice", "User-Agent: phone")
	hc := handleOf(t, e, c)
	if r := e.do(a, "GET", "/v1/sessions/current", "", "User-Agent: phone"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the capped session still answers %d", r.StatusCode)
	}
	type ev struct{ event, reason, handle string }
	want := []ev{{"created", "login", ha}, {"created", "login", hb}, {"created", "login", hc}, {"revoked", "session_cap", ha}}
	got := auditLines(t, e.logs.String())
	if len(got) != len(want) {
		t.Fatalf("%d audit events, want %d:\n%s", len(got), len(want), e.logs.String())
	}
	for i, w := range want {
		if m := got[i]; m["event"] != w.event || m["reason"] != w.reason || m["handle_prefix"] != w.handle[:HandlePrefixLen] || m["user_id"] != "alice" {
			t.Errorf("event %d = %v, want %+v", i, m, w)
		}
	}
	if by := got[3]["by_handle_prefix"]; by != hc[:HandlePrefixLen] {
		t.Errorf("by_handle_prefix = %v, want the login's %s", by, hc[:HandlePrefixLen])
	}
	if body := string(e.do(c, "GET", "/metrics", "").body); !strings.Contains(body, "\nsessiond_sessions_destroyed_total 1\n") {
		t.Errorf("/metrics lacks sessiond_sessions_destroyed_total 1")
	}
}

// lostCapReplyStore reports the cap's deletes as Redis reports them when
// its answer is lost: of unknown outcome (session.Session.CapUncertain),
// as the store does (its own test injects the lost reply).
type lostCapReplyStore struct{ session.API }

func (s lostCapReplyStore) Create(ctx context.Context, ns session.NewSession) (string, *session.Session, error) {
	id, sess, err := s.API.Create(ctx, ns)
	if sess != nil {
		sess.CapUncertain, sess.CapEnded = sess.CapEnded, nil
	}
	return id, sess, err
}

// A session the cap may have ended (its delete got no answer) is still
// an audit line, marked outcome "unknown", and is not counted as
// destroyed.
func TestAuditSessionTheCapMayHaveEnded(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{MaxSessionsPerUser: 1},
		store: func(s session.API) session.API { return lostCapReplyStore{s} }})
	a, b := e.browser(), e.browser()
	e.login(a, "alice", "User-Agent: phone")
	ha := handleOf(t, e, a)
	e.login(b, "alice", "User-Agent: phone")
	hb := handleOf(t, e, b)
	got := auditLines(t, e.logs.String())
	if len(got) != 3 {
		t.Fatalf("%d audit events, want 3:\n%s", len(got), e.logs.String())
	}
	m := got[2]
	if m["event"] != "revoked" || m["reason"] != "session_cap" || m["outcome"] != "unknown" ||
		m["handle_prefix"] != ha[:HandlePrefixLen] || m["by_handle_prefix"] != hb[:HandlePrefixLen] || m["user_id"] != "alice" {
		t.Errorf("event = %v, want revoked/session_cap of %s by %s with outcome unknown", m, ha[:HandlePrefixLen], hb[:HandlePrefixLen])
	}
	if body := string(e.do(b, "GET", "/metrics", "").body); !strings.Contains(body, "\nsessiond_sessions_destroyed_total 0\n") {
		t.Errorf("/metrics: a delete of unknown outcome was counted as destroyed")
	}
}
