package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// Regression (issue 6): the store keeps a user agent's first 512 bytes,
// but validate compared the full header, so in enforce mode the first
// validate with the identical header destroyed a session created by a
// longer user agent (in detect mode every validate logged a mismatch).
func TestUserAgentBindingAtLengths(t *testing.T) {
	for _, n := range []int{511, 512, 513, 2000} {
		e := newEnv(t, envOptions{cfg: func(c *Config) { c.BindUserAgent = BindEnforce }})
		ua := strings.Repeat("u", n-1) + "A"
		c := e.browser()
		e.login(c, "alice", "User-Agent: "+ua)
		for i := 0; i < 3; i++ {
			if r := e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: "+ua); r.StatusCode != http.StatusOK {
				t.Fatalf("%d-byte user agent, validate %d with the same header: %d %s", n, i, r.StatusCode, r.body)
			}
		}
		if strings.Contains(e.logs.String(), "another user agent") {
			t.Fatalf("%d bytes: a mismatch was logged for the same header", n)
		}
		// A different header (within the first 512 bytes) still ends it.
		other := "X" + ua[1:]
		e.do(c, "GET", "/v1/sessions/current", "", "User-Agent: "+other).wantError(t, http.StatusUnauthorized, "user_agent_mismatch")
	}
}
