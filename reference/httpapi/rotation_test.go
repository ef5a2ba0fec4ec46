package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/reference/session"
)

func listOf(t *testing.T, e *testEnv, c *http.Client) []session.Info {
	t.Helper()
	r := e.do(c, "GET", "/v1/sessions", "")
	var got struct {
		Sessions []session.Info `json:"sessions"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	return got.Sessions
}

// Issue 6: a new login did not retire the session it replaced: a page
// posting a fresh ID token on every load left one session per load, and
// after 10 reloads the per-user cap logged the user's phone out.
func TestLoginWithSessionCookieRotates(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{MaxSessionsPerUser: 3}})
	phone, laptop := e.browser(), e.browser()
	e.login(phone, "alice", "User-Agent: phone")
	r := e.login(laptop, "alice", "User-Agent: laptop")
	if r.json(t)["rotated"] != false {
		t.Fatalf("first login: %s, want rotated false", r.body)
	}
	first := e.sessionCookie(laptop)
	for i := 0; i < 10; i++ {
		r := e.login(laptop, "alice", "User-Agent: laptop")
		if r.json(t)["rotated"] != true {
			t.Fatalf("reload %d: %s, want rotated true", i, r.body)
		}
	}
	if got := listOf(t, e, laptop); len(got) != 2 {
		t.Fatalf("after 10 reloads: %d sessions, want 2 (phone, laptop)", len(got))
	}
	if s := e.do(phone, "GET", "/v1/sessions/current", "", "User-Agent: phone").StatusCode; s != http.StatusOK {
		t.Fatalf("the phone's session: %d, want 200", s)
	}
	e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+first).wantError(t, http.StatusUnauthorized, "unknown_session")
}

// The replaced session goes whoever owned it (a shared computer, another
// account); an unknown, expired or malformed cookie is no obstacle.
func TestRotationEdgeCases(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice")
	alice := e.sessionCookie(c)
	if r := e.login(c, "bob"); r.json(t)["rotated"] != true {
		t.Fatalf("bob's login in alice's browser: %s, want rotated", r.body)
	}
	e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+alice).wantError(t, http.StatusUnauthorized, "unknown_session")
	for _, ck := range []string{"__Host-sid=" + alice, "__Host-sid=" + strings.Repeat("A", 43), "__Host-sid=garbage"} {
		r := e.do(e.ts.Client(), "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("bob"), "Cookie: "+ck)
		if r.StatusCode != http.StatusCreated || r.json(t)["rotated"] != false {
			t.Fatalf("login with cookie %q: %d %s, want 201 rotated false", ck, r.StatusCode, r.body)
		}
	}
}

// Issue 6: nothing could end one specific other session ("sign out that
// device"), although the list returns session ids.
func TestDeleteOneSessionByID(t *testing.T) {
	e := newEnv(t, envOptions{})
	laptop, phone, mallory := e.browser(), e.browser(), e.browser()
	e.login(laptop, "alice", "User-Agent: laptop")
	e.login(phone, "alice", "User-Agent: phone")
	e.login(mallory, "mallory")
	var phoneID, laptopID string
	for _, in := range listOf(t, e, laptop) {
		if in.Current {
			laptopID = in.Handle
		} else {
			phoneID = in.Handle
		}
	}
	malloryID := listOf(t, e, mallory)[0].Handle

	// Someone else's id, an unknown one and junk are all just 404.
	e.do(mallory, "DELETE", "/v1/sessions/"+phoneID, "").wantError(t, http.StatusNotFound, "unknown_session")
	e.do(laptop, "DELETE", "/v1/sessions/"+malloryID, "").wantError(t, http.StatusNotFound, "unknown_session")
	e.do(laptop, "DELETE", "/v1/sessions/"+strings.Repeat("A", session.HandleLen), "").wantError(t, http.StatusNotFound, "unknown_session")
	e.do(laptop, "DELETE", "/v1/sessions/x", "").wantError(t, http.StatusNotFound, "unknown_session")
	if s := e.do(phone, "GET", "/v1/sessions/current", "", "User-Agent: phone").StatusCode; s != http.StatusOK {
		t.Fatalf("phone after mallory's attempt: %d", s)
	}
	// Without a session: 401, as every other authenticated route.
	e.do(e.browser(), "DELETE", "/v1/sessions/"+phoneID, "").wantError(t, http.StatusUnauthorized, "no_session")
	e.do(laptop, "GET", "/v1/sessions/"+phoneID, "").wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")

	r := e.do(laptop, "DELETE", "/v1/sessions/"+phoneID, "", "User-Agent: laptop")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("sign out the phone: %d Set-Cookie %q, want 204 and the laptop's cookie kept", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
	e.do(phone, "GET", "/v1/sessions/current", "", "User-Agent: phone").wantError(t, http.StatusUnauthorized, "unknown_session")
	if got := listOf(t, e, laptop); len(got) != 1 || !got[0].Current {
		t.Fatalf("list after signing the phone out: %+v", got)
	}
	r = e.do(laptop, "DELETE", "/v1/sessions/"+laptopID, "", "User-Agent: laptop")
	if r.StatusCode != http.StatusNoContent || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out this device by id: %d Set-Cookie %q, want 204 and an expired cookie", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
	m := string(e.do(laptop, "GET", "/metrics", "").body)
	if !strings.Contains(m, `sessiond_http_requests_total{code="204",route="DELETE /v1/sessions/{id}"} 2`) {
		t.Fatal("the per-device logout route is not labelled in the metrics")
	}
}
