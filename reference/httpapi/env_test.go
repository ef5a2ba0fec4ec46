package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/session"
)

// testProject is the Firebase project the test tokens are minted for.
const testProject = "demo-sessionbench"

// signingKey is generated once per test binary: RSA 2048 generation is
// slow, and every test only needs some key.
var signingKey = sync.OnceValues(func() (*rsa.PrivateKey, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
})

// envOptions tweak newEnv.
type envOptions struct {
	redisAddr string // default: a fresh miniredis
	storeCfg  session.Config
	cfg       func(*Config)
	store     func(session.API) session.API // wraps the real store
	verifier  func(auth.Verifier) auth.Verifier
}

// testEnv is one sessiond API on a TLS httptest server, with the real
// store on miniredis (or another Redis) and the real local verifier.
type testEnv struct {
	t     testing.TB
	api   *Server
	ts    *httptest.Server
	mr    *miniredis.Miniredis // nil with envOptions.redisAddr
	rdb   *redis.Client
	store *session.Store
	key   *rsa.PrivateKey
	logs  *testsvc.SyncBuffer
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	e := &testEnv{t: t, logs: &testsvc.SyncBuffer{}}
	addr := o.redisAddr
	if addr == "" {
		e.mr = testsvc.StartMiniredis(t)
		addr = e.mr.Addr()
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { e.rdb.Close() })
	st, err := session.New(e.rdb, o.storeCfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	e.store = st
	key, pub := signingKey()
	e.key = key
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: testProject, PublicKeyPEM: pub})
	if err != nil {
		t.Fatalf("auth.NewLocal: %v", err)
	}
	var api session.API = st
	if o.store != nil {
		api = o.store(st)
	}
	if o.verifier != nil {
		v = o.verifier(v)
	}
	cfg := Config{
		Store:    api,
		Verifier: v,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Generous: a loaded CI machine must not turn a slow answer into
		// a 503 (tests of the timeout set their own).
		RequestTimeout: 5 * time.Second,
		PoolStats:      e.rdb.PoolStats,
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e.api, err = New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.ts = httptest.NewTLSServer(e.api)
	t.Cleanup(e.ts.Close)
	return e
}

// browser returns a client with its own cookie jar, like one browser.
func (e *testEnv) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Transport: e.ts.Client().Transport, Jar: jar, Timeout: 10 * time.Second}
}

// token mints a valid ID token for uid, signed in just now.
func (e *testEnv) token(uid string, opts ...authtest.Option) string {
	return authtest.Mint(e.key, testProject, uid, opts...)
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	body []byte
}

// json decodes the body into a generic map, failing the test if it is not
// a JSON object.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

// errorCode checks the status and returns the JSON error code.
func (r response) wantError(t testing.TB, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error = %v, want %q; body %s", m["error"], code, r.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.body)
	}
}

// do sends one request; hdr are "Name: value" pairs.
func (e *testEnv) do(c *http.Client, method, path string, body string, hdr ...string) response {
	e.t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.ts.URL+path, rb)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		// What every well-behaved client sends with a JSON body; tests of
		// the 415 answer override it ("Content-Type:" alone removes it).
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		if v = strings.TrimSpace(v); v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{res, b}
}

// login creates a session for uid in browser c and checks it worked.
func (e *testEnv) login(c *http.Client, uid string, hdr ...string) response {
	e.t.Helper()
	r := e.do(c, "POST", "/v1/sessions", "", append([]string{"Authorization: Bearer " + e.token(uid)}, hdr...)...)
	if r.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: status %d, body %s", r.StatusCode, r.body)
	}
	return r
}

// sessionCookie returns the session cookie value in c's jar ("" if none).
func (e *testEnv) sessionCookie(c *http.Client) string {
	req, _ := http.NewRequest("GET", e.ts.URL+"/", nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == e.api.cookieName {
			return ck.Value
		}
	}
	return ""
}
