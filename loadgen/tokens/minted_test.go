package tokens_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/tokens"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// testKey is generated once per test binary: RSA generation is slow.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestMintedVerifiesWithLocalVerifier(t *testing.T) {
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: 3, Key: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: tokens.DefaultProject, PublicKeyPEM: m.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		tok, err := m.Token(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(context.Background(), tok, false)
		if err != nil {
			t.Fatalf("user %d: sessiond's local verifier refused the minted token: %v", i, err)
		}
		if got.UID != tokens.UID(i) || got.Email != tokens.Email(i) {
			t.Errorf("user %d: uid %q email %q", i, got.UID, got.Email)
		}
		if time.Since(got.AuthTime) > time.Minute {
			t.Errorf("auth_time %v is not the mint time", got.AuthTime)
		}
	}
	// Another project's verifier refuses them.
	other, _ := auth.NewLocal(auth.LocalConfig{ProjectID: "demo-other", PublicKeyPEM: m.PublicKeyPEM()})
	tok, _ := m.Token(context.Background(), 0)
	if _, err := other.Verify(context.Background(), tok, false); err == nil {
		t.Fatal("token for demo-sessionbench accepted by a demo-other verifier")
	}
}

func TestMintedCachesAndRenews(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: 1, Key: testKey(), Now: clock,
		RenewAfter: 2 * time.Minute, MaxAge: 4 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t1, _ := m.Token(ctx, 0)
	if t2, _ := m.Token(ctx, 0); t2 != t1 {
		t.Fatal("second Token within RenewAfter was re-minted, want cached")
	}
	// Past RenewAfter: the old token is served, a new one minted behind.
	now.Add(int64(3 * time.Minute))
	if t3, _ := m.Token(ctx, 0); t3 != t1 {
		t.Fatal("token past RenewAfter was not served from cache while renewing")
	}
	m.Wait()
	t4, _ := m.Token(ctx, 0)
	if t4 == t1 {
		t.Fatal("background renewal did not replace the token")
	}
	// Past MaxAge: minted before being served.
	now.Add(int64(5 * time.Minute))
	if t5, _ := m.Token(ctx, 0); t5 == t4 {
		t.Fatal("token older than MaxAge was served")
	}
}

func TestMintedRejectsBadConfigAndUsers(t *testing.T) {
	if _, err := tokens.NewMinted(tokens.MintedConfig{Users: 0, Key: testKey()}); err == nil {
		t.Error("Users 0 accepted")
	}
	if _, err := tokens.NewMinted(tokens.MintedConfig{Users: 1, Key: testKey(), RenewAfter: time.Hour}); err == nil {
		t.Error("RenewAfter past MaxAge accepted")
	}
	m, _ := tokens.NewMinted(tokens.MintedConfig{Users: 2, Key: testKey()})
	for _, u := range []int{-1, 2} {
		if _, err := m.Token(context.Background(), u); err == nil {
			t.Errorf("user %d accepted", u)
		}
	}
}

func TestLoadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	k := testKey()
	pkcs1 := filepath.Join(dir, "k1.pem")
	os.WriteFile(pkcs1, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pkcs8 := filepath.Join(dir, "k8.pem")
	os.WriteFile(pkcs8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	for _, p := range []string{pkcs1, pkcs8} {
		got, err := tokens.LoadPrivateKey(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !got.Equal(k) {
			t.Fatalf("%s: different key", p)
		}
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("nope"), 0o600)
	if _, err := tokens.LoadPrivateKey(bad); err == nil {
		t.Error("non-PEM accepted")
	}
	if _, err := tokens.LoadPrivateKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestUIDs(t *testing.T) {
	u := tokens.UIDs{N: 2}
	if tok, err := u.Token(context.Background(), 1); err != nil || tok != "user-1" {
		t.Fatalf("got %q %v", tok, err)
	}
	if _, err := u.Token(context.Background(), 2); err == nil {
		t.Fatal("out of range accepted")
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := tokens.ParsePrivateKeyPEM(data, "fuzz")
		if err == nil && k == nil {
			t.Fatal("nil key without error")
		}
	})
}

// Warm mints every user's token before the run, so Token then serves
// from cache; the tokens' cache ages are spread over RenewAfter/2 so
// renewals do not all fall due at once.
func TestMintedWarmReadiesEveryUserAndSpreadsRenewals(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	const users = 8
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: users, Key: testKey(), Now: clock,
		RenewAfter: 2 * time.Minute, MaxAge: 4 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	warm := make([]string, users)
	for u := range users {
		warm[u], _ = m.Token(ctx, u)
	}
	// The same clock instant: Token must serve the warmed tokens.
	for u := range users {
		if tok, _ := m.Token(ctx, u); tok != warm[u] || tok == "" {
			t.Fatalf("user %d: Token after Warm re-minted", u)
		}
	}
	// 100 s later (< RenewAfter = 120 s, > 120 s − 60 s): the users dated
	// oldest by Warm are due for renewal, the youngest are not.
	now.Add(int64(100 * time.Second))
	for u := range users {
		_, _ = m.Token(ctx, u)
	}
	m.Wait()
	renewed := 0
	for u := range users {
		if tok, _ := m.Token(ctx, u); tok != warm[u] {
			renewed++
		}
	}
	if renewed == 0 || renewed == users {
		t.Fatalf("%d of %d users renewed after 100 s; want the renewals spread (some, not all)", renewed, users)
	}
	if tok, _ := m.Token(ctx, 0); tok != warm[0] {
		t.Fatal("user 0 (dated youngest) renewed before RenewAfter")
	}
}

func TestMintedWarmStopsWhenCancelled(t *testing.T) {
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: 1000, Key: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Warm(ctx); err == nil {
		t.Fatal("Warm with a cancelled context returned nil, want the context error")
	}
}
