package httpapi

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionbench/sessionbench/reference/session"
)

// Header values shared by every response. They are never modified (net/http
// only reads header slices), which saves an allocation per header per
// request compared with Header.Set.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	nosniff         = []string{"nosniff"}
)

// bufPool holds response buffers so that the validate path does not
// allocate one per request.
type bufPool struct{ p sync.Pool }

func (b *bufPool) get() *[]byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		*v = (*v)[:0]
		return v
	}
	buf := make([]byte, 0, 512)
	return &buf
}

func (b *bufPool) put(v *[]byte) {
	if cap(*v) <= 64<<10 {
		b.p.Put(v)
	}
}

// appendSession writes the public JSON view of a session:
// {"user_id","email","created_at","last_seen","expires_at","data"}.
func appendSession(b []byte, s *session.Session) []byte {
	return append(appendSessionFields(b, s), "}\n"...)
}

// appendSessionFields is appendSession without the closing brace, for
// answers that add members.
func appendSessionFields(b []byte, s *session.Session) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, s.UserID)
	b = append(b, `,"email":`...)
	b = appendString(b, s.Email)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, s.CreatedAt)
	b = append(b, `,"last_seen":`...)
	b = appendTime(b, s.LastSeen)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, s.ExpiresAt)
	b = append(b, `,"data":`...)
	if len(s.Data) == 0 {
		return append(b, "{}"...)
	}
	return append(b, s.Data...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json
// (including <, >, & and U+2028/U+2029; invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeJSON sends body with status and the no-store headers.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError sends {"error": code, "message": msg} and counts refusals.
func (s *Server) writeError(w http.ResponseWriter, status int, code, msg string) {
	s.writeErrorOutcome(w, status, code, msg, "")
}

// writeErrorOutcome is writeError with an "outcome" member (for a failed
// write: "not_applied" or "unknown") when outcome is not empty.
func (s *Server) writeErrorOutcome(w http.ResponseWriter, status int, code, msg, outcome string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	if status >= 400 && status < 500 && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		s.metrics.refused(code)
	}
	bp := s.bufs.get()
	b := append(*bp, `{"error":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	if outcome != "" {
		b = append(b, `,"outcome":`...)
		b = appendString(b, outcome)
	}
	b = append(b, "}\n"...)
	writeJSON(w, status, b)
	*bp = b
	s.bufs.put(bp)
}
