package driver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// rawServer answers each request on a connection with serve, which
// reads the request head (and body) itself and writes raw bytes. It
// counts connections.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int64
	wg    sync.WaitGroup
}

// rawRequest is what the raw server read of one request.
type rawRequest struct {
	line    string
	headers map[string]string // lower-case names
	body    string
}

func startRaw(t *testing.T, serve func(w io.Writer, req rawRequest, n int) (keep bool)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := readRawRequest(br)
					if err != nil {
						return
					}
					if !serve(c, req, n) {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

func readRawRequest(br *bufio.Reader) (rawRequest, error) {
	req := rawRequest{headers: map[string]string{}}
	line, err := br.ReadString('\n')
	if err != nil {
		return req, err
	}
	req.line = strings.TrimRight(line, "\r\n")
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return req, err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		req.headers[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if n := req.headers["content-length"]; n != "" {
		var size int
		for _, d := range n {
			size = size*10 + int(d-'0')
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(br, b); err != nil {
			return req, err
		}
		req.body = string(b)
	}
	return req, nil
}

// TestHTTPRequestShape: the bytes on the wire are what sessiond expects:
// method and path, Host, the constant User-Agent, the Bearer token and a
// JSON body with its Content-Type and length on a create, the cookie on
// validate and destroy, nothing else that matters.
func TestHTTPRequestShape(t *testing.T) {
	var mu sync.Mutex
	var seen []rawRequest
	srv := startRaw(t, func(w io.Writer, req rawRequest, _ int) bool {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		if strings.HasPrefix(req.line, "POST") {
			_, _ = io.WriteString(w, "HTTP/1.1 201 Created\r\nSet-Cookie: __Host-sid=abc; Path=/\r\nContent-Length: 0\r\n\r\n")
		} else {
			_, _ = io.WriteString(w, "HTTP/1.1 204 No Content\r\n\r\n")
		}
		return true
	})
	d := newDriver(t, srv.url()+"/prefix/", nil)
	ctx := context.Background()
	s, r := d.Create(ctx, "tok.en", []byte(`{"a":1}`))
	if r.Class != driver.OK {
		t.Fatalf("create: %+v", r)
	}
	d.Validate(ctx, s)
	d.Destroy(ctx, s)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("server saw %d requests", len(seen))
	}
	c, v, x := seen[0], seen[1], seen[2]
	host := strings.TrimPrefix(srv.url(), "http://")
	if c.line != "POST /prefix/v1/sessions HTTP/1.1" || c.headers["host"] != host || c.headers["user-agent"] != "test-agent/1" ||
		c.headers["authorization"] != "Bearer tok.en" || c.headers["content-type"] != "application/json" ||
		c.body != `{"data":{"a":1}}` || c.headers["content-length"] != "16" || c.headers["cookie"] != "" {
		t.Errorf("create request: %+v", c)
	}
	if v.line != "GET /prefix/v1/sessions/current HTTP/1.1" || v.headers["cookie"] != "__Host-sid=abc" ||
		v.headers["user-agent"] != "test-agent/1" || v.headers["authorization"] != "" || v.headers["content-length"] != "" {
		t.Errorf("validate request: %+v", v)
	}
	if x.line != "DELETE /prefix/v1/sessions/current HTTP/1.1" || x.headers["cookie"] != "__Host-sid=abc" {
		t.Errorf("destroy request: %+v", x)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("3 sequential requests used %d connections, want 1", n)
	}
}

// TestHTTPResponseFraming: bodies framed by Content-Length, chunked
// encoding (with trailers) or the end of the connection are read in full;
// interim 1xx responses are skipped; a connection is reused only when
// the framing allows it.
func TestHTTPResponseFraming(t *testing.T) {
	big := strings.Repeat("x", 70_000) // beyond any read buffer
	cases := []struct {
		name      string
		resp      string
		keep      bool // the server keeps the connection after it
		wantConns int64
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + big, true, 1},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n11170\r\n" + big + "\r\n0\r\nX-Trailer: y\r\n\r\n", true, 1},
		{"interim 103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, 1},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, 3},
		{"no framing: body until close", "HTTP/1.0 200 OK\r\n\r\n" + big, false, 3},
		{"long header line", "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("y", 10_000) + "\r\nContent-Length: 0\r\n\r\n", true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool {
				_, _ = io.WriteString(w, tc.resp)
				return tc.keep
			})
			d := newDriver(t, srv.url(), nil)
			for i := 0; i < 3; i++ {
				if r := d.Validate(context.Background(), driver.Session{Credential: "x"}); r.Class != driver.OK || r.Status != 200 {
					t.Fatalf("request %d: %s/%d (%v)", i, r.Class, r.Status, r.Err)
				}
			}
			if n := srv.conns.Load(); n != tc.wantConns {
				t.Errorf("3 requests used %d connections, want %d", n, tc.wantConns)
			}
		})
	}
}

// TestHTTPBrokenResponses: a truncated body is a connection error, a
// garbled status line or chunk a protocol error — never OK.
func TestHTTPBrokenResponses(t *testing.T) {
	cases := []struct {
		name string
		resp string
		want driver.Class
	}{
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", driver.Connection},
		{"truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", driver.Connection},
		{"garbled status", "HTTP/1.1 2x0 OK\r\n\r\n", driver.Protocol},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", driver.Protocol},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", driver.Protocol},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", driver.Protocol},
		{"closed before answering", "", driver.Connection},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool {
				_, _ = io.WriteString(w, tc.resp)
				return false
			})
			d := newDriver(t, srv.url(), nil)
			if r := d.Validate(context.Background(), driver.Session{Credential: "x"}); r.Class != tc.want || r.Err == nil {
				t.Fatalf("got %s (%v), want %s", r.Class, r.Err, tc.want)
			}
		})
	}
}

// TestHTTPStaleConnection: a server that answers the first request on
// each connection and closes the connection at the second without a
// word, as a server does whose idle timeout fired. A validate or destroy
// (idempotent) that meets the closed connection is retried once on a new
// one and succeeds; a create is not retried (the server may have acted
// on it) and is a connection error. Counted by request, not by time.
func TestHTTPStaleConnection(t *testing.T) {
	srv := startRaw(t, func(w io.Writer, req rawRequest, n int) bool {
		if n > 0 {
			return false
		}
		if strings.HasPrefix(req.line, "POST") {
			_, _ = io.WriteString(w, "HTTP/1.1 201 Created\r\nSet-Cookie: __Host-sid=abc\r\nContent-Length: 0\r\n\r\n")
		} else {
			_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
		return true
	})
	d := newDriver(t, srv.url(), nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if r := d.Validate(ctx, driver.Session{Credential: "x"}); r.Class != driver.OK {
			t.Fatalf("validate %d: %s (%v), want a transparent retry", i, r.Class, r.Err)
		}
	}
	if r := d.Destroy(ctx, driver.Session{Credential: "x"}); r.Class != driver.OK {
		t.Fatalf("destroy: %s (%v), want a transparent retry", r.Class, r.Err)
	}
	if n := srv.conns.Load(); n != 4 {
		t.Fatalf("4 operations used %d connections, want 4 (one each, after one retry each but the first)", n)
	}
	if _, r := d.Create(ctx, "t", nil); r.Class != driver.Connection {
		t.Fatalf("create on a connection closed under it: %s (%v), want connection (not retried)", r.Class, r.Err)
	}
	if n := srv.conns.Load(); n != 4 {
		t.Errorf("the create was retried: %d connections, want 4", n)
	}
}

// TestHTTPIdleConnectionClosedByServerIsNotReused: a keep-alive
// connection the server closed while it sat idle (its idle timeout) is
// found closed before reuse and replaced, so a create, which is never
// retried, does not fail on it. The check used to read with a deadline
// in the past, which never reaches the socket: every closed connection
// looked alive.
func TestHTTPIdleConnectionClosedByServerIsNotReused(t *testing.T) {
	closed := make(chan struct{}, 4)
	srv := startRaw(t, func(w io.Writer, req rawRequest, n int) bool {
		if strings.HasPrefix(req.line, "POST") {
			_, _ = io.WriteString(w, "HTTP/1.1 201 Created\r\nSet-Cookie: __Host-sid=abc\r\nContent-Length: 0\r\n\r\n")
			return true
		}
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		w.(net.Conn).Close() // as an idle timeout would, without saying so
		closed <- struct{}{}
		return false
	})
	d := newDriver(t, srv.url(), nil)
	ctx := context.Background()
	if r := d.Validate(ctx, driver.Session{Credential: "x"}); r.Class != driver.OK {
		t.Fatalf("validate: %s (%v)", r.Class, r.Err)
	}
	<-closed
	// Idle past the point where connections are checked before reuse.
	time.Sleep(driver.H1CheckIdleAfter + 100*time.Millisecond)
	if _, r := d.Create(ctx, "t", nil); r.Class != driver.OK {
		t.Fatalf("create after the server closed the idle connection: %s (%v), want OK on a new connection", r.Class, r.Err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the closed one replaced)", n)
	}
}

// TestHTTPCancelIsOther: cancelling the operation's context (the run
// stopping) aborts a request that waits for its answer; it is Other, not
// a timeout.
func TestHTTPCancelIsOther(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool {
		<-release
		return false
	})
	d := newDriver(t, srv.url(), func(c *driver.HTTPConfig) { c.Timeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan driver.Result)
	go func() { done <- d.Validate(ctx, driver.Session{Credential: "x"}) }()
	for deadline := time.Now().Add(time.Minute); srv.conns.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case r := <-done:
		if r.Class != driver.Other || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("got %s (%v), want other: context canceled", r.Class, r.Err)
		}
	case <-time.After(time.Minute):
		t.Fatal("cancel did not end the operation")
	}
}

// TestHTTPRefusesHeaderInjection: a token or credential with CR/LF is
// refused before anything is sent.
func TestHTTPRefusesHeaderInjection(t *testing.T) {
	srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool { return false })
	d := newDriver(t, srv.url(), nil)
	if _, r := d.Create(context.Background(), "t\r\nX-Evil: 1", nil); r.Class != driver.Other {
		t.Errorf("create: %s (%v), want other", r.Class, r.Err)
	}
	if r := d.Validate(context.Background(), driver.Session{Credential: "x\nX-Evil: 1"}); r.Class != driver.Other {
		t.Errorf("validate: %s (%v), want other", r.Class, r.Err)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("%d connections opened for refused requests", n)
	}
}

// TestHTTPOverTLS: an https target with the caller's roots.
func TestHTTPOverTLS(t *testing.T) {
	fake := newFake("__Host-sid")
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	d := newDriver(t, srv.URL, func(c *driver.HTTPConfig) { c.TLSConfig = &tls.Config{RootCAs: roots} })
	ctx := context.Background()
	s, r := d.Create(ctx, "tok", nil)
	if r.Class != driver.OK {
		t.Fatalf("create: %+v", r)
	}
	if r := d.Validate(ctx, s); r.Class != driver.OK {
		t.Fatalf("validate: %+v", r)
	}
	// Without the roots the handshake fails: a connection error.
	d2 := newDriver(t, srv.URL, nil)
	if _, r := d2.Create(ctx, "tok", nil); r.Class != driver.Connection {
		t.Fatalf("untrusted certificate: %s (%v), want connection", r.Class, r.Err)
	}
}

// TestHTTPConcurrentUse: many goroutines share the driver; every
// operation succeeds and connections are reused (far fewer than
// operations).
func TestHTTPConcurrentUse(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(newFake("__Host-sid"))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	d := newDriver(t, srv.URL, func(c *driver.HTTPConfig) { c.Concurrency = 8 })
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				s, r := d.Create(context.Background(), "tok", nil)
				if r.Class != driver.OK || d.Validate(context.Background(), s).Class != driver.OK ||
					d.Destroy(context.Background(), s).Class != driver.OK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 400 session lifecycles failed", failed.Load())
	}
	if n := conns.Load(); n > 8 {
		t.Errorf("1200 operations from 8 goroutines opened %d connections, want at most 8: keep-alive not working", n)
	}
}

// TestHTTPConnectionsNeverCapped: a target that holds every answer. Each
// operation in flight needs a connection of its own, and the driver
// opens them all (dials are bounded in number under way, connections
// are not): 40 operations reach the server together.
func TestHTTPConnectionsNeverCapped(t *testing.T) {
	const n = 40
	var inProgress atomic.Int64
	release := make(chan struct{})
	srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool {
		inProgress.Add(1)
		<-release
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return true
	})
	d := newDriver(t, srv.url(), func(c *driver.HTTPConfig) { c.Timeout = time.Minute; c.Concurrency = 4 })
	results := make(chan driver.Result, n)
	for i := 0; i < n; i++ {
		go func() { results <- d.Validate(context.Background(), driver.Session{Credential: "x"}) }()
	}
	for deadline := time.Now().Add(time.Minute); inProgress.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := inProgress.Load(); got != n {
		t.Fatalf("%d of %d operations reached the target: connections were capped", got, n)
	}
	close(release)
	for i := 0; i < n; i++ {
		if r := <-results; r.Class != driver.OK {
			t.Errorf("operation: %s (%v)", r.Class, r.Err)
		}
	}
	if c := srv.conns.Load(); c != n {
		t.Errorf("%d connections for %d concurrent operations", c, n)
	}
}

// TestHTTPBurstBeyondDialSlots: 200 operations at once on a driver with
// one connection open, far more than the dials it runs at a time, so
// most wait for a connection another releases or for a dial slot. All
// succeed. (How many connections they shared is logged, not asserted: it
// depends on timing.)
func TestHTTPBurstBeyondDialSlots(t *testing.T) {
	srv := startRaw(t, func(w io.Writer, _ rawRequest, _ int) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return true
	})
	d := newDriver(t, srv.url(), func(c *driver.HTTPConfig) { c.Concurrency = 1000 })
	if r := d.Validate(context.Background(), driver.Session{Credential: "x"}); r.Class != driver.OK {
		t.Fatal(r.Err)
	}
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if r := d.Validate(context.Background(), driver.Session{Credential: "x"}); r.Class != driver.OK {
				failed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d operations failed", failed.Load(), n)
	}
	t.Logf("%d operations at once used %d connections", n, srv.conns.Load())
}
