package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionbench/sessionbench/reference/session"
)

// instantStore answers Validate from memory, so a benchmark measures the
// HTTP layer alone (routing, checks, cookie, JSON), not Redis.
type instantStore struct {
	session.API
	sess *session.Session
}

func (s instantStore) Validate(context.Context, string) (*session.Session, error) {
	return s.sess, nil
}

// BenchmarkValidateHandlerNoRedis is BenchmarkValidateHandler with the
// store answering from memory: the cost the handler adds per request.
func BenchmarkValidateHandlerNoRedis(b *testing.B) {
	e, cookie := benchSession(b, envOptions{})
	sess, err := e.store.Validate(context.Background(), cookie[len("__Host-sid="):])
	if err != nil {
		b.Fatal(err)
	}
	e.api.store = instantStore{e.store, sess}
	req := httptest.NewRequest("GET", "/v1/sessions/current", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
