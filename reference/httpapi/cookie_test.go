package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/reference/session"
)

const goodID = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 43 chars, canonical

func TestParseSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		want         cookieState
	}{
		{"absent", "", cookieAbsent},
		{"other cookies only", "a=b; c=d", cookieAbsent},
		{"prefix of the name is not the name", "__Host-sidx=" + goodID, cookieAbsent},
		{"alone", "__Host-sid=" + goodID, cookieOK},
		{"among others", "a=b; __Host-sid=" + goodID + "; c=d", cookieOK},
		{"quoted", `__Host-sid="` + goodID + `"`, cookieOK},
		{"too short", "__Host-sid=abc", cookieMalformed},
		{"too long", "__Host-sid=" + goodID + "A", cookieMalformed},
		{"bad char", "__Host-sid=" + goodID[:42] + "=", cookieMalformed},
		{"non-canonical last char", "__Host-sid=" + goodID[:42] + "B", cookieMalformed},
		{"empty value", "__Host-sid=", cookieMalformed},
		{"first wins", "__Host-sid=bad; __Host-sid=" + goodID, cookieMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Cookie", tc.header)
			}
			id, st := parseSessionCookie(h, "__Host-sid")
			if st != tc.want {
				t.Fatalf("state = %v, want %v", st, tc.want)
			}
			if st == cookieOK && id != goodID {
				t.Fatalf("id = %q, want %q", id, goodID)
			}
		})
	}
}

func TestParseSessionCookieReadsEveryCookieHeader(t *testing.T) {
	h := http.Header{"Cookie": {"a=b", "__Host-sid=" + goodID}}
	if id, st := parseSessionCookie(h, "__Host-sid"); st != cookieOK || id != goodID {
		t.Fatalf("got %q %v, want the ID from the second Cookie header", id, st)
	}
}

// FuzzParseSessionCookie checks the cookie parser never panics, agrees
// with the store's notion of a well-formed ID, and only returns an ID that
// appears in the header under the cookie's name.
func FuzzParseSessionCookie(f *testing.F) {
	for _, s := range []string{"", "__Host-sid=" + goodID, "a=b; __Host-sid=" + goodID, `__Host-sid="` + goodID + `"`,
		"__Host-sid=x", ";;;", "__Host-sid", "__Host-sid==", " __Host-sid = " + goodID} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, st := parseSessionCookie(http.Header{"Cookie": {header}}, "__Host-sid")
		switch st {
		case cookieOK:
			if !session.ValidID(id) {
				t.Fatalf("accepted %q, which session.ValidID refuses", id)
			}
			if !strings.Contains(header, "__Host-sid="+id) && !strings.Contains(header, `__Host-sid="`+id+`"`) {
				t.Fatalf("returned %q, not present in %q", id, header)
			}
		case cookieAbsent, cookieMalformed:
			if id != "" {
				t.Fatalf("state %v with id %q", st, id)
			}
		default:
			t.Fatalf("unknown state %v", st)
		}
		if st == cookieOK && !session.ValidID(id) {
			t.Fatalf("cookie %q accepted but session.ValidID refuses it", id)
		}
	})
}

// The cookie parser accepts exactly the IDs the store accepts: anything
// else is refused as malformed before any Redis call.
func TestCookieParserAgreesWithStore(t *testing.T) {
	for _, id := range []string{goodID, goodID[:42] + "E", goodID[:42] + "B", goodID[:42] + "_", strings.Repeat("w", 43), "short"} {
		_, st := parseSessionCookie(http.Header{"Cookie": {"__Host-sid=" + id}}, "__Host-sid")
		if (st == cookieOK) != session.ValidID(id) {
			t.Errorf("cookie %q: state %v, session.ValidID = %v", id, st, session.ValidID(id))
		}
	}
}
