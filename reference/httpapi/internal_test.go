package httpapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/session"
)

const internalToken = "0123456789abcdef0123456789abcdef-internal"

func testSealer(t testing.TB, lines ...string) *session.Sealer {
	t.Helper()
	if len(lines) == 0 {
		lines = []string{"k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))}
	}
	s, err := session.ParseSealerKeys(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// internalEnv is a test env with the internal API on its own listener.
type internalEnv struct {
	*testEnv
	its *httptest.Server
	h   *internal
}

func newInternalEnv(t *testing.T, o envOptions, ic InternalConfig) *internalEnv {
	t.Helper()
	e := newEnv(t, o)
	if ic.Store == nil {
		ic.Store = e.store
	}
	if ic.Token == nil && !ic.RequireClientCert {
		ic.Token = []byte(internalToken)
	}
	h, err := e.api.Internal(ic)
	if err != nil {
		t.Fatalf("Internal: %v", err)
	}
	its := httptest.NewServer(h)
	t.Cleanup(its.Close)
	return &internalEnv{testEnv: e, its: its, h: h.(*internal)}
}

// internalDo sends one request to the internal listener.
func (e *internalEnv) internalDo(method, path, body string, hdr ...string) response {
	e.t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, e.its.URL+path, rb)
	if body != "" {
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
	res, err := e.its.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res, b}
}

// backend sends what a backend sends: the secret and the browser's cookie.
func (e *internalEnv) backend(method, body string, c *http.Client, hdr ...string) response {
	e.t.Helper()
	h := []string{"Authorization: Bearer " + internalToken}
	if c != nil {
		h = append(h, "Cookie: "+e.api.cookieName+"="+e.sessionCookie(c))
	}
	return e.internalDo(method, InternalSealedPath, body, append(h, hdr...)...)
}

func TestInternalSealedRoundTrip(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	const at, rt = "ya29.ACCESS-TOKEN-secret", "1//REFRESH-TOKEN-secret"
	r := e.backend("PUT", `{"sealed":{"access_token":"`+at+`","refresh_token":"`+rt+`"}}`, c)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT sealed: %d %s", r.StatusCode, r.body)
	}
	r = e.backend("GET", "", c)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET sealed: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	sealed, _ := m["sealed"].(map[string]any)
	if m["user_id"] != "alice" || sealed["access_token"] != at || sealed["refresh_token"] != rt || len(sealed) != 2 {
		t.Fatalf("GET sealed = %s", r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET sealed is cacheable: %q", r.Header.Get("Cache-Control"))
	}

	// Nothing public returns them, Redis holds no plaintext, no log line
	// has them.
	for _, path := range []string{"/v1/sessions/current", "/v1/sessions", "/metrics"} {
		if b := e.do(c, "GET", path, "").body; bytes.Contains(b, []byte("TOKEN-secret")) {
			t.Fatalf("public %s returned a sealed value: %s", path, b)
		}
	}
	for _, k := range e.mr.Keys() {
		if v, err := e.mr.Get(k); err == nil && strings.Contains(v, "TOKEN-secret") {
			t.Fatalf("Redis key %q holds a sealed value in plaintext", k)
		}
	}
	// Empty object removes them.
	if r := e.backend("PUT", `{"sealed":{}}`, c); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT {}: %d %s", r.StatusCode, r.body)
	}
	if r := e.backend("GET", "", c); !bytes.Contains(r.body, []byte(`"sealed":{}`)) {
		t.Fatalf("after removal: %s", r.body)
	}
	if strings.Contains(e.logs.String(), "TOKEN-secret") {
		t.Fatalf("a log line holds a sealed value:\n%s", e.logs.String())
	}
	if !strings.Contains(e.logs.String(), `"msg":"sealed fields set"`) || !strings.Contains(e.logs.String(), "access_token,refresh_token") {
		t.Fatalf("no audit line naming the fields:\n%s", e.logs.String())
	}
	metrics := string(e.do(c, "GET", "/metrics", "").body)
	for _, want := range []string{`sessiond_internal_requests_total{code="204",op="put"} 2`, `sessiond_internal_requests_total{code="200",op="get"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A bad request must not echo the body back: it may hold the secrets.
func TestInternalErrorsNeverEchoSecrets(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t), MaxSealedBytes: 100}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	for name, tc := range map[string]struct {
		body, hdr string
		status    int
		code      string
	}{
		"broken json":    {`{"sealed":{"rt":"SECRET-VALUE"`, "", 400, "bad_json"},
		"not strings":    {`{"sealed":{"rt":["SECRET-VALUE"]}}`, "", 400, "invalid_value"},
		"null":           {`{"sealed":{"rt":null,"x":"SECRET-VALUE"}}`, "", 400, "invalid_value"},
		"lone surrogate": {`{"sealed":{"rt":"SECRET-VALUE\ud800"}}`, "", 400, "invalid_value"},
		"invalid utf-8":  {"{\"sealed\":{\"rt\":\"SECRET-VALUE\xff\xfe\"}}", "", 400, "invalid_utf8"},
		"unknown member": {`{"sealed":{},"other":"SECRET-VALUE"}`, "", 400, "bad_json"},
		"no sealed":      {`{}`, "", 400, "bad_json"},
		"bad name":       {`{"sealed":{"a b":"SECRET-VALUE"}}`, "", 400, "invalid_name"},
		"too large":      {`{"sealed":{"rt":"SECRET-VALUE` + strings.Repeat("x", 200) + `"}}`, "", 413, "sealed_too_large"},
		"not json":       {`rt=SECRET-VALUE`, "Content-Type: text/plain", 415, "unsupported_media_type"},
	} {
		r := e.backend("PUT", tc.body, c, tc.hdr)
		r.wantError(t, tc.status, tc.code)
		if bytes.Contains(r.body, []byte("SECRET-VALUE")) {
			t.Fatalf("%s: the answer echoes the body: %s", name, r.body)
		}
	}
	if strings.Contains(e.logs.String(), "SECRET-VALUE") {
		t.Fatalf("a log line holds a refused value:\n%s", e.logs.String())
	}
	// The session is named by the forwarded cookie.
	e.backend("GET", "", nil).wantError(t, 400, "no_session")
	e.backend("GET", "", nil, "Cookie: "+e.api.cookieName+"=junk").wantError(t, 400, "invalid_session")
	e.backend("GET", "", nil, "Cookie: "+e.api.cookieName+"="+strings.Repeat("A", session.IDLen)).wantError(t, 404, "unknown_session")
	e.backend("DELETE", "", c).wantError(t, 405, "method_not_allowed")
	e.internalDo("GET", "/v1/sessions/current", "", "Authorization: Bearer "+internalToken).wantError(t, 404, "not_found")
	// Internal refusals are not the public API's.
	if m := string(e.do(c, "GET", "/metrics", "").body); strings.Contains(m, `reason="bad_json"} 1`) || strings.Contains(m, `reason="invalid_name"`) {
		t.Fatal("internal refusals counted as public ones")
	}
}

// Wrong or missing secret: 401 before anything else. The comparison
// sees two SHA-256 digests whatever was presented (nothing to time).
func TestInternalAuthConstantTime(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	var calls, badLen int
	e.h.compare = func(a, b []byte) int {
		calls++
		if len(a) != 32 || len(b) != 32 {
			badLen++
		}
		return bytesEqualCT(a, b)
	}
	c := e.browser()
	e.login(c, "alice")
	cookie := "Cookie: " + e.api.cookieName + "=" + e.sessionCookie(c)
	presented := []string{"", "Authorization: Bearer x", "Authorization: Bearer " + internalToken[:31],
		"Authorization: Bearer " + internalToken[:len(internalToken)-1] + "X", "Authorization: Bearer " + internalToken + "x",
		"Authorization: Bearer " + strings.Repeat("y", 4000), "Authorization: Basic " + internalToken, "Authorization: " + internalToken}
	for _, h := range presented {
		r := e.internalDo("GET", InternalSealedPath, "", h, cookie)
		r.wantError(t, http.StatusUnauthorized, "unauthorized")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%q: 401 without WWW-Authenticate", h)
		}
		if bytes.Contains(r.body, []byte(internalToken)) {
			t.Fatalf("401 body holds the secret")
		}
	}
	if calls != len(presented) || badLen != 0 {
		t.Fatalf("compare called %d times for %d requests, %d times with inputs that were not 32-byte digests", calls, len(presented), badLen)
	}
	if r := e.internalDo("GET", InternalSealedPath, "", "Authorization: bearer "+internalToken, cookie); r.StatusCode != http.StatusOK {
		t.Fatalf("right secret (scheme in lower case): %d %s", r.StatusCode, r.body)
	}
	// Unauthenticated callers learn nothing, not even the route list.
	e.internalDo("GET", "/nope", "").wantError(t, http.StatusUnauthorized, "unauthorized")
}

func bytesEqualCT(a, b []byte) int {
	if bytes.Equal(a, b) {
		return 1
	}
	return 0
}

func TestPublicListenerRefusesSealedFields(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	e.do(c, "PUT", InternalSealedPath, `{"sealed":{"rt":"x"}}`).wantError(t, http.StatusNotFound, "not_found")
	e.do(c, "GET", InternalSealedPath, "").wantError(t, http.StatusNotFound, "not_found")
	// Even with the internal secret.
	e.do(c, "GET", InternalSealedPath, "", "Authorization: Bearer "+internalToken).wantError(t, http.StatusNotFound, "not_found")
	// Create does not take them either.
	r := e.do(e.browser(), "POST", "/v1/sessions", `{"data":{},"sealed":{"rt":"PLANTED"}}`, "Authorization: Bearer "+e.token("bob"))
	r.wantError(t, http.StatusBadRequest, "bad_json")
	if r := e.backend("GET", "", c); bytes.Contains(r.body, []byte("PLANTED")) || r.StatusCode != 200 {
		t.Fatalf("sealed after a refused create: %d %s", r.StatusCode, r.body)
	}
}

func TestInternalWithoutSealingKeys(t *testing.T) {
	e := newInternalEnv(t, envOptions{}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	e.backend("PUT", `{"sealed":{"rt":"x"}}`, c).wantError(t, http.StatusNotImplemented, "sealing_disabled")
	r := e.backend("GET", "", c)
	r.wantError(t, http.StatusNotImplemented, "sealing_disabled")
	if msg, _ := r.json(t)["message"].(string); !strings.Contains(msg, "--sealing-keys-file") {
		t.Fatalf("501 does not say how to fix it: %s", msg)
	}
	// Authentication still comes first.
	e.internalDo("GET", InternalSealedPath, "").wantError(t, http.StatusUnauthorized, "unauthorized")
}

func TestInternalConfigRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	for name, ic := range map[string]InternalConfig{
		"open":         {Store: e.store},
		"short secret": {Store: e.store, Token: []byte("short")},
		"no store":     {Token: []byte(internalToken)},
	} {
		if _, err := e.api.Internal(ic); err == nil {
			t.Errorf("%s: Internal accepted %+v", name, ic)
		}
	}
}

// Rotation over HTTP: a sessiond with a new primary key reads what the
// old one sealed, and re-seals on write.
func TestInternalRotation(t *testing.T) {
	k1 := "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := "k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	old := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t, k1)}}, InternalConfig{})
	c := old.browser()
	old.login(c, "alice")
	old.backend("PUT", `{"sealed":{"rt":"before-rotation"}}`, c)
	rotated := newInternalEnv(t, envOptions{redisAddr: old.mr.Addr(), storeCfg: session.Config{Sealer: testSealer(t, k2, k1)}}, InternalConfig{})
	cookie := "Cookie: " + old.api.cookieName + "=" + old.sessionCookie(c)
	r := rotated.internalDo("GET", InternalSealedPath, "", "Authorization: Bearer "+internalToken, cookie)
	if r.StatusCode != 200 || !bytes.Contains(r.body, []byte("before-rotation")) {
		t.Fatalf("rotated sessiond reading an old blob: %d %s", r.StatusCode, r.body)
	}
	rotated.internalDo("PUT", InternalSealedPath, `{"sealed":{"rt":"after"}}`, "Authorization: Bearer "+internalToken, cookie)
	// The old sessiond (k1 only) can no longer open it: it is under k2.
	old.backend("GET", "", c).wantError(t, http.StatusInternalServerError, "sealed_unreadable")
}

// mTLS: the handler refuses a request whose TLS connection carries no
// verified client certificate, even if the listener let it through.
func TestInternalRequiresVerifiedClientCert(t *testing.T) {
	e := newEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}})
	h, err := e.api.Internal(InternalConfig{Store: e.store, RequireClientCert: true})
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := testCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	its := httptest.NewUnstartedServer(h)
	its.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	its.StartTLS()
	t.Cleanup(its.Close)
	c := e.browser()
	e.login(c, "alice")
	get := func(client *http.Client) *http.Response {
		req, _ := http.NewRequest("GET", its.URL+InternalSealedPath, nil)
		req.Header.Set("Cookie", e.api.cookieName+"="+e.sessionCookie(c))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get(its.Client()); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no client certificate: %d, want 401", res.StatusCode)
	}
	withCert := its.Client()
	tr := withCert.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{clientCert(t, caCert, caKey)}
	withCert = &http.Client{Transport: tr}
	if res := get(withCert); res.StatusCode != http.StatusOK {
		t.Fatalf("verified client certificate: %d, want 200", res.StatusCode)
	}
}

func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test backends CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func clientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "backend"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Values are stored exactly as sent, including ones encoding/json's
// defaults would have altered or that look like what is refused: a real
// U+FFFD (raw or escaped), an escaped backslash before "ufffd", a
// surrogate pair, the empty string.
func TestInternalSealedValuesKeptExactly(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	body := `{"sealed":{"raw":"a` + "\uFFFD" + `b","escaped":"a\uFFFDb","backslash":"a\\ufffd","pair":"\ud83d\ude00","empty":""}}`
	if r := e.backend("PUT", body, c); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.body)
	}
	var got struct{ Sealed map[string]string }
	if err := json.Unmarshal(e.backend("GET", "", c).body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"raw": "a\uFFFDb", "escaped": "a\uFFFDb", "backslash": `a\ufffd`, "pair": "😀", "empty": ""}
	for k, v := range want {
		if got.Sealed[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Sealed[k], v)
		}
	}
	// An escaped backslash does not hide a lone surrogate after it.
	e.backend("PUT", `{"sealed":{"x":"\\ufffd\ud800"}}`, c).wantError(t, 400, "invalid_value")
}

// A refused credential counts against the route it tried (an alert on
// {op="put",code="401"} must see it) and leaves one log line naming the
// caller's address, never what it presented. With both a bearer secret
// and mTLS configured, the 401 says both are needed.
func TestInternalRefusalsAreCountedAndLogged(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	cookie := "Cookie: " + e.api.cookieName + "=" + e.sessionCookie(c)
	e.internalDo("PUT", InternalSealedPath, `{"sealed":{}}`, "Authorization: Bearer WRONG-SECRET-"+strings.Repeat("x", 32), cookie).wantError(t, 401, "unauthorized")
	e.internalDo("GET", InternalSealedPath, "", cookie).wantError(t, 401, "unauthorized")
	metrics := string(e.do(c, "GET", "/metrics", "").body)
	for _, want := range []string{`sessiond_internal_requests_total{code="401",op="put"} 1`, `sessiond_internal_requests_total{code="401",op="get"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "internal API request refused") || !strings.Contains(logs, `"remote":"127.0.0.1:`) {
		t.Errorf("no log line for the refused credentials:\n%s", logs)
	}
	if strings.Contains(logs, "WRONG-SECRET") {
		t.Fatalf("a log line holds the presented secret:\n%s", logs)
	}

	both := newEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}})
	h, err := both.api.Internal(InternalConfig{Store: both.store, Token: []byte(internalToken), RequireClientCert: true})
	if err != nil {
		t.Fatal(err)
	}
	if msg := h.(*internal).authNeeds; !strings.Contains(msg, "both") || !strings.Contains(msg, "--internal-token-file") || !strings.Contains(msg, "--internal-client-ca-file") {
		t.Errorf("401 message with a secret and mTLS = %q, want both named as required", msg)
	}
}

// A chunked body is refused on the internal listener as on the public
// one (Go drops Content-Length when Transfer-Encoding is present).
func TestInternalRefusesChunkedBodies(t *testing.T) {
	e := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{})
	c := e.browser()
	e.login(c, "alice")
	req, _ := http.NewRequest("PUT", e.its.URL+InternalSealedPath, io.MultiReader(strings.NewReader(`{"sealed":`), strings.NewReader(`{"rt":"v"}}`)))
	req.ContentLength = -1 // unknown: sent chunked
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+internalToken)
	req.Header.Set("Cookie", e.api.cookieName+"="+e.sessionCookie(c))
	res, err := e.its.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	response{res, b}.wantError(t, 400, "chunked_body_refused")
}

// setSealedFailing fails SetSealed with a chosen store error.
type setSealedFailing struct {
	session.SealedAPI
	err error
}

func (f setSealedFailing) SetSealed(context.Context, string, map[string][]byte) error { return f.err }

// A sealed PUT answered 503 says whether it did not happen or its outcome
// is unknown, as every write's 503 does.
func TestInternalPut503SaysTheOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w: %w", session.ErrBackend, session.ErrNotApplied), "not_applied"},
		{fmt.Errorf("x: %w: %w", session.ErrBackend, session.ErrOutcomeUnknown), "unknown"},
	} {
		e := newEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}})
		ie := newInternalEnv(t, envOptions{storeCfg: session.Config{Sealer: testSealer(t)}}, InternalConfig{Store: setSealedFailing{e.store, tc.err}})
		c := ie.browser()
		ie.login(c, "alice")
		r := ie.backend("PUT", `{"sealed":{"rt":"v"}}`, c)
		r.wantError(t, http.StatusServiceUnavailable, "store_unavailable")
		if got := r.json(t)["outcome"]; got != tc.want {
			t.Errorf("%v: outcome %v, want %s", tc.err, got, tc.want)
		}
	}
}
