package driver_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// fakeSessiond implements the sessiond HTTP contract in memory: enough to
// test the driver's cookie handling without the real server.
type fakeSessiond struct {
	cookieName string
	mu         sync.Mutex
	live       map[string]string // sid -> token
	lastUA     string
	lastBody   string
}

func newFake(cookieName string) *fakeSessiond {
	return &fakeSessiond{cookieName: cookieName, live: map[string]string{}}
}

func (f *fakeSessiond) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastUA = r.UserAgent()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/sessions":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "bad" {
			http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.lastBody = string(b)
		var in struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &in); err != nil || in.Data == nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		sid := base64.RawURLEncoding.EncodeToString(raw)
		f.live[sid] = tok
		http.SetCookie(w, &http.Cookie{Name: "other", Value: "x", Path: "/"})
		w.Header().Add("Set-Cookie", f.cookieName+"="+sid+"; Path=/; Secure; HttpOnly; SameSite=Lax")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	case r.URL.Path == "/v1/sessions/current":
		c, err := r.Cookie(f.cookieName)
		if err != nil || f.live[c.Value] == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodGet:
			_, _ = w.Write([]byte(`{"uid":"u"}`))
		case http.MethodDelete:
			delete(f.live, c.Value)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	default:
		http.NotFound(w, r)
	}
}

func newDriver(t testing.TB, url string, mod func(*driver.HTTPConfig)) *driver.HTTP {
	t.Helper()
	cfg := driver.HTTPConfig{BaseURL: url, UserAgent: "test-agent/1", Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	d, err := driver.NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestHTTPLifecycle(t *testing.T) {
	fake := newFake("__Host-sid")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	d := newDriver(t, srv.URL, nil)
	ctx := context.Background()

	s, r := d.Create(ctx, "tok-1", json.RawMessage(`{"k":"v"}`))
	if r.Class != driver.OK || r.Status != http.StatusCreated {
		t.Fatalf("create: %+v", r)
	}
	if len(s.Credential) != 43 {
		t.Fatalf("credential %q: want the 43-char cookie value", s.Credential)
	}
	if fake.lastBody != `{"data":{"k":"v"}}` {
		t.Errorf("create body %q", fake.lastBody)
	}
	if fake.lastUA != "test-agent/1" {
		t.Errorf("user agent %q", fake.lastUA)
	}
	if r := d.Validate(ctx, s); r.Class != driver.OK || r.Status != 200 {
		t.Fatalf("validate: %+v", r)
	}
	if r := d.Destroy(ctx, s); r.Class != driver.OK || r.Status != 204 {
		t.Fatalf("destroy: %+v", r)
	}
	if r := d.Validate(ctx, s); r.Class != driver.Rejected || r.Status != 401 {
		t.Fatalf("validate after destroy: %+v", r)
	}
}

func TestHTTPCreateWithoutDataSendsEmptyObject(t *testing.T) {
	fake := newFake("__Host-sid")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	d := newDriver(t, srv.URL, nil)
	if _, r := d.Create(context.Background(), "t", nil); r.Class != driver.OK {
		t.Fatalf("create: %+v", r)
	}
	if fake.lastBody != `{"data":{}}` {
		t.Errorf("body %q", fake.lastBody)
	}
}

func TestHTTPLearnsCookieName(t *testing.T) {
	fake := newFake("sid") // not the default name
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// Only one cookie may be ambiguous: the fake also sets "other", so
	// tell the driver nothing and expect it to fail closed (Protocol) ...
	d := newDriver(t, srv.URL, nil)
	if _, r := d.Create(context.Background(), "t", nil); r.Class != driver.Protocol {
		t.Fatalf("two candidate cookies, none named __Host-sid: want protocol, got %+v", r)
	}
	// ... and with a single candidate it learns the name.
	fake2 := &singleCookie{name: "my_session"}
	srv2 := httptest.NewServer(fake2)
	defer srv2.Close()
	d2 := newDriver(t, srv2.URL, nil)
	s, r := d2.Create(context.Background(), "t", nil)
	if r.Class != driver.OK {
		t.Fatalf("create: %+v", r)
	}
	if d2.CookieName() != "my_session" {
		t.Fatalf("cookie name %q", d2.CookieName())
	}
	if r := d2.Validate(context.Background(), s); r.Class != driver.OK {
		t.Fatalf("validate with learned name: %+v (server saw %q)", r, fake2.seen)
	}
}

type singleCookie struct {
	name string
	mu   sync.Mutex
	seen string
}

func (s *singleCookie) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.Header().Add("Set-Cookie", s.name+`="abc"; Path=/`)
		w.WriteHeader(201)
		return
	}
	s.mu.Lock()
	s.seen = r.Header.Get("Cookie")
	s.mu.Unlock()
	if c, err := r.Cookie(s.name); err == nil && c.Value == "abc" {
		w.WriteHeader(200)
		return
	}
	w.WriteHeader(401)
}

func TestHTTPClassification(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	status := func(code int, cookie bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if cookie {
				w.Header().Set("Set-Cookie", "__Host-sid=abc; Path=/")
			}
			w.WriteHeader(code)
		}
	}
	cases := []struct {
		name    string
		handler http.Handler
		want    driver.Class
		status  int
	}{
		{"401 rejected", status(401, false), driver.Rejected, 401},
		{"403 unexpected 4xx", status(403, false), driver.Unexpected4xx, 403},
		{"400 unexpected 4xx", status(400, false), driver.Unexpected4xx, 400},
		{"500 server", status(500, false), driver.Server5xx, 500},
		{"503 server", status(503, false), driver.Server5xx, 503},
		{"302 protocol", status(302, true), driver.Protocol, 302},
		{"201 without cookie is protocol", status(201, false), driver.Protocol, 201},
		{"201 with empty cookie is protocol", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "__Host-sid=; Max-Age=0")
			w.WriteHeader(201)
		}), driver.Protocol, 201},
		{"timeout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Read the body so the server notices the client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-time.After(5 * time.Second):
			case <-stall:
			case <-r.Context().Done():
			}
		}), driver.Timeout, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			d := newDriver(t, srv.URL, func(c *driver.HTTPConfig) { c.Timeout = 200 * time.Millisecond })
			_, r := d.Create(context.Background(), "t", nil)
			if r.Class != tc.want || r.Status != tc.status {
				t.Fatalf("create: got %s/%d (%v), want %s/%d", r.Class, r.Status, r.Err, tc.want, tc.status)
			}
			if r.Err == nil {
				t.Errorf("non-OK result without Err")
			}
			if tc.want != driver.Protocol {
				vr := d.Validate(context.Background(), driver.Session{Credential: "x"})
				if vr.Class != tc.want {
					t.Fatalf("validate: got %s (%v), want %s", vr.Class, vr.Err, tc.want)
				}
			}
		})
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	d := newDriver(t, "http://"+addr, nil)
	if _, r := d.Create(context.Background(), "t", nil); r.Class != driver.Connection {
		t.Fatalf("create: %s (%v), want connection", r.Class, r.Err)
	}
	if r := d.Destroy(context.Background(), driver.Session{Credential: "x"}); r.Class != driver.Connection {
		t.Fatalf("destroy: %s (%v), want connection", r.Class, r.Err)
	}
}

func TestHTTPCallerDeadlineIsTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	d := newDriver(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r := d.Validate(ctx, driver.Session{Credential: "x"}); r.Class != driver.Timeout {
		t.Fatalf("got %s (%v), want timeout", r.Class, r.Err)
	}
}

func TestHTTPKeepAliveReusesConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		w.WriteHeader(401)
		_, _ = w.Write([]byte(strings.Repeat("x", 1000))) // body the driver must drain
	}))
	srv.Start()
	defer srv.Close()
	d := newDriver(t, srv.URL, nil)
	for i := 0; i < 50; i++ {
		d.Validate(context.Background(), driver.Session{Credential: "x"})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("50 sequential requests used %d connections, want 1 (bodies not drained?)", len(conns))
	}
}

func TestNewHTTPRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:80", "ftp://x", "http://"} {
		if _, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: u}); err == nil {
			t.Errorf("BaseURL %q accepted", u)
		} else if !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("BaseURL %q: error %q does not name the field", u, err)
		}
	}
}

// TestHTTPSendsTraceparent: an operation's trace reaches the server as
// a W3C traceparent header, sampled or not as the engine said; without
// a trace, no header.
func TestHTTPSendsTraceparent(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		if r.Method == http.MethodPost {
			http.SetCookie(w, &http.Cookie{Name: driver.DefaultCookieName, Value: "v"})
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	d, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tr := driver.Trace{ID: driver.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}, SpanID: [8]byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, Sampled: true}
	ctx := driver.WithTrace(context.Background(), tr)
	d.Create(ctx, "tok", nil)
	unsampled := tr
	unsampled.Sampled = false
	d.Validate(driver.WithTrace(context.Background(), unsampled), driver.Session{Credential: "v"})
	d.Destroy(context.Background(), driver.Session{Credential: "v"})
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("traceparent headers %q, want %q", seen, want)
	}
}
