package auth_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

const fakeProject = "sessionbench-fake"

// fakeGoogle serves what production mode talks to: the signing
// certificates, an OAuth token endpoint for a service account, and the
// Identity Toolkit lookups, and counts the calls.
type fakeGoogle struct {
	srv        *httptest.Server
	key        *rsa.PrivateKey // signs ID tokens, published as kid "k1"
	certFails  atomic.Bool
	certFetch  atomic.Int64
	lookups    atomic.Int64
	badBearers atomic.Int64

	mu    sync.Mutex
	users map[string]map[string]any // uid → accounts:lookup fields

	// Optional behaviours, set before use.
	batch        http.HandlerFunc // replaces the accounts:batchGet pages
	tokenGate    chan struct{}    // when set, the token endpoint waits for it
	certGate     chan struct{}    // when set, the certificates endpoint waits for it
	failLookups  atomic.Int64     // the next N lookups answer 503
	quotaSeen    atomic.Value     // X-Goog-User-Project of the last lookup
	tokenFetches atomic.Int64
}

const fakeAccessToken = "fake-access-token"

func newFakeGoogle(t *testing.T) *fakeGoogle {
	t.Helper()
	key, _ := authtest.NewKey(t)
	f := &fakeGoogle{key: key, users: map[string]map[string]any{}}
	certs, _ := json.Marshal(map[string]string{"k1": string(authtest.CertPEM(t, key))})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, r *http.Request) {
		f.certFetch.Add(1)
		if f.certGate != nil {
			<-f.certGate
		}
		if f.certFails.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
		w.Write(certs)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		f.tokenFetches.Add(1)
		if f.tokenGate != nil {
			<-f.tokenGate
		}
		if err := r.ParseForm(); err != nil || r.Form.Get("assertion") == "" {
			http.Error(w, "no assertion", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"` + fakeAccessToken + `","token_type":"Bearer","expires_in":3600}`))
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+fakeAccessToken {
				f.badBearers.Add(1)
				http.Error(w, `{"error":{"code":401,"message":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /v1/projects/"+fakeProject+"/accounts:lookup", authed(func(w http.ResponseWriter, r *http.Request) {
		f.lookups.Add(1)
		f.quotaSeen.Store(r.Header.Get("X-Goog-User-Project"))
		if f.failLookups.Add(-1) >= 0 {
			http.Error(w, `{"error":{"code":503,"message":"UNAVAILABLE"}}`, http.StatusServiceUnavailable)
			return
		}
		var req struct {
			LocalID []string `json:"localId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.LocalID) != 1 {
			http.Error(w, `{"error":{"code":400,"message":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		if req.LocalID[0] == "explode" {
			http.Error(w, `{"error":{"code":500,"message":"INTERNAL"}}`, http.StatusInternalServerError)
			return
		}
		f.mu.Lock()
		u, ok := f.users[req.LocalID[0]]
		f.mu.Unlock()
		out := map[string]any{"kind": "identitytoolkit#GetAccountInfoResponse"}
		if ok {
			out["users"] = []any{u}
		}
		json.NewEncoder(w).Encode(out)
	}))
	mux.HandleFunc("GET /v1/projects/"+fakeProject+"/accounts:batchGet", authed(func(w http.ResponseWriter, r *http.Request) {
		if f.batch != nil {
			f.batch(w, r)
			return
		}
		// Pages of two users, whatever maxResults says, to exercise paging.
		f.mu.Lock()
		defer f.mu.Unlock()
		uids := []string{}
		for uid := range f.users {
			uids = append(uids, uid)
		}
		slices.Sort(uids)
		start := 0
		if p := r.URL.Query().Get("nextPageToken"); p != "" {
			for start < len(uids) && uids[start] <= p {
				start++
			}
		}
		end := min(start+2, len(uids))
		page := []any{}
		for _, uid := range uids[start:end] {
			page = append(page, f.users[uid])
		}
		out := map[string]any{"users": page}
		if end < len(uids) {
			out["nextPageToken"] = uids[end-1]
		}
		json.NewEncoder(w).Encode(out)
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogle) setUser(uid string, fields map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fields["localId"] = uid
	f.users[uid] = fields
}

// credentialsFile writes a service-account file whose token_uri is the fake.
func (f *fakeGoogle) credentialsFile(t *testing.T) string {
	t.Helper()
	return f.credentialsFileWith(t, nil)
}

func (f *fakeGoogle) credentialsFileWith(t *testing.T, extra map[string]string) string {
	t.Helper()
	sa, _ := authtest.NewKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(sa)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{
		"type":           "service_account",
		"project_id":     fakeProject,
		"private_key_id": "sa-key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "sessiond@" + fakeProject + ".iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      f.srv.URL + "/token",
	}
	for k, v := range extra {
		fields[k] = v
	}
	data, _ := json.Marshal(fields)
	p := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeClock is a settable test clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func (f *fakeGoogle) verifier(t *testing.T, clk *fakeClock, creds bool) auth.Verifier {
	t.Helper()
	t.Setenv(auth.EmulatorHostEnv, "")
	cfg := auth.FirebaseConfig{
		ProjectID:          fakeProject,
		CertsURL:           f.srv.URL + "/certs",
		IdentityToolkitURL: f.srv.URL,
		Now:                clk.now,
	}
	if creds {
		cfg.CredentialsFile = f.credentialsFile(t)
	} else {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
		t.Setenv("HOME", t.TempDir())
		t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	}
	v, err := auth.NewFirebase(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewFirebase: %v", err)
	}
	return v
}

// Production mode checks the signature against the published
// certificates by kid, caches them as long as Cache-Control says, and
// refuses every other key, kid and algorithm as the client's fault.
func TestFirebaseVerifiesAgainstPublishedCertificates(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, false)
	times := authtest.WithTimes(clk.now().Add(-time.Minute), clk.now().Add(2*time.Hour))

	for i := 0; i < 20; i++ {
		tok, err := v.Verify(context.Background(), authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithEmail("a@example.com"), times), false)
		if err != nil {
			t.Fatalf("valid token refused: %v", err)
		}
		if tok.UID != "alice" || tok.Email != "a@example.com" {
			t.Fatalf("token = %+v", tok)
		}
	}
	if n := f.certFetch.Load(); n != 1 {
		t.Fatalf("certificates fetched %d times for 20 verifications, want 1 (cached)", n)
	}
	clk.add(3601 * time.Second) // past max-age=3600
	if _, err := v.Verify(context.Background(), authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), times), false); err != nil {
		t.Fatalf("valid token refused after the cache expired: %v", err)
	}
	if n := f.certFetch.Load(); n != 2 {
		t.Fatalf("certificates fetched %d times after max-age, want 2", n)
	}

	other, _ := authtest.NewKey(t)
	hs, err := authtest.MintWith(jwt.SigningMethodHS256, []byte("secret"), fakeProject, "alice", authtest.WithKID("k1"), times)
	if err != nil {
		t.Fatal(err)
	}
	none, err := authtest.MintWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, fakeProject, "alice", authtest.WithKID("k1"), times)
	if err != nil {
		t.Fatal(err)
	}
	good := authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), times)
	parts := strings.Split(good, ".")
	cases := map[string]string{
		"another key, published kid": authtest.Mint(other, fakeProject, "alice", authtest.WithKID("k1"), times),
		"unknown kid":                authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k2"), times),
		"no kid":                     authtest.Mint(f.key, fakeProject, "alice", times),
		"HS256":                      hs,
		"alg none (emulator token)":  none,
		"signature cut":              parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4],
		"other project":              authtest.Mint(f.key, "other-project", "alice", authtest.WithKID("k1"), times),
		"expired":                    authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now().Add(-3*time.Hour), clk.now().Add(-2*time.Hour))),
		"no auth_time":               authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), times, authtest.WithoutClaim("auth_time")),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok, false); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

// When Google's certificates cannot be fetched nothing is decided (503,
// never the client's fault), and the failure is remembered a second so
// an outage costs one fetch a second, not one per login.
func TestFirebaseCertificateOutageFailsClosed(t *testing.T) {
	f := newFakeGoogle(t)
	f.certFails.Store(true)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, false)
	tok := authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now(), clk.now().Add(time.Hour)))
	for i := 0; i < 10; i++ {
		_, err := v.Verify(context.Background(), tok, false)
		if err == nil || errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v, want a non-ErrInvalidToken error naming the fetch's status", err)
		}
	}
	if n := f.certFetch.Load(); n != 1 {
		t.Fatalf("%d fetches within one second of a failure, want 1", n)
	}
	f.certFails.Store(false)
	clk.add(1100 * time.Millisecond)
	if _, err := v.Verify(context.Background(), tok, false); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n := f.certFetch.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// A caller whose deadline passes while waiting gives up alone (the
	// fetch is held until the test ends).
	f2 := newFakeGoogle(t)
	f2.certGate = make(chan struct{})
	defer close(f2.certGate)
	v2 := f2.verifier(t, clk, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v2.Verify(ctx, authtest.Mint(f2.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now(), clk.now().Add(time.Hour))), false); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("cancelled wait: err = %v, want a non-ErrInvalidToken error", err)
	}
}

// With checkRevoked the user is looked up with the service account's
// OAuth token: deleted, disabled and revoked users are refused as the
// client's fault, an Identity Toolkit failure is a 503; without it no
// lookup is made.
func TestFirebaseCheckRevokedLooksTheUserUp(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, true)
	issued := clk.now().Add(-time.Minute)
	f.setUser("alive", map[string]any{"validSince": "1000"})
	f.setUser("disabled", map[string]any{"disabled": true})
	f.setUser("revoked", map[string]any{"validSince": jsonNum(issued.Add(time.Second).Unix())})
	mint := func(uid string) string {
		return authtest.Mint(f.key, fakeProject, uid, authtest.WithKID("k1"), authtest.WithTimes(issued, issued.Add(time.Hour)))
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint("disabled"), false); err != nil {
		t.Fatalf("without checkRevoked a disabled user's token is only checked offline: %v", err)
	}
	if n := f.lookups.Load(); n != 0 {
		t.Fatalf("%d lookups without checkRevoked", n)
	}
	if _, err := v.Verify(ctx, mint("alive"), true); err != nil {
		t.Fatalf("alive user refused: %v", err)
	}
	for uid, want := range map[string]error{"disabled": auth.ErrUserDisabled, "revoked": auth.ErrRevoked, "deleted": auth.ErrInvalidToken} {
		if _, err := v.Verify(ctx, mint(uid), true); !errors.Is(err, want) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want %v", uid, err, want)
		}
	}
	if _, err := v.Verify(ctx, mint("explode"), true); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Identity Toolkit error: err = %v, want a non-ErrInvalidToken error", err)
	}
	// 4 users once each, and the failing one 3 times (retried).
	if n, bad := f.lookups.Load(), f.badBearers.Load(); n != 7 || bad != 0 {
		t.Fatalf("lookups = %d (want 7), unauthenticated calls = %d (want 0)", n, bad)
	}

	users, err := auth.UsersOf(v)
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.User(ctx, "revoked")
	if err != nil || !u.TokensValidAfter.Equal(time.Unix(issued.Add(time.Second).Unix(), 0)) || !u.RevokedAt(issued) {
		t.Fatalf("User(revoked) = %+v, %v", u, err)
	}
	if _, err := users.User(ctx, "deleted"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("User(deleted) err = %v, want ErrUserNotFound", err)
	}
	for i := 0; i < 3; i++ {
		f.setUser("extra-"+string(rune('a'+i)), map[string]any{})
	}
	var listed []string
	if err := users.EachUser(ctx, func(s auth.UserState) error { listed = append(listed, s.UID); return nil }); err != nil {
		t.Fatalf("EachUser: %v", err)
	}
	if len(listed) != 6 {
		t.Fatalf("EachUser listed %v, want the 6 users over 3 pages", listed)
	}
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A credentials file that cannot be used is a start-up error, not a
// server that fails every revocation check later.
func TestNewFirebaseRefusesBadCredentialsFile(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("not json"), 0o600)
	for name, p := range map[string]string{"missing": filepath.Join(dir, "none.json"), "not JSON": bad} {
		if _, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{ProjectID: fakeProject, CredentialsFile: p}); err == nil || !strings.Contains(err.Error(), p) && !strings.Contains(err.Error(), "credentials file") {
			t.Errorf("%s: err = %v, want an error naming the credentials file", name, err)
		}
	}
}

// Without credentials the revocation lookup cannot be made: a valid
// token with checkRevoked fails closed with a server-side (503) error
// naming the fix; a bad token is still the client's fault (401), the
// missing credentials are not an excuse to blame the server.
func TestFirebaseCheckRevokedWithoutCredentialsFailsClosed(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, false)
	times := authtest.WithTimes(clk.now(), clk.now().Add(time.Hour))
	_, err := v.Verify(context.Background(), authtest.Mint(f.key, fakeProject, "u", authtest.WithKID("k1"), times), true)
	if err == nil || errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("err = %v, want a non-ErrInvalidToken error naming GOOGLE_APPLICATION_CREDENTIALS", err)
	}
	for name, tok := range map[string]string{
		"empty":         "",
		"garbage":       "a.b.c",
		"other project": authtest.Mint(f.key, "other", "u", authtest.WithKID("k1"), times),
	} {
		if _, err := v.Verify(context.Background(), tok, true); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := auth.UsersOf(v); err == nil || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("UsersOf without credentials: err = %v", err)
	}
}

// A stalled token endpoint must not hold a login past its own deadline
// (oauth2's transport would wait for the fetch whatever the request's
// context says).
func TestFirebaseLookupWaitsForTheTokenOnlyAsLongAsItsContext(t *testing.T) {
	f := newFakeGoogle(t)
	f.tokenGate = make(chan struct{})
	defer close(f.tokenGate)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, true)
	f.setUser("alice", map[string]any{})
	tok := authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now(), clk.now().Add(time.Hour)))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := v.Verify(ctx, tok, true); done <- err }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a non-ErrInvalidToken deadline error", err)
		}
	case <-time.After(30 * time.Second): // the gate is never opened before this test ends
		t.Fatal("Verify still waiting for the stalled token endpoint after its context ended")
	}
	if f.lookups.Load() != 0 {
		t.Fatalf("%d lookups made without a token", f.lookups.Load())
	}
}

// Google bills and rate-limits lookups to a quota project; user
// credentials are refused without one. It comes from
// GOOGLE_CLOUD_QUOTA_PROJECT, else the credentials' quota_project_id.
func TestFirebaseLookupsSendTheQuotaProject(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	f.setUser("alice", map[string]any{})
	for _, c := range []struct{ env, file, want string }{
		{"", "", ""},
		{"", "from-file", "from-file"},
		{"from-env", "from-file", "from-env"},
	} {
		t.Setenv("GOOGLE_CLOUD_QUOTA_PROJECT", c.env)
		t.Setenv(auth.EmulatorHostEnv, "")
		extra := map[string]string{}
		if c.file != "" {
			extra["quota_project_id"] = c.file
		}
		v, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{
			ProjectID: fakeProject, CertsURL: f.srv.URL + "/certs", IdentityToolkitURL: f.srv.URL,
			Now: clk.now, CredentialsFile: f.credentialsFileWith(t, extra),
		})
		if err != nil {
			t.Fatal(err)
		}
		users, _ := auth.UsersOf(v)
		if _, err := users.User(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		if got := f.quotaSeen.Load(); got != c.want {
			t.Errorf("env %q, file %q: X-Goog-User-Project = %q, want %q", c.env, c.file, got, c.want)
		}
	}
}

// A transient Identity Toolkit failure is retried (the lookups are
// reads), as the Admin SDK does; a lasting one is a 503.
func TestFirebaseLookupRetriesTransientFailures(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, true)
	f.setUser("alice", map[string]any{})
	tok := authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now(), clk.now().Add(time.Hour)))
	f.failLookups.Store(1)
	if _, err := v.Verify(context.Background(), tok, true); err != nil {
		t.Fatalf("one 503 then success: %v", err)
	}
	if n := f.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2 (one retry)", n)
	}
	f.failLookups.Store(10)
	if _, err := v.Verify(context.Background(), tok, true); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("lasting 503: err = %v, want a non-ErrInvalidToken error", err)
	}
	if n := f.lookups.Load(); n != 5 {
		t.Fatalf("%d lookups, want 5 (three attempts for the second call)", n)
	}
}

// Listing follows nextPageToken across empty pages, and a token sent
// twice is an error: revoke --all-disabled must never report success
// with users it did not see, nor loop for ever.
func TestFirebaseEachUserPaging(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, true)
	users, err := auth.UsersOf(v)
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{ // token → answer
		"":   `{"users":[{"localId":"a"}],"nextPageToken":"p1"}`,
		"p1": `{"nextPageToken":"p2"}`,
		"p2": `{"users":[{"localId":"b","disabled":true}]}`,
	}
	f.batch = func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(pages[r.URL.Query().Get("nextPageToken")]))
	}
	var got []string
	if err := users.EachUser(context.Background(), func(s auth.UserState) error { got = append(got, s.UID); return nil }); err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("EachUser across an empty page = %v, %v; want a,b", got, err)
	}
	pages["p2"] = `{"users":[{"localId":"b"}],"nextPageToken":"p1"}` // a cycle
	err = users.EachUser(context.Background(), func(auth.UserState) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "a second time") {
		t.Fatalf("cycle: err = %v, want an error saying the token repeated", err)
	}
}

// Keys are refreshed in the background shortly before they expire: a
// login then is answered with the current keys, and a failing refresh
// costs nothing until they really expire.
func TestFirebaseCertificatesRefreshBeforeTheyExpire(t *testing.T) {
	f := newFakeGoogle(t)
	clk := &fakeClock{t: time.Now()}
	v := f.verifier(t, clk, false)
	tok := func() string {
		return authtest.Mint(f.key, fakeProject, "alice", authtest.WithKID("k1"), authtest.WithTimes(clk.now(), clk.now().Add(time.Hour)))
	}
	if _, err := v.Verify(context.Background(), tok(), false); err != nil {
		t.Fatal(err)
	}
	f.certFails.Store(true)
	clk.add(3600*time.Second - 10*time.Second) // max-age=3600: 10 s left
	if _, err := v.Verify(context.Background(), tok(), false); err != nil {
		t.Fatalf("with 10 s of validity left, while the endpoint fails: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); f.certFetch.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no background refresh within 30 s of expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), tok(), false); err != nil {
		t.Fatalf("after a failed background refresh, keys still valid: %v", err)
	}
	clk.add(20 * time.Second) // expired, endpoint still failing
	if _, err := v.Verify(context.Background(), tok(), false); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("expired keys, failing endpoint: err = %v, want a non-ErrInvalidToken error", err)
	}
}
