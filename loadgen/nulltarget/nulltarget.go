// Package nulltarget is a server that speaks the sessiond HTTP API and
// does nothing else: no token check, no Redis, canned answers on
// keep-alive connections. A generator pointed at it measures its own cost
// per operation (make bench-generator), since the server does next to no
// work. With a service time and periodic pauses it is also the paused
// server of the coordinated-omission check: requests that arrive during a
// pause are answered when it ends, as a stalled server would.
//
// It reads HTTP/1.1 itself instead of using net/http: the server must
// cost far less per request than any generator it measures, on one core.
// It accepts requests with a Content-Length body (or none); a chunked
// request body is answered 501 and the connection closed.
package nulltarget

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/internal/ascii"
)

// Defaults.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultCookieName = "__Host-sid"
	// CredentialPrefix starts every session cookie value the server
	// issues; a validate or destroy whose cookie lacks it is answered 401
	// (an unknown session), so a scenario's unknown_session operations
	// are rejected as they should be. Tokens are never checked: a
	// bad_token create is accepted.
	CredentialPrefix = "nullsid"
	// maxHeaderBytes bounds one request's head; larger is answered 431.
	maxHeaderBytes = 16 << 10
)

// Config shapes the server's answers. The zero value answers at once.
type Config struct {
	// ServiceTime delays every answer (0: none).
	ServiceTime time.Duration
	// PauseEvery and PauseFor make the server stop answering for
	// PauseFor at the end of every PauseEvery period counted from the
	// start: a request that arrives in a pause is answered when the pause
	// ends (plus ServiceTime). Both 0: no pauses.
	PauseEvery, PauseFor time.Duration
	// CookieName is the session cookie's name. Default DefaultCookieName.
	CookieName string
}

func (c *Config) check() error {
	if c.ServiceTime < 0 {
		return errors.New("nulltarget: ServiceTime is negative; use 0 for none")
	}
	if (c.PauseEvery == 0) != (c.PauseFor == 0) || c.PauseEvery < 0 || c.PauseFor < 0 || c.PauseFor >= c.PauseEvery && c.PauseEvery > 0 {
		return fmt.Errorf("nulltarget: PauseEvery %v, PauseFor %v: want both 0, or 0 < PauseFor < PauseEvery", c.PauseEvery, c.PauseFor)
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	return nil
}

// Server is a running null target.
type Server struct {
	cfg   Config
	ln    net.Listener
	start time.Time

	created                 []byte // 201 head up to the cookie value
	createdTail             []byte // rest of the 201 response
	ok, noContent, rejected []byte
	notFound, tooLarge      []byte
	badRequest, notImpl     []byte
	health                  []byte

	next     atomic.Uint64 // credential counter
	requests atomic.Uint64
	accepted atomic.Uint64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on addr (DefaultAddr when empty) and serves in the
// background until Close.
func Start(addr string, cfg Config) (*Server, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("nulltarget: listen %s: %w", addr, err)
	}
	s := newServer(ln, cfg)
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func newServer(ln net.Listener, cfg Config) *Server {
	resp := func(status, extra, body string) []byte {
		return []byte("HTTP/1.1 " + status + "\r\n" + extra +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}
	const js = "Content-Type: application/json\r\n"
	createdBody := `{"ok":true}`
	return &Server{
		cfg: cfg, ln: ln, start: time.Now(), conns: map[net.Conn]struct{}{},
		created: []byte("HTTP/1.1 201 Created\r\n" + js + "Set-Cookie: " + cfg.CookieName + "="),
		createdTail: []byte("; Path=/; Secure; HttpOnly; SameSite=Lax\r\nContent-Length: " +
			strconv.Itoa(len(createdBody)) + "\r\n\r\n" + createdBody),
		ok:         resp("200 OK", js, `{"uid":"null"}`),
		noContent:  []byte("HTTP/1.1 204 No Content\r\n\r\n"),
		rejected:   resp("401 Unauthorized", js, `{"error":"no session"}`),
		notFound:   resp("404 Not Found", "", "not found\n"),
		tooLarge:   resp("431 Request Header Fields Too Large", "Connection: close\r\n", ""),
		badRequest: resp("400 Bad Request", "Connection: close\r\n", ""),
		notImpl:    resp("501 Not Implemented", "Connection: close\r\n", "chunked request bodies are not supported\n"),
		health:     resp("200 OK", js, `{"status":"ok","server":"nulltarget"}`),
	}
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Requests counts the requests answered so far.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Connections counts the connections accepted so far: with keep-alive,
// far fewer than requests.
func (s *Server) Connections() uint64 { return s.accepted.Load() }

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted.Add(1)
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// request is what the server reads of one request.
type request struct {
	post, get, del  bool
	sessions        bool // /v1/sessions
	current         bool // /v1/sessions/current
	health          bool // /healthz
	knownCookie     bool // a session cookie with CredentialPrefix
	contentLength   int64
	chunked, closes bool
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriterSize(c, 4096)
	var cred []byte
	for {
		req, status := s.readHead(br)
		if status != nil {
			if *status != errClosed {
				_, _ = bw.Write(status.resp(s))
				_ = bw.Flush()
			}
			return
		}
		if req.contentLength > 0 {
			if _, err := br.Discard(int(req.contentLength)); err != nil {
				return
			}
		}
		s.wait()
		switch {
		case req.health && req.get:
			_, _ = bw.Write(s.health)
		case req.sessions && req.post:
			cred = strconv.AppendUint(append(cred[:0], CredentialPrefix...), s.next.Add(1), 10)
			for len(cred) < 43 { // the length of a real 32-byte session ID
				cred = append(cred, 'x')
			}
			_, _ = bw.Write(s.created)
			_, _ = bw.Write(cred)
			_, _ = bw.Write(s.createdTail)
		case req.current && (req.get || req.del) && !req.knownCookie:
			_, _ = bw.Write(s.rejected)
		case req.current && req.get:
			_, _ = bw.Write(s.ok)
		case req.current && req.del:
			_, _ = bw.Write(s.noContent)
		default:
			_, _ = bw.Write(s.notFound)
		}
		s.requests.Add(1)
		// Flush when no further request is already buffered (pipelining).
		if br.Buffered() == 0 || req.closes {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if req.closes {
			return
		}
	}
}

// wait applies the pause schedule and the service time.
func (s *Server) wait() {
	var d time.Duration
	if s.cfg.PauseEvery > 0 {
		phase := time.Since(s.start) % s.cfg.PauseEvery
		if open := s.cfg.PauseEvery - s.cfg.PauseFor; phase >= open {
			d = s.cfg.PauseEvery - phase
		}
	}
	d += s.cfg.ServiceTime
	if d > 0 {
		time.Sleep(d)
	}
}

// headErr is a request the server refuses, with the answer to send.
type headErr int

const (
	errClosed headErr = iota + 1 // connection ended: no answer
	errBad
	errTooLarge
	errChunked
)

func (e headErr) Error() string { return "bad request head" }

func (e headErr) resp(s *Server) []byte {
	switch e {
	case errTooLarge:
		return s.tooLarge
	case errChunked:
		return s.notImpl
	default:
		return s.badRequest
	}
}

var (
	hdrContentLength    = []byte("content-length")
	hdrTransferEncoding = []byte("transfer-encoding")
	hdrConnection       = []byte("connection")
	hdrCookie           = []byte("cookie")
)

// readHead reads a request line and headers.
func (s *Server) readHead(br *bufio.Reader) (request, *headErr) {
	var req request
	fail := func(e headErr) (request, *headErr) { return req, &e }
	total := 0
	line, err := readLine(br, &total)
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			return fail(errTooLarge)
		}
		return fail(errClosed) // EOF, reset, or closed by Close
	}
	method, rest, ok := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok || !ok2 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return fail(errBad)
	}
	if string(proto) == "HTTP/1.0" {
		req.closes = true // no keep-alive negotiation for 1.0
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	switch string(method) {
	case "POST":
		req.post = true
	case "GET":
		req.get = true
	case "DELETE":
		req.del = true
	}
	switch string(target) {
	case "/v1/sessions":
		req.sessions = true
	case "/v1/sessions/current":
		req.current = true
	case "/healthz":
		req.health = true
	}
	for {
		line, err := readLine(br, &total)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return fail(errTooLarge)
			}
			return fail(errClosed)
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fail(errBad)
		}
		value = bytes.TrimSpace(value)
		switch {
		case ascii.EqualFoldLower(name, hdrContentLength):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return fail(errBad)
			}
			req.contentLength = n
		case ascii.EqualFoldLower(name, hdrTransferEncoding):
			req.chunked = true
		case ascii.EqualFoldLower(name, hdrConnection):
			if ascii.EqualFoldLower(value, []byte("close")) {
				req.closes = true
			}
		case ascii.EqualFoldLower(name, hdrCookie):
			req.knownCookie = req.knownCookie || s.hasSessionCookie(value)
		}
	}
	if req.chunked {
		return fail(errChunked)
	}
	return req, nil
}

// hasSessionCookie reports whether a Cookie header holds the session
// cookie with a value this server issued.
func (s *Server) hasSessionCookie(v []byte) bool {
	for len(v) > 0 {
		var pair []byte
		pair, v, _ = bytes.Cut(v, []byte(";"))
		name, value, ok := bytes.Cut(bytes.TrimSpace(pair), []byte("="))
		if ok && string(name) == s.cfg.CookieName && bytes.HasPrefix(value, []byte(CredentialPrefix)) {
			return true
		}
	}
	return false
}

var errLineTooLong = errors.New("request head too large")

// readLine reads one CRLF- (or LF-) terminated line without its ending,
// counting bytes against maxHeaderBytes. The slice is valid until the
// next read.
func readLine(br *bufio.Reader, total *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*total += len(line)
	if errors.Is(err, bufio.ErrBufferFull) || *total > maxHeaderBytes {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
