package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/session"
)

var setCookieRE = regexp.MustCompile(`^__Host-sid=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; Secure; SameSite=Lax$`)

func TestCreateSetsHardenedCookie(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.login(e.browser(), "alice")
	sc := r.Header.Values("Set-Cookie")
	if len(sc) != 1 || !setCookieRE.MatchString(sc[0]) {
		t.Fatalf("Set-Cookie = %q, want __Host-sid=<43 base64url>; Path=/; HttpOnly; Secure; SameSite=Lax", sc)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
}

func TestCreateBodyNeverContainsSessionID(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	r := e.login(c, "alice")
	id := e.sessionCookie(c)
	if id == "" || strings.Contains(string(r.body), id) {
		t.Fatalf("create body %s contains the session id (or no cookie was set)", r.body)
	}
	m := r.json(t)
	if m["user_id"] != "alice" {
		t.Fatalf("user_id = %v, want alice", m["user_id"])
	}
}

func TestCookieNameAndSameSiteAreConfigurable(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) {
		c.CookieName = "sid"
		c.CookieSameSite = http.SameSiteStrictMode
	}})
	r := e.login(e.browser(), "alice")
	want := regexp.MustCompile(`^sid=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; Secure; SameSite=Strict$`)
	if sc := r.Header.Get("Set-Cookie"); !want.MatchString(sc) {
		t.Fatalf("Set-Cookie = %q, want sid=...; SameSite=Strict", sc)
	}
}

func TestHostPrefixForcesPathAndRefusesDomain(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.CookiePath = "/app" }})
	if sc := e.login(e.browser(), "alice").Header.Get("Set-Cookie"); !strings.Contains(sc, "; Path=/;") {
		t.Fatalf("__Host- cookie Set-Cookie = %q, want Path=/ forced", sc)
	}
	_, err := New(Config{Store: e.store, Verifier: e.api.verify, CookieDomain: "example.com"})
	if err == nil || !strings.Contains(err.Error(), "CookieDomain") {
		t.Fatalf("New with __Host- and a Domain: err = %v, want an error naming CookieDomain", err)
	}
	_, err = New(Config{Store: e.store, Verifier: e.api.verify, CookieInsecure: true})
	if err == nil || !strings.Contains(err.Error(), "CookieInsecure") {
		t.Fatalf("New with __Host- and CookieInsecure: err = %v, want an error naming CookieInsecure", err)
	}
}

func TestCreateValidateDestroyValidate(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice", "Content-Type: application/json")

	r := e.do(c, "GET", "/v1/sessions/current", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("validate: status %d, body %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	for _, k := range []string{"created_at", "last_seen", "expires_at"} {
		s, _ := m[k].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Fatalf("%s = %q is not RFC 3339: %v", k, s, err)
		}
	}
	if m["user_id"] != "alice" {
		t.Fatalf("user_id = %v, want alice", m["user_id"])
	}
	if _, ok := m["data"].(map[string]any); !ok {
		t.Fatalf("data = %v, want an object", m["data"])
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("validate Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}

	d := e.do(c, "DELETE", "/v1/sessions/current", "")
	if d.StatusCode != http.StatusNoContent {
		t.Fatalf("destroy: status %d, body %s", d.StatusCode, d.body)
	}
	want := "__Host-sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
	if sc := d.Header.Get("Set-Cookie"); sc != want {
		t.Fatalf("destroy Set-Cookie = %q, want %q", sc, want)
	}
	if got := e.sessionCookie(c); got != "" {
		t.Fatalf("the jar still holds the cookie after logout")
	}
	// Replay the old cookie by hand: the session must be gone server side.
	e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusUnauthorized, "no_session")
}

func TestDestroyedSessionCookieReplayIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice")
	id := e.sessionCookie(c)
	e.do(c, "DELETE", "/v1/sessions/current", "")
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+id)
	r.wantError(t, http.StatusUnauthorized, "unknown_session")
}

func TestCreateStoresData(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	r := e.do(c, "POST", "/v1/sessions", `{"data":{"theme":"dark","n":3}}`, "Authorization: Bearer "+e.token("alice"))
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	v := e.do(c, "GET", "/v1/sessions/current", "").json(t)
	data, _ := v["data"].(map[string]any)
	if data["theme"] != "dark" || data["n"] != float64(3) {
		t.Fatalf("data = %v, want theme=dark n=3", v["data"])
	}
}

func TestDestroyWithoutCookieIs204(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.browser(), "DELETE", "/v1/sessions/current", "")
	if r.StatusCode != http.StatusNoContent || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("status %d Set-Cookie %q, want 204 with an expiring cookie", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
}

func TestDestroyUnknownCookieIs204(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.ts.Client(), "DELETE", "/v1/sessions/current", "", "Cookie: __Host-sid="+strings.Repeat("A", 43))
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", r.StatusCode)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t, envOptions{})
	laptop, phone, other := e.browser(), e.browser(), e.browser()
	e.login(laptop, "alice")
	e.login(phone, "alice")
	e.login(other, "bob")

	r := e.do(laptop, "DELETE", "/v1/sessions", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("logout everywhere: %d %s", r.StatusCode, r.body)
	}
	if n := r.json(t)["destroyed"]; n != float64(2) {
		t.Fatalf("destroyed = %v, want 2", n)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout everywhere did not expire the cookie: %q", r.Header.Get("Set-Cookie"))
	}
	e.do(phone, "GET", "/v1/sessions/current", "").wantError(t, http.StatusUnauthorized, "unknown_session")
	if s := e.do(other, "GET", "/v1/sessions/current", "").StatusCode; s != http.StatusOK {
		t.Fatalf("another user's session: status %d, want 200 (untouched)", s)
	}
}

func TestListSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	laptop, phone := e.browser(), e.browser()
	e.login(laptop, "alice", "User-Agent: laptop")
	e.login(phone, "alice", "User-Agent: phone")
	e.login(e.browser(), "bob")

	r := e.do(laptop, "GET", "/v1/sessions", "", "User-Agent: laptop")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	var got struct {
		Sessions []session.Info `json:"sessions"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 2 {
		t.Fatalf("listed %d sessions, want alice's 2: %s", len(got.Sessions), r.body)
	}
	current := 0
	for _, s := range got.Sessions {
		if s.Current {
			current++
			if s.UserAgent != "laptop" {
				t.Fatalf("current session's user agent = %q, want laptop", s.UserAgent)
			}
		}
		if s.Handle == "" || strings.Contains(r.Header.Get("Set-Cookie"), s.Handle) {
			t.Fatalf("bad handle %q", s.Handle)
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1", current)
	}
	if strings.Contains(string(r.body), e.sessionCookie(laptop)) || strings.Contains(string(r.body), e.sessionCookie(phone)) {
		t.Fatalf("list leaks a session id: %s", r.body)
	}
}

func TestCreateWithoutTokenIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", "").wantError(t, http.StatusUnauthorized, "missing_token")
}

func TestCreateWithBadTokenIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer not.a.jwt").wantError(t, http.StatusUnauthorized, "invalid_token")
}

func TestCreateWithExpiredTokenIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now()
	tok := e.token("alice", authtest.WithTimes(now.Add(-3*time.Hour), now.Add(-2*time.Hour)))
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+tok).wantError(t, http.StatusUnauthorized, "invalid_token")
}

func TestCreateWithStaleAuthTimeIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token("alice", authtest.WithClaim("auth_time", time.Now().Add(-10*time.Minute).Unix()))
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+tok).wantError(t, http.StatusUnauthorized, "stale_auth")
}

func TestRecentAuthWindowIsConfigurable(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.RecentAuth = time.Hour }})
	tok := e.token("alice", authtest.WithClaim("auth_time", time.Now().Add(-10*time.Minute).Unix()))
	if r := e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+tok); r.StatusCode != http.StatusCreated {
		t.Fatalf("auth_time 10m ago with a 1h window: %d %s, want 201", r.StatusCode, r.body)
	}
}

func TestCheckRevokedIsPassedToVerifier(t *testing.T) {
	spy := &spyVerifier{}
	e := newEnv(t, envOptions{
		cfg:      func(c *Config) { c.CheckRevoked = true },
		verifier: func(v auth.Verifier) auth.Verifier { spy.Verifier = v; return spy },
	})
	e.login(e.browser(), "alice")
	if !spy.sawCheckRevoked {
		t.Fatal("Verify was not called with checkRevoked=true")
	}
}

func TestRevokedTokenIs401(t *testing.T) {
	e := newEnv(t, envOptions{verifier: func(auth.Verifier) auth.Verifier {
		return errVerifier{fmt.Errorf("revoked: %w", auth.ErrRevoked)}
	}})
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer x").wantError(t, http.StatusUnauthorized, "token_revoked")
}

func TestUnknownCookieIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+strings.Repeat("A", 43))
	r.wantError(t, http.StatusUnauthorized, "unknown_session")
}

// A 43-character cookie whose last character has non-zero padding bits is
// not a canonical encoding: it must be refused as malformed before Redis.
func TestNonCanonicalCookieIsMalformed(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+strings.Repeat("x", 43))
	r.wantError(t, http.StatusUnauthorized, "invalid_session")
}

func TestMalformedCookieIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid=short")
	r.wantError(t, http.StatusUnauthorized, "invalid_session")
}

func TestMissingCookieIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "GET", "/v1/sessions/current", "").wantError(t, http.StatusUnauthorized, "no_session")
}

func TestIdleExpiredSessionIs401(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{IdleTimeout: time.Minute}})
	c := e.browser()
	e.login(c, "alice")
	e.mr.FastForward(2 * time.Minute)
	e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusUnauthorized, "unknown_session")
}

func TestOversizedBodyIs413(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.MaxBodyBytes = 1024 }})
	body := `{"data":{"x":"` + strings.Repeat("a", 2048) + `"}}`
	e.do(e.browser(), "POST", "/v1/sessions", body, "Authorization: Bearer "+e.token("alice")).
		wantError(t, http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestOversizedDataIs413(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{MaxDataBytes: 64}})
	body := `{"data":{"x":"` + strings.Repeat("a", 200) + `"}}`
	e.do(e.browser(), "POST", "/v1/sessions", body, "Authorization: Bearer "+e.token("alice")).
		wantError(t, http.StatusRequestEntityTooLarge, "data_too_large")
}

func TestBadJSONBodyIs400(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", `{"data":`, "Authorization: Bearer "+e.token("alice")).
		wantError(t, http.StatusBadRequest, "bad_json")
}

func TestUnknownBodyFieldIs400(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", `{"dta":{}}`, "Authorization: Bearer "+e.token("alice")).
		wantError(t, http.StatusBadRequest, "bad_json")
}

func TestNonObjectDataIs400(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", `{"data":[1,2]}`, "Authorization: Bearer "+e.token("alice")).
		wantError(t, http.StatusBadRequest, "invalid_data")
}

func TestRedisDownIs503NotValid(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice")
	testsvc.StopMiniredis(e.mr)
	e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	e.do(c, "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice")).wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	e.do(c, "DELETE", "/v1/sessions/current", "").wantError(t, http.StatusServiceUnavailable, "store_unavailable")
}

// blackhole accepts TCP connections and never answers: a hung Redis.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	t.Cleanup(func() { close(done); ln.Close() })
	return ln.Addr().String()
}

func TestSlowRedisIs503WithinDeadline(t *testing.T) {
	e := newEnv(t, envOptions{redisAddr: blackhole(t), cfg: func(c *Config) { c.RequestTimeout = 200 * time.Millisecond }})
	start := time.Now()
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+strings.Repeat("A", 43))
	elapsed := time.Since(start)
	r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	// go-redis's own read timeout is 3 s: answering well before it proves
	// the request deadline, not the client default, bounded the call.
	if elapsed > 2*time.Second {
		t.Fatalf("503 took %s; the 200ms request deadline was not applied", elapsed)
	}
}

func TestVerifierUndecidedIs503(t *testing.T) {
	e := newEnv(t, envOptions{verifier: func(auth.Verifier) auth.Verifier {
		return errVerifier{errors.New("fetching Google public keys: connection refused")}
	}})
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer x").wantError(t, http.StatusServiceUnavailable, "auth_unavailable")
}

func TestPanicIsRecoveredAs500(t *testing.T) {
	e := newEnv(t, envOptions{store: func(s session.API) session.API { return panicStore{s} }})
	r := e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "Cookie: __Host-sid="+strings.Repeat("A", 43))
	r.wantError(t, http.StatusInternalServerError, "internal")
	if !strings.Contains(e.logs.String(), "panic serving request") {
		t.Fatalf("panic not logged: %s", e.logs.String())
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice"), "Sec-Fetch-Site: cross-site").
		wantError(t, http.StatusForbidden, "cross_origin")
}

func TestForeignOriginDeleteIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice")
	e.do(c, "DELETE", "/v1/sessions", "", "Origin: https://evil.example").wantError(t, http.StatusForbidden, "cross_origin")
	if s := e.do(c, "GET", "/v1/sessions/current", "").StatusCode; s != http.StatusOK {
		t.Fatalf("session after refused cross-origin logout: %d, want 200", s)
	}
}

func TestTrustedOriginIsAllowed(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.TrustedOrigins = []string{"https://app.example"} }})
	r := e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice"),
		"Sec-Fetch-Site: cross-site", "Origin: https://app.example")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("trusted origin: %d %s, want 201", r.StatusCode, r.body)
	}
}

func TestUserAgentBindingOff(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.BindUserAgent = BindOff }})
	c := e.browser()
	e.login(c, "alice", "User-Agent: firefox")
	if r := e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: curl"); r.StatusCode != http.StatusOK {
		t.Fatalf("off: %d, want 200", r.StatusCode)
	}
	if strings.Contains(e.logs.String(), "another user agent") {
		t.Fatal("off mode logged a user-agent mismatch")
	}
}

func TestUserAgentBindingDetect(t *testing.T) {
	e := newEnv(t, envOptions{}) // detect is the default
	c := e.browser()
	e.login(c, "alice", "User-Agent: firefox")
	if r := e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: curl"); r.StatusCode != http.StatusOK {
		t.Fatalf("detect: %d, want 200", r.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "another user agent") {
		t.Fatal("detect mode did not log the mismatch")
	}
	m := e.do(c, "GET", "/metrics", "")
	if !strings.Contains(string(m.body), "sessiond_user_agent_mismatch_total 1") {
		t.Fatal("detect mode did not count the mismatch")
	}
}

func TestUserAgentBindingEnforce(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.BindUserAgent = BindEnforce }})
	c := e.browser()
	e.login(c, "alice", "User-Agent: firefox")
	if r := e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: firefox"); r.StatusCode != http.StatusOK {
		t.Fatalf("same UA: %d, want 200", r.StatusCode)
	}
	id := e.sessionCookie(c)
	e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: curl").wantError(t, http.StatusUnauthorized, "user_agent_mismatch")
	// The session is destroyed, even for the original user agent.
	e.do(e.ts.Client(), "GET", "/v1/sessions/current", "", "User-Agent: firefox", "Cookie: __Host-sid="+id).
		wantError(t, http.StatusUnauthorized, "unknown_session")
}

func TestClientIPFromRemoteAddr(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice", "X-Forwarded-For: 203.0.113.9")
	if ip := listedIPs(t, e, c); ip != "127.0.0.1" {
		t.Fatalf("client_ip = %q, want 127.0.0.1 (X-Forwarded-For ignored without TrustProxy)", ip)
	}
}

func TestClientIPFromTrustedProxy(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.TrustProxy = true }})
	c := e.browser()
	e.login(c, "alice", "X-Forwarded-For: 198.51.100.1, 203.0.113.9")
	if ip := listedIPs(t, e, c); ip != "203.0.113.9" {
		t.Fatalf("client_ip = %q, want 203.0.113.9 (right-most X-Forwarded-For)", ip)
	}
}

func listedIPs(t *testing.T, e *testEnv, c *http.Client) string {
	t.Helper()
	var got struct {
		Sessions []session.Info `json:"sessions"`
	}
	if err := json.Unmarshal(e.do(c, "GET", "/v1/sessions", "").body, &got); err != nil || len(got.Sessions) != 1 {
		t.Fatalf("list: %v %+v", err, got)
	}
	return got.Sessions[0].ClientIP
}

func TestHealthzReportsAuthMode(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.Version = "v1.2.3" }})
	testsvc.StopMiniredis(e.mr) // liveness must not depend on Redis
	r := e.do(e.browser(), "GET", "/healthz", "")
	m := r.json(t)
	if r.StatusCode != http.StatusOK || m["status"] != "ok" || m["auth"] != auth.ModeLocal || m["version"] != "v1.2.3" {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.body)
	}
}

func TestReadyzOK(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.do(e.browser(), "GET", "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}
}

func TestReadyzFailsWhenRedisDown(t *testing.T) {
	e := newEnv(t, envOptions{})
	testsvc.StopMiniredis(e.mr)
	e.do(e.browser(), "GET", "/readyz", "").wantError(t, http.StatusServiceUnavailable, "store_unavailable")
}

func TestReadyzFailsAfterBeginShutdown(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.api.BeginShutdown()
	e.do(e.browser(), "GET", "/readyz", "").wantError(t, http.StatusServiceUnavailable, "shutting_down")
}

func TestMetricsExposeNamedSeries(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.browser()
	e.login(c, "alice")
	e.do(c, "GET", "/v1/sessions/current", "")
	e.do(c, "DELETE", "/v1/sessions/current", "")
	e.do(c, "GET", "/v1/sessions/current", "")
	body := string(e.do(c, "GET", "/metrics", "").body)
	for _, want := range []string{
		`sessiond_http_requests_total{code="201",route="POST /v1/sessions"} 1`,
		`sessiond_http_requests_total{code="200",route="GET /v1/sessions/current"} 1`,
		`sessiond_http_request_duration_seconds_bucket{route="GET /v1/sessions/current",le=`,
		`sessiond_sessions_created_total 1`,
		`sessiond_sessions_validated_total 1`,
		`sessiond_sessions_destroyed_total 1`,
		`sessiond_sessions_refused_total{reason="no_session"} 1`,
		`sessiond_session_touch_writes_total`,
		`sessiond_redis_pool_hits_total`,
		`sessiond_redis_pool_misses_total`,
		`sessiond_redis_pool_timeouts_total`,
		`sessiond_redis_pool_total_conns`,
		`sessiond_redis_pool_idle_conns`,
		`sessiond_redis_pool_stale_conns_total`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.browser(), "GET", "/v2/nope", "").wantError(t, http.StatusNotFound, "not_found")
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(e.browser(), "PUT", "/v1/sessions/current", "")
	r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
	if a := r.Header.Get("Allow"); a != "GET, HEAD, DELETE" {
		t.Fatalf("Allow = %q", a)
	}
}

func TestLogsNeverContainSessionIDOrToken(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.AccessLog = true }})
	c := e.browser()
	tok := e.token("alice")
	e.do(c, "POST", "/v1/sessions", "", "Authorization: Bearer "+tok, "User-Agent: firefox")
	id := e.sessionCookie(c)
	e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: curl") // logs a UA mismatch
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("access log missing: %s", logs)
	}
	if id == "" || strings.Contains(logs, id) || strings.Contains(logs, tok) {
		t.Fatalf("logs contain a raw session id or token:\n%s", logs)
	}
}

// spyVerifier records the checkRevoked argument.
type spyVerifier struct {
	auth.Verifier
	sawCheckRevoked bool
}

func (s *spyVerifier) Verify(ctx context.Context, tok string, checkRevoked bool) (*auth.Token, error) {
	s.sawCheckRevoked = s.sawCheckRevoked || checkRevoked
	return s.Verifier.Verify(ctx, tok, checkRevoked)
}

// errVerifier fails every verification with err.
type errVerifier struct{ err error }

func (v errVerifier) Verify(context.Context, string, bool) (*auth.Token, error) { return nil, v.err }
func (v errVerifier) Mode() string                                              { return auth.ModeLocal }

// panicStore panics on Validate, standing in for a server bug.
type panicStore struct{ session.API }

func (panicStore) Validate(context.Context, string) (*session.Session, error) {
	panic("bug")
}

// Regression: detect mode logged every mismatching request, so one client
// with a changed User-Agent under load flooded the logs (seen under wrk).
func TestUserAgentMismatchLogIsRateLimited(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.Now = clock.Now }})
	c := e.browser()
	e.login(c, "alice", "User-Agent: firefox")
	for range 20 {
		e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: curl")
	}
	if n := strings.Count(e.logs.String(), "another user agent"); n != 1 {
		t.Fatalf("%d mismatch log lines for 20 requests within a second, want 1", n)
	}
	if m := string(e.do(c, "GET", "/metrics", "").body); !strings.Contains(m, "sessiond_user_agent_mismatch_total 20") {
		t.Fatal("the metric must still count every mismatch")
	}
}

// Regression: a verified token whose claims no session can hold (here a
// 400-byte email) was answered 503 store_unavailable, blaming our Redis
// for the client's token.
func TestCreateWithUnusableClaimsIs401NotStoreFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token("alice", authtest.WithEmail(strings.Repeat("a", 390)+"@example.test"))
	r := e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+tok)
	r.wantError(t, http.StatusUnauthorized, "invalid_token")
	if !strings.Contains(string(r.body), "Email") {
		t.Errorf("message %s does not name the claim", r.body)
	}
}

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Regression (issue 11): during a Redis outage every failed request logged
// one ERROR line (1,092 lines for 5 s at 200/s). Now one line a second
// carries the count of the lines it stands for.
func TestStoreFailureLogIsRateLimitedWithCount(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	e := newEnv(t, envOptions{cfg: func(c *Config) { c.Now = clock.Now }})
	c := e.browser()
	e.login(c, "alice")
	testsvc.StopMiniredis(e.mr)
	for range 200 {
		e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	}
	if n := strings.Count(e.logs.String(), `"msg":"session store failed`); n != 1 {
		t.Fatalf("%d store-failure lines for 200 failed requests in one second, want 1:\n%s", n, e.logs.String())
	}
	clock.Advance(logEvery)
	e.do(c, "GET", "/v1/sessions/current", "").wantError(t, http.StatusServiceUnavailable, "store_unavailable")
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"session store failed`); n != 2 {
		t.Fatalf("%d store-failure lines after a second, want 2", n)
	}
	if !strings.Contains(logs, `"suppressed":199`) {
		t.Fatalf("the second line does not count the 199 suppressed ones:\n%s", logs)
	}
	m := string(e.do(c, "GET", "/metrics", "").body)
	if !strings.Contains(m, `sessiond_http_requests_total{code="503",route="GET /v1/sessions/current"} 201`) {
		t.Fatalf("the metric must count every 503")
	}
}

// The verifier's failures are limited the same way.
func TestVerifierFailureLogIsRateLimited(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	e := newEnv(t, envOptions{
		cfg:      func(c *Config) { c.Now = clock.Now },
		verifier: func(auth.Verifier) auth.Verifier { return errVerifier{errors.New("key fetch: connection refused")} },
	})
	for range 50 {
		e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer x").wantError(t, http.StatusServiceUnavailable, "auth_unavailable")
	}
	if n := strings.Count(e.logs.String(), `"msg":"token verifier undecided`); n != 1 {
		t.Fatalf("%d verifier lines for 50 requests in one second, want 1", n)
	}
}

// Regression (issue 11): invalid UTF-8 inside a "data" string was stored
// and echoed raw. RFC 8259 requires UTF-8: the create is refused with 400
// naming the byte, and nothing is stored.
func TestInvalidUTF8InDataIs400(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, body := range []string{
		"{\"data\":{\"name\":\"caf\xe9\"}}",        // Latin-1 é
		"{\"data\":{\"k\":\"\xed\xa0\x80\"}}",      // UTF-8-encoded surrogate
		"{\"data\":{\"k\":\"ok\"},\"x\xff\":1}",    // outside data too
		"{\"data\":{\"\xc3\":\"truncated rune\"}}", // cut sequence in a key
	} {
		r := e.do(e.browser(), "POST", "/v1/sessions", body, "Authorization: Bearer "+e.token("alice"), "Content-Type: application/json")
		r.wantError(t, http.StatusBadRequest, "invalid_utf8")
		if !strings.Contains(string(r.body), "byte ") {
			t.Errorf("message does not locate the bad byte: %s", r.body)
		}
	}
	if n := len(e.mr.Keys()); n != 0 {
		t.Fatalf("refused creates left %d keys: %v", n, e.mr.Keys())
	}
	// Valid non-ASCII text is fine and round-trips.
	c := e.browser()
	r := e.do(c, "POST", "/v1/sessions", `{"data":{"name":"café ☕"}}`, "Authorization: Bearer "+e.token("alice"), "Content-Type: application/json")
	if r.StatusCode != http.StatusCreated || !strings.Contains(string(r.body), `"name":"café ☕"`) {
		t.Fatalf("UTF-8 data: %d %s", r.StatusCode, r.body)
	}
}

// rawExchange sends raw bytes on a fresh TLS connection to the test
// server and returns everything the server wrote until it closed the
// connection (or the deadline passed: then closed is false).
func (e *testEnv) rawExchange(t *testing.T, raw string) (reply string, closed bool) {
	t.Helper()
	conn, err := tls.Dial("tcp", e.ts.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return string(out), false
			}
			return string(out), true
		}
	}
}

// Regression (issue 11): a request with both Content-Length and
// Transfer-Encoding was served (Go drops Content-Length) and the
// connection kept open for the next request: the request smuggling
// shape. RFC 9112 §6.1: answer and close; like nginx, answer 400.
func TestContentLengthWithTransferEncodingIs400AndCloses(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.token("alice")
	smuggled := "GET /v1/sessions/current HTTP/1.1\r\nHost: x\r\n\r\n"
	for name, head := range map[string]string{
		"both":         "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		"chunked only": "Transfer-Encoding: chunked\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			raw := "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n" +
				"Content-Type: application/json\r\n" + head + "\r\n" + "0\r\n\r\n" + smuggled
			reply, closed := e.rawExchange(t, raw)
			if !strings.HasPrefix(reply, "HTTP/1.1 400 ") || !strings.Contains(reply, `"error":"chunked_body_refused"`) {
				t.Fatalf("reply %q, want 400 chunked_body_refused", reply)
			}
			if !closed {
				t.Fatal("the connection stayed open after the refused request")
			}
			if n := strings.Count(reply, "HTTP/1.1 "); n != 1 {
				t.Fatalf("%d responses on the connection; the request behind the refused one was served:\n%s", n, reply)
			}
		})
	}
	if n := len(e.mr.Keys()); n != 0 {
		t.Fatalf("refused creates wrote %d keys", n)
	}
	// Normal requests keep the connection: both of these are answered.
	reply, _ := e.rawExchange(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if n := strings.Count(reply, "HTTP/1.1 200 "); n != 2 {
		t.Fatalf("two pipelined plain requests got %d answers: %q", n, reply)
	}
}

// Regression (issue 11): create accepted a body of any Content-Type.
// With a body it must be application/json (charset, if any, utf-8).
func TestCreateBodyNeedsJSONContentType(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `{"data":{"theme":"dark"}}`
	for _, ct := range []string{"Content-Type:", "Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded",
		"Content-Type: multipart/form-data; boundary=x", "Content-Type: application/json; charset=latin1", "Content-Type: application/jsonx"} {
		r := e.do(e.browser(), "POST", "/v1/sessions", body, "Authorization: Bearer "+e.token("alice"), ct)
		r.wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		if !strings.Contains(string(r.body), "application/json") {
			t.Errorf("%s: message does not name the fix: %s", ct, r.body)
		}
	}
	if n := len(e.mr.Keys()); n != 0 {
		t.Fatalf("refused creates wrote %d keys", n)
	}
	for _, ct := range []string{"Content-Type: application/json", "Content-Type: Application/JSON; charset=UTF-8"} {
		if r := e.do(e.browser(), "POST", "/v1/sessions", body, "Authorization: Bearer "+e.token("alice"), ct); r.StatusCode != http.StatusCreated {
			t.Errorf("%s: %d %s, want 201", ct, r.StatusCode, r.body)
		}
	}
	// Without a body no Content-Type is needed.
	if r := e.do(e.browser(), "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice")); r.StatusCode != http.StatusCreated {
		t.Errorf("no body: %d %s, want 201", r.StatusCode, r.body)
	}
}

// --omit-email keeps the token's email out of the session: not in Redis,
// answered as "" (as for a user without one); without it the email is
// kept and answered.
func TestOmitEmail(t *testing.T) {
	const email = "alice.omit@example.test"
	for _, omit := range []bool{false, true} {
		e := newEnv(t, envOptions{cfg: func(c *Config) { c.OmitEmail = omit }})
		c := e.browser()
		created := e.do(c, "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice", authtest.WithEmail(email)))
		if created.StatusCode != http.StatusCreated {
			t.Fatalf("omit %v: create %d %s", omit, created.StatusCode, created.body)
		}
		current := e.do(c, "GET", "/v1/sessions/current", "")
		want := email
		if omit {
			want = ""
		}
		for name, r := range map[string]response{"create": created, "current": current} {
			if got := r.json(t)["email"]; got != want {
				t.Errorf("omit %v: %s answers email %q, want %q", omit, name, got, want)
			}
		}
		if h := e.do(c, "GET", "/healthz", "").json(t); h["omit_email"] != omit {
			t.Errorf("omit %v: /healthz omit_email = %v", omit, h["omit_email"])
		}
		stored := false
		for _, k := range e.mr.Keys() {
			if v, err := e.mr.Get(k); err == nil && strings.Contains(v, email) {
				stored = true
			}
		}
		if stored == omit {
			t.Errorf("omit %v: the email is in Redis: %v", omit, stored)
		}
	}
}
