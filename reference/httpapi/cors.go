package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// corsMaxAge is how long (seconds) a browser may cache a preflight:
// Chromium's cap. Dropping an origin still takes effect at once, since
// every actual response is checked again.
const corsMaxAge = "7200"

// corsOrigins checks Config.CORSOrigins and PublicOrigin and returns the
// origins as a set. A cookie with SameSite Lax or Strict is not sent with
// a request from another site's page, so CORS for such an origin would
// only ever see "no session": refused with the fix.
func corsOrigins(cfg *Config) (map[string]bool, error) {
	if len(cfg.CORSOrigins) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(cfg.CORSOrigins))
	for _, o := range cfg.CORSOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("httpapi: Config.CORSOrigins %q: %w", o, err)
		}
		set[n] = true
	}
	if cfg.CookieSameSite == http.SameSiteNoneMode {
		return set, nil
	}
	ss := "Lax"
	if cfg.CookieSameSite == http.SameSiteStrictMode {
		ss = "Strict"
	}
	if cfg.PublicOrigin == "" {
		return nil, fmt.Errorf("httpapi: Config.CORSOrigins with SameSite=%s needs Config.PublicOrigin (--public-origin, the origin browsers use for this API) to check that every CORS origin is the same site; a page on another site needs --cookie-samesite none", ss)
	}
	pub, err := normalizeOrigin(cfg.PublicOrigin)
	if err != nil {
		return nil, fmt.Errorf("httpapi: Config.PublicOrigin %q: %w", cfg.PublicOrigin, err)
	}
	for o := range set {
		if site(o) != site(pub) {
			return nil, fmt.Errorf("httpapi: CORS origin %s is another site than %s: browsers do not send a SameSite=%s cookie with its requests, so every call would be 401; use --cookie-samesite none (the cookie stays Secure and HttpOnly), or serve the page from the same site", o, pub, ss)
		}
	}
	return set, nil
}

// normalizeOrigin checks scheme://host[:port] (no path, query or
// wildcard) and returns it in the form browsers send in Origin.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("want scheme://host[:port] with scheme http or https, e.g. https://app.example.com")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("want scheme://host[:port] only, e.g. https://app.example.com (no path, user or query)")
	case strings.Contains(u.Host, "*"):
		return "", errors.New("wildcards are not allowed: name each origin (credentials need an exact origin)")
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host, nil
}

// site is the schemeful site of a normalised origin: scheme plus the
// registrable domain (eTLD+1), or the host itself for an IP address,
// localhost or a name the public suffix list cannot place.
func site(origin string) string {
	u, _ := url.Parse(origin)
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			host = d
		}
	}
	return u.Scheme + "://" + host
}

// applyCORS adds the CORS headers for a trusted Origin and answers a
// preflight (then it returns true). Requests from other origins get no
// CORS headers: the browser keeps their responses from the page, and the
// cross-origin protection refuses their state-changing requests.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	if !isAPIPath(r.URL.Path) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" || !s.cors[origin] {
		if preflight {
			s.writeError(w, http.StatusForbidden, "cross_origin", crossOriginHint)
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if !preflight {
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", allowedMethods(r.URL.Path))
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
	return true
}

// allowedMethods lists the methods of an API path.
func allowedMethods(path string) string {
	switch path {
	case "/v1/sessions":
		return "GET, HEAD, POST, DELETE"
	case "/v1/sessions/current":
		return "GET, HEAD, DELETE"
	}
	return "DELETE"
}
