package nulltarget_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/nulltarget"
)

func start(t *testing.T, cfg nulltarget.Config) *nulltarget.Server {
	t.Helper()
	s, err := nulltarget.Start("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSessionLifecycleThroughDriver: the http driver sees the null target
// as a sessiond: create → 201 with a cookie, validate → 200, destroy →
// 204, an unknown session → 401.
func TestSessionLifecycleThroughDriver(t *testing.T) {
	s := start(t, nulltarget.Config{})
	d, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	sess, r := d.Create(ctx, "any-token", []byte(`{"k":"v"}`))
	if r.Class != driver.OK || r.Status != 201 || !strings.HasPrefix(sess.Credential, nulltarget.CredentialPrefix) || len(sess.Credential) != 43 {
		t.Fatalf("create: %+v credential %q", r, sess.Credential)
	}
	sess2, _ := d.Create(ctx, "any-token", nil)
	if sess2.Credential == sess.Credential {
		t.Errorf("two creates got the same credential %q", sess.Credential)
	}
	if r := d.Validate(ctx, sess); r.Class != driver.OK || r.Status != 200 {
		t.Errorf("validate: %+v", r)
	}
	if r := d.Validate(ctx, driver.Session{Credential: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}); r.Class != driver.Rejected {
		t.Errorf("unknown session: %+v, want rejected", r)
	}
	if r := d.Destroy(ctx, sess); r.Class != driver.OK || r.Status != 204 {
		t.Errorf("destroy: %+v", r)
	}
	if n, c := s.Requests(), s.Connections(); n != 5 || c != 1 {
		t.Errorf("server counted %d requests on %d connections, want 5 on 1", n, c)
	}
}

// TestKeepAliveAndPipelining: requests with bodies and without share one
// connection, including two written back to back before reading.
func TestKeepAliveAndPipelining(t *testing.T) {
	s := start(t, nulltarget.Config{})
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"data":{"x":"` + strings.Repeat("y", 5000) + `"}}` // larger than the read buffer
	reqs := "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body +
		"GET /v1/sessions/current HTTP/1.1\r\nHost: x\r\nCookie: a=b; __Host-sid=nullsid1xx\r\n\r\n" +
		"DELETE /v1/sessions/current HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, reqs); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []int{201, 200, 401, 404} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("want %d: %v", want, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after Connection: close the server kept the connection (%v)", err)
	}
}

// TestBadRequestsAreRefused: a chunked body, a garbled request line and
// an oversized head are answered with a 4xx/5xx and the connection closed.
func TestBadRequestsAreRefused(t *testing.T) {
	s := start(t, nulltarget.Config{})
	for req, want := range map[string]int{
		"POST /v1/sessions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": 501,
		"garbage\r\n\r\n": 400,
		"GET /v1/sessions/current HTTP/1.1\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n": 431,
		"POST /v1/sessions HTTP/1.1\r\nContent-Length: -1\r\n\r\n":                           400,
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%.30q: %v", req, err)
		}
		if resp.StatusCode != want || !resp.Close {
			t.Errorf("%.30q: status %d close %v, want %d and close", req, resp.StatusCode, resp.Close, want)
		}
		c.Close()
	}
}

// TestPauseHoldsAnswers: with 900 ms pauses every second, a request sent
// 100 ms or more after the start is answered no earlier than 1 s after
// it: the end of the first pause, or later if this test was descheduled
// into a later period. A lower bound only, so a loaded machine cannot
// fail it; a server that ignored pauses would answer at about 100 ms.
func TestPauseHoldsAnswers(t *testing.T) {
	before := time.Now()
	s := start(t, nulltarget.Config{PauseEvery: time.Second, PauseFor: 900 * time.Millisecond})
	d, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	time.Sleep(100 * time.Millisecond)
	if r := d.Validate(context.Background(), driver.Session{Credential: nulltarget.CredentialPrefix + "1"}); r.Class != driver.OK {
		t.Fatalf("validate: %+v", r)
	}
	if el := time.Since(before); el < time.Second {
		t.Errorf("answered %v after start, inside the first pause [100ms, 1s)", el)
	}
}

// TestConfigErrors names the fields.
func TestConfigErrors(t *testing.T) {
	for _, c := range []nulltarget.Config{
		{ServiceTime: -1},
		{PauseEvery: time.Second},
		{PauseFor: time.Second},
		{PauseEvery: time.Second, PauseFor: time.Second},
	} {
		if _, err := nulltarget.Start("", c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
