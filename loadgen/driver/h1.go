package driver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/internal/ascii"
)

// h1 is a minimal HTTP/1.1 client for one origin, made for a load
// generator: net/http's general client spent more CPU per request than
// everything else in loadgen together (two extra goroutines per
// connection and a channel hop each way, a header map and a dozen
// allocations per request). It keeps what makes measurements true:
//
//   - keep-alive connections, reused LIFO, never capped (a cap would limit
//     the rate silently); a new connection is dialled when none is idle;
//   - one deadline per operation on the connection, from the caller's
//     context (or the driver's Timeout), and cancellation of the context
//     aborts the operation;
//   - every response is read in full (Content-Length, chunked, or until
//     close) before the operation ends, so its latency includes the body
//     and the connection can be reused;
//   - a request that fails on a reused connection before any byte of the
//     response arrived (the server closed it while idle) is retried once
//     on a new connection when it is idempotent (GET, DELETE), as net/http
//     does; a POST is not retried.
//
// It parses only the status, the framing headers (Content-Length,
// Transfer-Encoding, Connection) and, when asked, Set-Cookie.
type h1 struct {
	addr        string      // host:port to dial
	tlsConfig   *tls.Config // nil: plain HTTP
	dialer      net.Dialer
	dialTimeout time.Duration
	maxIdle     int

	mu      sync.Mutex
	idle    []*h1Conn // LIFO: the most recently used connection first
	dialing int       // dials in progress, at most h1MaxDialing
	waiters []*h1Waiter
	closed  bool
}

// h1Waiter is an operation waiting for a connection: it receives one
// that another operation released, or nil, which hands it a dial slot.
type h1Waiter struct{ ch chan *h1Conn } // buffered: sent to under c.mu, never blocks

// Connection-reuse bounds.
const (
	// h1IdleTimeout closes a connection idle this long (net/http's
	// default IdleConnTimeout).
	h1IdleTimeout = 90 * time.Second
	// h1CheckIdleAfter: a connection idle longer than this is checked for
	// a close by the server before it is reused, so a server's idle
	// timeout does not show up as connection errors in a slow run.
	h1CheckIdleAfter = time.Second
	// h1MaxHeaderBytes bounds a response's head.
	h1MaxHeaderBytes = 1 << 20
	h1ReadBufSize    = 4 << 10
	// h1MaxDialing bounds dials in progress, not connections: an
	// operation that finds no idle connection while this many dials are
	// under way waits for whichever comes first, a connection another
	// operation releases or a free dial slot. After a stall (the target's
	// or the generator's), a burst of due operations then reuses the
	// connections that free up every few microseconds instead of dialling
	// one each: dialling thousands, and closing them again, used to cost
	// more CPU than the burst itself and turned a 50 ms hiccup into a
	// collapse (30,000 connections in a 12 s run at 20,000/s). Against a
	// target that holds its answers no connection comes back, and the
	// dial slots keep opening new ones, so the rate is never capped.
	h1MaxDialing = 8
)

// h1Conn is one keep-alive connection with its buffers.
type h1Conn struct {
	nc       net.Conn
	sock     syscall.RawConn // the TCP socket under nc (nil if none): peeked by alive
	br       *bufio.Reader
	wbuf     []byte   // the request being written
	line     []byte   // scratch for header lines longer than br's buffer
	cookies  []string // Set-Cookie values of the last response, when asked
	lastUsed time.Time
	reused   bool   // served a request before
	abort    func() // moves the deadline to the past (made once per connection)
}

func newH1(addr string, tlsConfig *tls.Config, dialTimeout time.Duration, maxIdle int) *h1 {
	return &h1{
		addr: addr, tlsConfig: tlsConfig, dialTimeout: dialTimeout, maxIdle: maxIdle,
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
	}
}

// h1Request is one request. Its bytes are written into the
// connection's own buffer, so a request allocates nothing.
type h1Request struct {
	// head is the request line, Host and User-Agent, each ending in CRLF.
	head []byte
	// bearer, when set, is sent as "Authorization: Bearer <bearer>".
	bearer string
	// cookieName=cookieValue is sent as the Cookie header when
	// cookieValue is set.
	cookieName, cookieValue string
	// trace, when traced, is sent as the W3C Traceparent header.
	trace  Trace
	traced bool
	// body is sent, in parts, as application/json when any part is set.
	body [3][]byte
	// idempotent requests are retried once on a stale connection.
	idempotent bool
	// wantCookies collects the response's Set-Cookie values in
	// h1Conn.cookies.
	wantCookies bool
}

// appendTo appends the request's bytes to b.
func (r *h1Request) appendTo(b []byte) []byte {
	b = append(b, r.head...)
	if r.bearer != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, r.bearer...)
		b = append(b, "\r\n"...)
	}
	if r.cookieValue != "" {
		b = append(b, "Cookie: "...)
		b = append(b, r.cookieName...)
		b = append(b, '=')
		b = append(b, r.cookieValue...)
		b = append(b, "\r\n"...)
	}
	if r.traced {
		b = append(b, "Traceparent: "...)
		b = r.trace.AppendTraceParent(b)
		b = append(b, "\r\n"...)
	}
	n := len(r.body[0]) + len(r.body[1]) + len(r.body[2])
	if n > 0 {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, "\r\n\r\n"...)
		for _, p := range r.body {
			b = append(b, p...)
		}
		return b
	}
	return append(b, "\r\n"...)
}

// errProtocol marks a malformed response.
type errProtocol struct{ msg string }

func (e *errProtocol) Error() string { return "malformed response: " + e.msg }

// h1Result is the outcome of do: the status, and the connection, still
// owned by the caller (for its cookies) until release.
type h1Result struct {
	status int
	conn   *h1Conn
	keep   bool // the connection may serve another request
}

// do sends req and reads the whole response. On success the caller must
// call release(res) once it has read what it needs from res.conn.
func (c *h1) do(ctx context.Context, timeout time.Duration, req *h1Request) (h1Result, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(timeout)
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.get(ctx, deadline)
		if err != nil {
			return h1Result{}, err
		}
		res, got, err := c.roundTrip(ctx, cn, deadline, req)
		if err == nil {
			return res, nil
		}
		_ = cn.nc.Close()
		// A reused connection the server had closed fails before any
		// byte of the response: retry idempotent requests once.
		if attempt == 0 && cn.reused && !got && req.idempotent && ctx.Err() == nil && staleConnErr(err) {
			continue
		}
		return h1Result{}, err
	}
}

// staleConnErr reports whether err is what a connection closed by the
// server looks like: EOF, reset, broken pipe.
func staleConnErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// roundTrip writes req on cn and reads the response; got reports whether
// any byte of a response arrived.
func (c *h1) roundTrip(ctx context.Context, cn *h1Conn, deadline time.Time, req *h1Request) (h1Result, bool, error) {
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return h1Result{}, false, err
	}
	var stop func() bool
	if ctx.Done() != nil {
		// Cancellation ends the operation at once: a deadline in the
		// past fails the pending read or write.
		stop = context.AfterFunc(ctx, cn.abort)
	}
	cn.wbuf = req.appendTo(cn.wbuf[:0])
	_, err := cn.nc.Write(cn.wbuf)
	var status int
	var keep, got bool
	if err == nil {
		status, keep, got, err = cn.readResponse(req.wantCookies)
	}
	if stop != nil && !stop() {
		// The context ended meanwhile: the deadline may have been moved
		// under this connection, so it is never reused.
		keep = false
	}
	if err != nil {
		return h1Result{}, got, ctxErr(ctx, err)
	}
	return h1Result{status: status, conn: cn, keep: keep}, true, nil
}

// ctxErr prefers the context's reason (deadline, cancellation) over the
// I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// get returns an idle connection, a new one, or one released by another
// operation while this one waited for a dial slot.
func (c *h1) get(ctx context.Context, deadline time.Time) (*h1Conn, error) {
	for {
		c.mu.Lock()
		if n := len(c.idle); n > 0 {
			cn := c.idle[n-1]
			c.idle[n-1] = nil
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			idle := time.Since(cn.lastUsed)
			if idle > h1IdleTimeout || idle > h1CheckIdleAfter && !cn.alive() {
				_ = cn.nc.Close()
				continue
			}
			return cn, nil
		}
		if c.dialing < h1MaxDialing {
			c.dialing++
			c.mu.Unlock()
			return c.dialInSlot(ctx, deadline)
		}
		w := &h1Waiter{ch: make(chan *h1Conn, 1)}
		c.waiters = append(c.waiters, w)
		c.mu.Unlock()
		cn, err := c.wait(ctx, deadline, w)
		if err != nil {
			return nil, err
		}
		if cn == nil {
			return c.dialInSlot(ctx, deadline) // the slot was handed over
		}
		return cn, nil
	}
}

// dialInSlot dials holding a dial slot, then hands the slot to the first
// waiter, or frees it.
func (c *h1) dialInSlot(ctx context.Context, deadline time.Time) (*h1Conn, error) {
	cn, err := c.dial(ctx, deadline)
	c.passDialSlot()
	return cn, err
}

// passDialSlot hands a dial slot its holder no longer needs to the first
// waiter, or frees it.
func (c *h1) passDialSlot() {
	c.mu.Lock()
	if w := c.popWaiter(); w != nil {
		w.ch <- nil
	} else {
		c.dialing--
	}
	c.mu.Unlock()
}

// popWaiter removes the longest-waiting operation. The caller holds c.mu.
func (c *h1) popWaiter() *h1Waiter {
	if len(c.waiters) == 0 {
		return nil
	}
	w := c.waiters[0]
	c.waiters[0] = nil
	c.waiters = c.waiters[1:]
	return w
}

// wait waits for w to be served (a connection, or nil: a dial slot) or
// for the operation's end.
func (c *h1) wait(ctx context.Context, deadline time.Time, w *h1Waiter) (*h1Conn, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var err error
	select {
	case cn := <-w.ch:
		return cn, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = errWaitTimeout
	}
	c.mu.Lock()
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			c.mu.Unlock()
			return nil, err
		}
	}
	// Served meanwhile: pass on what was given.
	cn := <-w.ch
	c.mu.Unlock()
	if cn != nil {
		c.release(h1Result{conn: cn, keep: true})
	} else {
		c.passDialSlot() // the slot was handed to us: pass it on
	}
	return nil, err
}

// errWaitTimeout: the operation's deadline passed while it waited for a
// connection.
var errWaitTimeout error = &timeoutError{"timed out waiting for a connection"}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// alive reports whether an idle connection is still open: a read that
// would block means nothing (no close, no stray bytes) arrived.
func (cn *h1Conn) alive() bool {
	if cn.br.Buffered() > 0 {
		return false // bytes nobody asked for
	}
	if cn.sock != nil {
		// A read with a deadline in the past never reaches the socket
		// (the poller reports the timeout first), so it cannot see a
		// close: peek at the socket itself.
		if err := cn.nc.SetReadDeadline(time.Time{}); err != nil {
			return false
		}
		if open, ok := socketOpen(cn.sock); ok {
			return open
		}
	}
	if err := cn.nc.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return false
	}
	_, err := cn.br.Peek(1)
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *h1) dial(ctx context.Context, deadline time.Time) (*h1Conn, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := c.dialer.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	var sock syscall.RawConn
	if tc, ok := nc.(*net.TCPConn); ok {
		sock, _ = tc.SyscallConn()
	}
	if c.tlsConfig != nil {
		tc := tls.Client(nc, c.tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, ctxErr(ctx, fmt.Errorf("tls handshake: %w", err))
		}
		nc = tc
	}
	cn := &h1Conn{nc: nc, sock: sock, br: bufio.NewReaderSize(nc, h1ReadBufSize), wbuf: make([]byte, 0, 512)}
	cn.abort = func() { _ = nc.SetDeadline(time.Unix(1, 0)) }
	return cn, nil
}

// release returns a connection after a complete exchange: to the idle
// pool, or closed when it cannot serve another request.
func (c *h1) release(res h1Result) {
	cn := res.conn
	if !res.keep {
		_ = cn.nc.Close()
		return
	}
	cn.reused = true
	cn.lastUsed = time.Now()
	cn.cookies = cn.cookies[:0]
	c.mu.Lock()
	if !c.closed {
		if w := c.popWaiter(); w != nil {
			w.ch <- cn // straight to an operation waiting for one
			c.mu.Unlock()
			return
		}
	}
	if c.closed || len(c.idle) >= c.maxIdle {
		c.mu.Unlock()
		_ = cn.nc.Close()
		return
	}
	c.idle = append(c.idle, cn)
	c.mu.Unlock()
}

// closeIdle closes every idle connection; with final, connections
// released later are closed too.
func (c *h1) closeIdle(final bool) {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	if final {
		c.closed = true
	}
	c.mu.Unlock()
	for _, cn := range idle {
		_ = cn.nc.Close()
	}
}

var (
	hContentLength    = []byte("content-length")
	hTransferEncoding = []byte("transfer-encoding")
	hConnection       = []byte("connection")
	hSetCookie        = []byte("set-cookie")
)

// readResponse reads one response in full, skipping 1xx interim
// responses; keep reports whether the connection may be reused.
func (cn *h1Conn) readResponse(wantCookies bool) (status int, keep, got bool, err error) {
	for {
		status, keep, got, err = cn.readOne(wantCookies)
		if err != nil || status >= 200 {
			return status, keep, got, err
		}
		if status == 101 {
			return 0, false, true, &errProtocol{"101 Switching Protocols"}
		}
		cn.cookies = cn.cookies[:0] // interim response (100 Continue, 103 Early Hints)
	}
}

// readOne reads one response head and its body.
func (cn *h1Conn) readOne(wantCookies bool) (status int, keep, got bool, err error) {
	total := 0
	line, err := cn.readLine(&total)
	if err != nil {
		return 0, false, total > 0, err
	}
	// "HTTP/1.1 200 OK": the version, a space, three digits.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return 0, false, true, &errProtocol{fmt.Sprintf("status line %.40q", line)}
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, true, &errProtocol{fmt.Sprintf("status line %.40q", line)}
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, false, true, &errProtocol{fmt.Sprintf("status %d", status)}
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection by default, 1.0 does not
	contentLength := int64(-1)
	chunked := false
	for {
		line, err := cn.readLine(&total)
		if err != nil {
			return 0, false, true, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, true, &errProtocol{fmt.Sprintf("header line %.40q", line)}
		}
		value = bytes.TrimSpace(value)
		switch {
		case ascii.EqualFoldLower(name, hContentLength):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || contentLength >= 0 && n != contentLength {
				return 0, false, true, &errProtocol{fmt.Sprintf("Content-Length %.40q", value)}
			}
			contentLength = n
		case ascii.EqualFoldLower(name, hTransferEncoding):
			// Only chunked framing is understood; any other final
			// coding is read until the connection closes (RFC 9112 §6.3).
			chunked = hasToken(value, "chunked")
			if !chunked {
				keep = false
			}
		case ascii.EqualFoldLower(name, hConnection):
			if hasToken(value, "close") {
				keep = false
			} else if hasToken(value, "keep-alive") {
				keep = true
			}
		case wantCookies && ascii.EqualFoldLower(name, hSetCookie):
			cn.cookies = append(cn.cookies, string(value))
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304:
		return status, keep, true, nil // no body
	case chunked:
		return status, keep, true, cn.readChunked(&total)
	case contentLength >= 0:
		if _, err := cn.br.Discard(int(contentLength)); err != nil {
			return 0, false, true, unexpectedEOF(err)
		}
		return status, keep, true, nil
	default:
		// No framing: the body ends with the connection.
		if _, err := io.Copy(io.Discard, cn.br); err != nil {
			return 0, false, true, err
		}
		return status, false, true, nil
	}
}

// readChunked reads a chunked body and its trailers.
func (cn *h1Conn) readChunked(total *int) error {
	for {
		line, err := cn.readLine(total)
		if err != nil {
			return unexpectedEOF(err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
		if err != nil {
			return &errProtocol{fmt.Sprintf("chunk size %.20q", line)}
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := cn.readLine(total)
				if err != nil {
					return unexpectedEOF(err)
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if _, err := cn.br.Discard(int(size)); err != nil {
			return unexpectedEOF(err)
		}
		crlf, err := cn.readLine(total)
		if err != nil {
			return unexpectedEOF(err)
		}
		if len(crlf) != 0 {
			return &errProtocol{"chunk not followed by CRLF"}
		}
		*total = 0 // the head limit applies to chunk lines, not to the body
	}
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLine reads a line without its CRLF (or LF). The slice is valid
// until the next read. Lines longer than the read buffer are assembled in
// cn.line; *total bounds the head.
func (cn *h1Conn) readLine(total *int) ([]byte, error) {
	line, err := cn.br.ReadSlice('\n')
	*total += len(line)
	if errors.Is(err, bufio.ErrBufferFull) {
		cn.line = append(cn.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if *total > h1MaxHeaderBytes {
				return nil, &errProtocol{"head larger than 1 MiB"}
			}
			line, err = cn.br.ReadSlice('\n')
			*total += len(line)
			cn.line = append(cn.line, line...)
		}
		line = cn.line
	}
	if err != nil {
		return nil, err
	}
	if *total > h1MaxHeaderBytes {
		return nil, &errProtocol{"head larger than 1 MiB"}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// hasToken reports whether a comma-separated header value holds token
// (case-insensitive).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if ascii.EqualFoldLower(bytes.TrimSpace(t), []byte(token)) {
			return true
		}
	}
	return false
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters but tab (a CR or LF would split the header).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
