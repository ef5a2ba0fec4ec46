package driver

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseSetCookie checks the driver's Set-Cookie parser never panics
// and, whenever net/http finds a cookie with a non-empty value, agrees on
// its name and value (whitespace aside: see below).
func FuzzParseSetCookie(f *testing.F) {
	f.Add("__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax")
	f.Add(`sid="quoted"; Max-Age=0`)
	f.Add("=novalue")
	f.Add("noequals")
	f.Fuzz(func(t *testing.T, line string) {
		name, value, ok := parseSetCookie(line)
		if ok && name == "" {
			t.Fatalf("ok with empty name for %q", line)
		}
		c, err := http.ParseSetCookie(line)
		// RFC 6265 §5.2 trims whitespace around the value, as browsers
		// and this parser do; net/http keeps it, so compare only values
		// without surrounding whitespace.
		if err != nil || c.Value == "" || !ok || c.Value != strings.TrimSpace(c.Value) {
			return
		}
		if c.Name != name || c.Value != value {
			t.Fatalf("%q: driver %q=%q, net/http %q=%q", line, name, value, c.Name, c.Value)
		}
	})
}
