package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sessionbench/sessionbench/reference/session"
)

// cookieState is what parseSessionCookie found.
type cookieState int

const (
	cookieAbsent    cookieState = iota // no cookie with our name
	cookieMalformed                    // present, but not a well-formed ID
	cookieOK                           // a well-formed ID (not yet checked against the store)
)

// parseSessionCookie extracts the session cookie called name from the
// request's Cookie headers without allocating (unlike r.Cookie, which
// parses every cookie). The first cookie with the name wins; its value
// must be exactly 43 base64url characters, optionally in double quotes.
func parseSessionCookie(h http.Header, name string) (string, cookieState) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = trimSpace(part)
			if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
				continue
			}
			v := part[len(name)+1:]
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if !session.ValidID(v) {
				return "", cookieMalformed
			}
			return v, cookieOK
		}
	}
	return "", cookieAbsent
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// cookieAttributes validates the cookie settings, applies the "__Host-"
// rules and returns the attribute suffix of Set-Cookie, e.g.
// "; Path=/; HttpOnly; Secure; SameSite=Lax".
func cookieAttributes(cfg *Config) (string, error) {
	c := http.Cookie{Name: cfg.CookieName, Value: "x"}
	if err := c.Valid(); err != nil {
		return "", fmt.Errorf("httpapi: Config.CookieName %q: %w (use a token like __Host-sid)", cfg.CookieName, err)
	}
	if strings.HasPrefix(cfg.CookieName, "__Host-") {
		if cfg.CookieDomain != "" {
			return "", errors.New("httpapi: Config.CookieDomain must be empty with a __Host- cookie name (browsers reject it); drop the domain or rename the cookie")
		}
		if cfg.CookieInsecure {
			return "", errors.New("httpapi: Config.CookieInsecure is not allowed with a __Host- cookie name (browsers require Secure); rename the cookie for plain-HTTP development")
		}
		cfg.CookiePath = "/"
	}
	if strings.HasPrefix(cfg.CookieName, "__Secure-") && cfg.CookieInsecure {
		return "", errors.New("httpapi: Config.CookieInsecure is not allowed with a __Secure- cookie name")
	}
	var ss string
	switch cfg.CookieSameSite {
	case http.SameSiteLaxMode:
		ss = "Lax"
	case http.SameSiteStrictMode:
		ss = "Strict"
	case http.SameSiteNoneMode:
		if cfg.CookieInsecure {
			return "", errors.New("httpapi: Config.CookieSameSite None requires a Secure cookie; drop CookieInsecure")
		}
		ss = "None"
	default:
		return "", fmt.Errorf("httpapi: Config.CookieSameSite %d is not Lax, Strict or None", cfg.CookieSameSite)
	}
	if strings.ContainsAny(cfg.CookiePath, ";\r\n") || !strings.HasPrefix(cfg.CookiePath, "/") {
		return "", fmt.Errorf("httpapi: Config.CookiePath %q must start with / and contain no ';'", cfg.CookiePath)
	}
	if strings.ContainsAny(cfg.CookieDomain, "; \r\n") {
		return "", fmt.Errorf("httpapi: Config.CookieDomain %q is not a domain name", cfg.CookieDomain)
	}
	var b strings.Builder
	b.WriteString("; Path=")
	b.WriteString(cfg.CookiePath)
	if cfg.CookieDomain != "" {
		b.WriteString("; Domain=")
		b.WriteString(cfg.CookieDomain)
	}
	b.WriteString("; HttpOnly")
	if !cfg.CookieInsecure {
		b.WriteString("; Secure")
	}
	b.WriteString("; SameSite=")
	b.WriteString(ss)
	return b.String(), nil
}

// ParseSameSite turns "lax", "strict" or "none" (any case) into an
// http.SameSite, for flags.
func ParseSameSite(v string) (http.SameSite, error) {
	switch strings.ToLower(v) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("samesite %q is not one of lax, strict, none", v)
}
