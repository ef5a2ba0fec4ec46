package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// maxDrain bounds how much of a response body is read to keep the
// connection reusable; bigger bodies cost a new connection instead.
const maxDrain = 64 << 10

// HTTPConfig configures the http driver. Zero values take the documented
// defaults.
type HTTPConfig struct {
	// BaseURL is the target's root, e.g. "http://127.0.0.1:8080".
	// Required.
	BaseURL string
	// Concurrency is the expected number of operations in flight; it
	// sizes the keep-alive pool (MaxIdleConnsPerHost) so that a steady
	// rate never has to dial. Default 64. Connections are never capped
	// (MaxConnsPerHost 0): a cap would silently limit the rate.
	Concurrency int
	// Timeout bounds one operation (request sent to body drained) when the
	// caller's context has no deadline of its own (the engine sets one:
	// its OpTimeout). Default 5s.
	Timeout time.Duration
	// DialTimeout bounds a TCP connect. Default 2s.
	DialTimeout time.Duration
	// UserAgent is sent with every request. Sessions may be bound to the
	// User-Agent (sessiond --bind-user-agent), so it is constant for the
	// driver's life. Default "sessionbench-loadgen/dev".
	UserAgent string
	// CookieName is the session cookie's name until one is seen in a
	// Set-Cookie. Default DefaultCookieName.
	CookieName string
	// Transport, when set, replaces the tuned transport (tests).
	Transport http.RoundTripper
}

// HTTP is the driver for any server speaking the sessiond HTTP API:
// POST /v1/sessions (Bearer token, {"data":…}) → 201 + Set-Cookie,
// GET /v1/sessions/current → 200 or 401, DELETE /v1/sessions/current → 204.
// Each request carries the W3C traceparent the context holds (WithTrace).
// It keeps no cookie jar: the cookie value is the Session's Credential and
// is sent back as "Cookie: name=value".
type HTTP struct {
	client      *http.Client
	transport   *http.Transport // nil when a custom Transport was given
	createURL   string
	currentURL  string
	userAgent   string
	timeout     time.Duration
	cookieName  atomic.Pointer[string]
	emptyObject json.RawMessage
}

var _ Driver = (*HTTP)(nil)

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
	if u.Host == "" {
		return nil, fmt.Errorf("driver: HTTPConfig.BaseURL %q: missing host", cfg.BaseURL)
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
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	d := &HTTP{
		createURL:   base + "/v1/sessions",
		currentURL:  base + "/v1/sessions/current",
		userAgent:   cfg.UserAgent,
		timeout:     cfg.Timeout,
		emptyObject: json.RawMessage("{}"),
	}
	name := cfg.CookieName
	d.cookieName.Store(&name)
	rt := cfg.Transport
	if rt == nil {
		d.transport = &http.Transport{
			Proxy: nil, // never route benchmark traffic through a proxy
			DialContext: (&net.Dialer{
				Timeout:   cfg.DialTimeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConns:          0, // no global cap
			MaxIdleConnsPerHost:   cfg.Concurrency,
			MaxConnsPerHost:       0,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   cfg.DialTimeout,
			ResponseHeaderTimeout: cfg.Timeout,
			DisableCompression:    true,
			ForceAttemptHTTP2:     false,
		}
		rt = d.transport
	}
	d.client = &http.Client{
		Transport: rt,
		// A redirect is a protocol error for this API; never follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

// CookieName is the session cookie name in use (learned from the server).
func (d *HTTP) CookieName() string { return *d.cookieName.Load() }

// Create posts the token and data; the session cookie from Set-Cookie
// becomes the Session's Credential. UserID is left empty: the http driver
// does not read the token.
func (d *HTTP) Create(ctx context.Context, idToken string, data json.RawMessage) (Session, Result) {
	if len(data) == 0 {
		data = d.emptyObject
	}
	body := make([]byte, 0, len(data)+10)
	body = append(body, `{"data":`...)
	body = append(body, data...)
	body = append(body, '}')

	ctx, cancel := opContext(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.createURL, bytes.NewReader(body))
	if err != nil {
		return Session{}, Result{Class: Other, Err: fmt.Errorf("create: build request: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+idToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.userAgent)
	setTrace(ctx, req)
	resp, err := d.client.Do(req)
	if err != nil {
		return Session{}, classifyErr("create", err)
	}
	defer drain(resp)
	if r := classifyStatus("create", resp.StatusCode); r.Class != OK {
		return Session{}, r
	}
	name, value, ok := d.sessionCookie(resp.Header.Values("Set-Cookie"))
	if !ok {
		return Session{}, Result{Class: Protocol, Status: resp.StatusCode,
			Err: fmt.Errorf("create: %d without a session cookie", resp.StatusCode)}
	}
	if name != d.CookieName() {
		d.cookieName.Store(&name)
	}
	return Session{Credential: value}, Result{Class: OK, Status: resp.StatusCode}
}

// Validate checks the session with GET /v1/sessions/current.
func (d *HTTP) Validate(ctx context.Context, s Session) Result {
	return d.current(ctx, http.MethodGet, "validate", s)
}

// Destroy ends the session with DELETE /v1/sessions/current.
func (d *HTTP) Destroy(ctx context.Context, s Session) Result {
	return d.current(ctx, http.MethodDelete, "destroy", s)
}

func (d *HTTP) current(ctx context.Context, method, op string, s Session) Result {
	ctx, cancel := opContext(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.currentURL, nil)
	if err != nil {
		return Result{Class: Other, Err: fmt.Errorf("%s: build request: %w", op, err)}
	}
	req.Header.Set("Cookie", d.CookieName()+"="+s.Credential)
	req.Header.Set("User-Agent", d.userAgent)
	setTrace(ctx, req)
	resp, err := d.client.Do(req)
	if err != nil {
		return classifyErr(op, err)
	}
	defer drain(resp)
	return classifyStatus(op, resp.StatusCode)
}

// setTrace sends the operation's W3C traceparent, when it has one.
func setTrace(ctx context.Context, req *http.Request) {
	if t, ok := TraceFrom(ctx); ok {
		req.Header.Set("Traceparent", t.TraceParent())
	}
}

// Close drops idle keep-alive connections.
func (d *HTTP) Close() error {
	if d.transport != nil {
		d.transport.CloseIdleConnections()
	} else {
		d.client.CloseIdleConnections()
	}
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

// drain reads what is left of the body (bounded) and closes it so the
// connection goes back to the keep-alive pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
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
// Timeout, a cancelled context (run stopping) is Other, the rest
// (refused, reset, EOF, DNS) is Connection.
func classifyErr(op string, err error) Result {
	err = fmt.Errorf("%s: %w", op, err)
	var ne net.Error
	switch {
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
