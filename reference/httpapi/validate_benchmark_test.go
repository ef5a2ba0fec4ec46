package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

// benchSession creates a session and returns the env and its Cookie header.
func benchSession(b *testing.B, o envOptions) (*testEnv, string) {
	e := newEnv(b, o)
	c := e.browser()
	e.login(c, "alice", "User-Agent: bench")
	return e, "__Host-sid=" + e.sessionCookie(c)
}

// BenchmarkValidateHandler measures GET /v1/sessions/current through the
// whole handler chain (metrics, CSRF guard, cookie parse, store.Validate
// on miniredis, JSON response), without the network.
func BenchmarkValidateHandler(b *testing.B) {
	benchValidateHandler(b, envOptions{})
}

// BenchmarkValidateHandlerRealRedis is BenchmarkValidateHandler on a real
// redis-server: miniredis runs Lua in a fresh interpreter per call and
// dominates the miniredis numbers.
func BenchmarkValidateHandlerRealRedis(b *testing.B) {
	benchValidateHandler(b, envOptions{redisAddr: testsvc.StartRedis(b)})
}

func benchValidateHandler(b *testing.B, o envOptions) {
	e, cookie := benchSession(b, o)
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

// BenchmarkValidateHTTP measures the same over loopback HTTP/1.1 with
// keep-alive, in parallel, as the load generator drives it.
func BenchmarkValidateHTTP(b *testing.B) {
	e, cookie := benchSession(b, envOptions{})
	ts := httptest.NewServer(e.api)
	b.Cleanup(ts.Close)
	client := ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/sessions/current", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("User-Agent", "bench")
		for pb.Next() {
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_ = drain(res)
			if res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

func drain(res *http.Response) error {
	defer res.Body.Close()
	buf := make([]byte, 512)
	for {
		if _, err := res.Body.Read(buf); err != nil {
			return nil
		}
	}
}
