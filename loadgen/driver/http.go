package driver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultCookieName is the session cookie sessiond sets. The http driver
// learns the real name from the first Set-Cookie it sees, so a server that
// uses another name works too.
const DefaultCookieName = "__Host-sid"

// HTTPConfig configures the http driver. Zero values take the documented
// defaults.
type HTTPConfig struct {
	// BaseURL is the target's root, e.g. "http://127.0.0.1:8080".
	// Required.
	BaseURL string
	// Concurrency is the expected number of operations in flight; it
	// sizes the keep-alive pool (connections kept idle) so that a steady
	// rate never has to dial. Default 64. Connections are never capped: a
	// cap would silently limit the rate.
	Concurrency int
	// Timeout bounds one operation (request sent to body read) when the
	// caller's context has no deadline of its own (the engine sets one:
	// its OpTimeout). Default 5s.
	Timeout time.Duration
	// DialTimeout bounds a TCP connect (and a TLS handshake). Default 2s.
	DialTimeout time.Duration
	// UserAgent is sent with every request. Sessions may be bound to the
	// User-Agent (sessiond --bind-user-agent), so it is constant for the
	// driver's life. Default "sessionbench-loadgen/dev".
	UserAgent string
	// CookieName is the session cookie's name until one is seen in a
	// Set-Cookie. Default DefaultCookieName.
	CookieName string
	// TLSConfig is used for an https BaseURL (nil: the system's roots,
	// the URL's host as server name). HTTP/2 is never negotiated.
	TLSConfig *tls.Config
}

// HTTP is the driver for any server speaking the sessiond HTTP API:
// POST /v1/sessions (Bearer token, {"data":…}) → 201 + Set-Cookie,
// GET /v1/sessions/current → 200 or 401, DELETE /v1/sessions/current → 204.
// Each request carries the W3C traceparent the context holds (WithTrace).
// It keeps no cookie jar: the cookie value is the Session's Credential and
// is sent back as "Cookie: name=value".
//
// It speaks HTTP/1.1 through its own lean client (see h1): keep-alive
// connections, a deadline per operation, every response read in full.
type HTTP struct {
	client                          *h1
	createHead, getHead, deleteHead []byte
	timeout                         time.Duration
	cookieName                      atomic.Pointer[string]
}

var _ Driver = (*HTTP)(nil)

// Request bodies of a create: {"data":<data>}.
var (
	bodyOpen    = []byte(`{"data":`)
	bodyClose   = []byte(`}`)
	emptyObject = []byte(`{}`)
)

// NewHTTP returns an http driver for cfg.BaseURL.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("driver: HTTPConfig.BaseURL is required (e.g. http://127.0.0.1:8080)")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("driver: HTTPConfig.BaseURL %q: %w", cfg.BaseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("driver: HTTPConfig.BaseURL %q: scheme must be http or https", cfg.BaseURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("driver: HTTPConfig.BaseURL %q: missing host", cfg.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("driver: HTTPConfig.BaseURL %q: user info, query and fragment are not supported; give scheme://host[:port][/path]", cfg.BaseURL)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "sessionbench-loadgen/dev"
	}
	if !validHeaderValue(cfg.UserAgent) {
		return nil, fmt.Errorf("driver: HTTPConfig.UserAgent %q holds a control character", cfg.UserAgent)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	port := u.Port()
	var tlsConfig *tls.Config
	if u.Scheme == "https" {
		if port == "" {
			port = "443"
		}
		tlsConfig = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
		if cfg.TLSConfig != nil {
			tlsConfig = cfg.TLSConfig.Clone()
			if tlsConfig.ServerName == "" {
				tlsConfig.ServerName = u.Hostname()
			}
			tlsConfig.NextProtos = []string{"http/1.1"}
		}
	} else if port == "" {
		port = "80"
	}
	base := strings.TrimRight(u.EscapedPath(), "/")
	head := func(method, path string) []byte {
		return []byte(method + " " + base + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: " + cfg.UserAgent + "\r\n")
	}
	d := &HTTP{
		client:     newH1(net.JoinHostPort(u.Hostname(), port), tlsConfig, cfg.DialTimeout, cfg.Concurrency),
		createHead: head("POST", "/v1/sessions"),
		getHead:    head("GET", "/v1/sessions/current"),
		deleteHead: head("DELETE", "/v1/sessions/current"),
		timeout:    cfg.Timeout,
	}
	name := cfg.CookieName
	d.cookieName.Store(&name)
	return d, nil
}

// CookieName is the session cookie name in use (learned from the server).
func (d *HTTP) CookieName() string { return *d.cookieName.Load() }

// Create posts the token and data; the session cookie from Set-Cookie
// becomes the Session's Credential. UserID is left empty: the http driver
// does not read the token.
func (d *HTTP) Create(ctx context.Context, idToken string, data json.RawMessage) (Session, Result) {
	if len(data) == 0 {
		data = emptyObject
	}
	if !validHeaderValue(idToken) {
		return Session{}, Result{Class: Other, Err: errors.New("create: build request: the ID token holds a control character")}
	}
	req := h1Request{head: d.createHead, bearer: idToken, body: [3][]byte{bodyOpen, data, bodyClose}, wantCookies: true}
	req.trace, req.traced = TraceFrom(ctx)
	res, err := d.client.do(ctx, d.timeout, &req)
	if err != nil {
		return Session{}, classifyErr("create", err)
	}
	defer d.client.release(res)
	if r := classifyStatus("create", res.status); r.Class != OK {
		return Session{}, r
	}
	name, value, ok := d.sessionCookie(res.conn.cookies)
	if !ok {
		return Session{}, Result{Class: Protocol, Status: res.status,
			Err: fmt.Errorf("create: %d without a session cookie", res.status)}
	}
	if name != d.CookieName() {
		d.cookieName.Store(&name)
	}
	return Session{Credential: value}, Result{Class: OK, Status: res.status}
}

// Validate checks the session with GET /v1/sessions/current.
func (d *HTTP) Validate(ctx context.Context, s Session) Result {
	return d.current(ctx, d.getHead, "validate", s)
}

// Destroy ends the session with DELETE /v1/sessions/current.
func (d *HTTP) Destroy(ctx context.Context, s Session) Result {
	return d.current(ctx, d.deleteHead, "destroy", s)
}

func (d *HTTP) current(ctx context.Context, head []byte, op string, s Session) Result {
	if !validHeaderValue(s.Credential) {
		return Result{Class: Other, Err: fmt.Errorf("%s: build request: the credential holds a control character", op)}
	}
	req := h1Request{head: head, cookieName: d.CookieName(), cookieValue: s.Credential, idempotent: true}
	req.trace, req.traced = TraceFrom(ctx)
	res, err := d.client.do(ctx, d.timeout, &req)
	if err != nil {
		return classifyErr(op, err)
	}
	d.client.release(res)
	return classifyStatus(op, res.status)
}

// Close closes the idle keep-alive connections, and every connection in
// use as its operation ends.
func (d *HTTP) Close() error {
	d.client.closeIdle(true)
	return nil
}

// sessionCookie picks the session cookie from Set-Cookie lines: the one
// with the current name if present, else the only one with a value.
// Deleting cookies (empty value) are ignored.
func (d *HTTP) sessionCookie(lines []string) (name, value string, ok bool) {
	want := d.CookieName()
	found := 0
	for _, line := range lines {
		n, v, good := parseSetCookie(line)
		if !good || v == "" {
			continue
		}
		if n == want {
			return n, v, true
		}
		if found == 0 {
			name, value = n, v
		}
		found++
	}
	if found == 1 {
		return name, value, true
	}
	return "", "", false
}

// parseSetCookie returns the name and value of a Set-Cookie line, without
// the attributes. Quotes around the value are removed (RFC 6265).
func parseSetCookie(line string) (name, value string, ok bool) {
	pair, _, _ := strings.Cut(line, ";")
	name, value, ok = strings.Cut(pair, "=")
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	if !ok || name == "" {
		return "", "", false
	}
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return name, value, true
}

// classifyStatus maps an HTTP status to a Class. Any 2xx is OK.
func classifyStatus(op string, status int) Result {
	switch {
	case status >= 200 && status < 300:
		return Result{Class: OK, Status: status}
	case status == http.StatusUnauthorized:
		return Result{Class: Rejected, Status: status, Err: fmt.Errorf("%s: %d", op, status)}
	case status >= 400 && status < 500:
		return Result{Class: Unexpected4xx, Status: status, Err: fmt.Errorf("%s: unexpected %d", op, status)}
	case status >= 500:
		return Result{Class: Server5xx, Status: status, Err: fmt.Errorf("%s: server error %d", op, status)}
	default:
		return Result{Class: Protocol, Status: status, Err: fmt.Errorf("%s: unexpected status %d", op, status)}
	}
}

// classifyErr maps a transport error: deadlines and net timeouts are
// Timeout, a cancelled context (run stopping) is Other, a malformed
// response is Protocol, the rest (refused, reset, EOF, DNS) is
// Connection.
func classifyErr(op string, err error) Result {
	err = fmt.Errorf("%s: %w", op, err)
	var ne net.Error
	var pe *errProtocol
	switch {
	case errors.As(err, &pe):
		return Result{Class: Protocol, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return Result{Class: Timeout, Err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return Result{Class: Timeout, Err: err}
	case errors.Is(err, context.Canceled):
		return Result{Class: Other, Err: err}
	default:
		return Result{Class: Connection, Err: err}
	}
}
