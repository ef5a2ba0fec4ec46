package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 6: a trusted origin's preflight got 405 and no
// Access-Control-Allow-* headers, so a page on another origin could not
// use the API at all.
func TestCORSPreflightForTrustedOrigin(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) {
		c.CORSOrigins = []string{"https://app.example.com"}
		c.CookieSameSite = http.SameSiteNoneMode
	}})
	for path, methods := range map[string]string{
		"/v1/sessions":                  "GET, HEAD, POST, DELETE",
		"/v1/sessions/current":          "GET, HEAD, DELETE",
		"/v1/sessions/AAAAAAAAAAAAAAAA": "DELETE",
	} {
		r := e.do(e.browser(), "OPTIONS", path, "", "Origin: https://app.example.com",
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type")
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight %s: %d %s", path, r.StatusCode, r.body)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Headers":     "Authorization, Content-Type",
			"Access-Control-Allow-Methods":     methods,
			"Access-Control-Max-Age":           corsMaxAge,
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("preflight %s: %s = %q, want %q", path, k, got, want)
			}
		}
		if v := strings.Join(r.Header.Values("Vary"), ", "); !strings.Contains(v, "Origin") {
			t.Errorf("preflight %s: Vary = %q, want Origin", path, v)
		}
	}
	// The actual cross-site requests: allowed and readable.
	c := e.browser()
	r := e.do(c, "POST", "/v1/sessions", "", "Authorization: Bearer "+e.token("alice"),
		"Origin: https://app.example.com", "Sec-Fetch-Site: cross-site")
	if r.StatusCode != http.StatusCreated || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("create from the trusted origin: %d %v %s", r.StatusCode, r.Header, r.body)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "SameSite=None") {
		t.Fatalf("cross-site cookie: %q, want SameSite=None", r.Header.Get("Set-Cookie"))
	}
	r = e.do(c, "DELETE", "/v1/sessions/current", "", "Origin: https://app.example.com", "Sec-Fetch-Site: cross-site")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("logout from the trusted origin: %d %v", r.StatusCode, r.Header)
	}
}

// Origins not listed get no CORS headers, their preflights are refused,
// and their state-changing requests too, naming the fix.
func TestCORSRefusesOtherOrigins(t *testing.T) {
	e := newEnv(t, envOptions{cfg: func(c *Config) {
		c.CORSOrigins = []string{"https://app.example.com"}
		c.CookieSameSite = http.SameSiteNoneMode
	}})
	r := e.do(e.browser(), "OPTIONS", "/v1/sessions", "", "Origin: https://evil.example", "Access-Control-Request-Method: POST")
	r.wantError(t, http.StatusForbidden, "cross_origin")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a preflight from an untrusted origin got Access-Control-Allow-Origin")
	}
	c := e.browser()
	e.login(c, "alice")
	r = e.do(c, "GET", "/v1/sessions/current", "", "Origin: https://evil.example", "Sec-Fetch-Site: cross-site")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("an untrusted origin's request got CORS headers: %v", r.Header)
	}
	r = e.do(c, "DELETE", "/v1/sessions", "", "Origin: https://evil.example", "Sec-Fetch-Site: cross-site")
	r.wantError(t, http.StatusForbidden, "cross_origin")
	if !strings.Contains(string(r.body), "--cors-origin") || !strings.Contains(string(r.body), "reverse proxy") {
		t.Fatalf("the refusal does not name the fixes: %s", r.body)
	}
	if s := e.do(c, "GET", "/v1/sessions/current", "").StatusCode; s != http.StatusOK {
		t.Fatalf("session after a refused cross-origin logout: %d", s)
	}
	// Without CORS configured a preflight is not answered either.
	e2 := newEnv(t, envOptions{})
	if r := e2.do(e2.browser(), "OPTIONS", "/v1/sessions", "", "Origin: https://app.example.com", "Access-Control-Request-Method: POST"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS headers without Config.CORSOrigins")
	}
}

// SameSite=Lax/Strict cookies are not sent with another site's fetches:
// such a CORS origin is refused at start with the fix; a same-site one
// (another port or subdomain) is fine.
func TestCORSOriginSiteRules(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := Config{Store: e.store, Verifier: e.api.verify}
	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		wantErr string
	}{
		{"cross-site with Lax", func(c *Config) {
			c.CORSOrigins = []string{"https://app.other.com"}
			c.PublicOrigin = "https://api.example.com"
		}, "--cookie-samesite none"},
		{"Lax without the public origin", func(c *Config) { c.CORSOrigins = []string{"https://app.example.com"} }, "PublicOrigin"},
		{"wildcard", func(c *Config) {
			c.CORSOrigins = []string{"https://*.example.com"}
			c.CookieSameSite = http.SameSiteNoneMode
		}, "wildcard"},
		{"path", func(c *Config) {
			c.CORSOrigins = []string{"https://app.example.com/x"}
			c.CookieSameSite = http.SameSiteNoneMode
		}, "scheme://host"},
		{"same site with Lax", func(c *Config) {
			c.CORSOrigins = []string{"https://app.example.com", "https://example.com:8443"}
			c.PublicOrigin = "https://api.example.com"
		}, ""},
		{"localhost ports with Strict", func(c *Config) {
			c.CORSOrigins = []string{"http://localhost:3000"}
			c.PublicOrigin = "http://localhost:8080"
			c.CookieSameSite = http.SameSiteStrictMode
		}, ""},
		{"scheme differs", func(c *Config) {
			c.CORSOrigins = []string{"http://app.example.com"}
			c.PublicOrigin = "https://api.example.com"
		}, "another site"},
		{"cross-site with None", func(c *Config) {
			c.CORSOrigins = []string{"https://app.other.com"}
			c.CookieSameSite = http.SameSiteNoneMode
		}, ""},
	} {
		cfg := base
		tc.cfg(&cfg)
		_, err := New(cfg)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}
