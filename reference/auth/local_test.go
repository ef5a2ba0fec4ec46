package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

const project = "demo-local"

// fixedNow is the verifier clock in these tests, so time cases are exact.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// at mints with iat/auth_time/exp relative to fixedNow.
func at(issued, expires time.Duration) authtest.Option {
	return authtest.WithTimes(fixedNow.Add(issued), fixedNow.Add(expires))
}

func newLocal(tb testing.TB, pub []byte) auth.Verifier {
	tb.Helper()
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: project, PublicKeyPEM: pub, Now: clock})
	if err != nil {
		tb.Fatalf("NewLocal: %v", err)
	}
	return v
}

func mustMint(tb testing.TB, m jwt.SigningMethod, key any, opts ...authtest.Option) string {
	tb.Helper()
	s, err := authtest.MintWith(m, key, project, "user-1", opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestLocalAcceptsValidToken(t *testing.T) {
	key, pub := authtest.NewKey(t)
	v := newLocal(t, pub)
	tok := authtest.Mint(key, project, "user-1", at(-time.Minute, time.Hour),
		authtest.WithEmail("u1@example.com"), authtest.WithTenant("tenant-a"), authtest.WithClaim("role", "admin"))
	got, err := v.Verify(context.Background(), tok, true)
	if err != nil {
		t.Fatalf("Verify valid token: %v", err)
	}
	if got.UID != "user-1" || got.Email != "u1@example.com" || got.Tenant != "tenant-a" {
		t.Errorf("token fields = uid %q email %q tenant %q", got.UID, got.Email, got.Tenant)
	}
	if !got.AuthTime.Equal(fixedNow.Add(-time.Minute)) || !got.IssuedAt.Equal(fixedNow.Add(-time.Minute)) || !got.Expires.Equal(fixedNow.Add(time.Hour)) {
		t.Errorf("times = auth %v iat %v exp %v", got.AuthTime, got.IssuedAt, got.Expires)
	}
	if got.Claims["role"] != "admin" {
		t.Errorf("custom claim role = %v, want admin", got.Claims["role"])
	}
	if _, ok := got.Claims["sub"]; ok {
		t.Error("Claims still holds sub; it should hold only non-registered claims, like the Admin SDK")
	}
	if v.Mode() != auth.ModeLocal {
		t.Errorf("Mode = %q", v.Mode())
	}
}

func TestLocalAcceptsWithinSkew(t *testing.T) {
	key, pub := authtest.NewKey(t)
	v := newLocal(t, pub)
	cases := map[string]authtest.Option{
		"expired 4m ago":         at(-2*time.Hour, -4*time.Minute),
		"issued 4m in future":    at(4*time.Minute, time.Hour),
		"auth_time 4m in future": authtest.WithClaim("auth_time", fixedNow.Add(4*time.Minute).Unix()),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), authtest.Mint(key, project, "user-1", at(-time.Minute, time.Hour), opt), false); err != nil {
				t.Fatalf("token within 5 min skew refused: %v", err)
			}
		})
	}
}

func TestLocalAcceptsCertificatePEM(t *testing.T) {
	key, _ := authtest.NewKey(t)
	v := newLocal(t, authtest.CertPEM(t, key))
	if _, err := v.Verify(context.Background(), authtest.Mint(key, project, "u", at(0, time.Hour)), false); err != nil {
		t.Fatalf("token signed by certificate's key refused: %v", err)
	}
}

func TestLocalKeyRotationAndKID(t *testing.T) {
	oldKey, oldPub := authtest.NewKey(t)
	newKey, newPub := authtest.NewKey(t)
	otherKey, _ := authtest.NewKey(t)
	labelled := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": "new"}, Bytes: mustBlock(t, newPub).Bytes})
	v := newLocal(t, append(append([]byte{}, oldPub...), labelled...))
	ok := map[string]string{
		"old key, no kid":   authtest.Mint(oldKey, project, "u", at(0, time.Hour)),
		"new key, no kid":   authtest.Mint(newKey, project, "u", at(0, time.Hour)),
		"new key, kid new":  authtest.Mint(newKey, project, "u", at(0, time.Hour), authtest.WithKID("new")),
		"old key, kid none": authtest.Mint(oldKey, project, "u", at(0, time.Hour), authtest.WithKID("unknown")),
	}
	for name, tok := range ok {
		if _, err := v.Verify(context.Background(), tok, false); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	bad := map[string]string{
		"old key claiming kid new": authtest.Mint(oldKey, project, "u", at(0, time.Hour), authtest.WithKID("new")),
		"unknown key":              authtest.Mint(otherKey, project, "u", at(0, time.Hour)),
	}
	for name, tok := range bad {
		if _, err := v.Verify(context.Background(), tok, false); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
}

func mustBlock(tb testing.TB, p []byte) *pem.Block {
	b, _ := pem.Decode(p)
	if b == nil {
		tb.Fatal("no PEM block")
	}
	return b
}

func TestLocalRefusesForgedTokens(t *testing.T) {
	key, pub := authtest.NewKey(t)
	otherKey, _ := authtest.NewKey(t)
	v := newLocal(t, pub)
	valid := authtest.Mint(key, project, "user-1", at(-time.Minute, time.Hour))
	parts := strings.Split(valid, ".")

	tamperedPayload := func() string {
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(claims), `"user-1"`, `"admin"`, -1)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	}

	cases := []struct {
		name string
		tok  string
		want string // the reason, so a case cannot pass by failing early
	}{
		{"alg none", mustMint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, at(0, time.Hour)), "signing method none"},
		{"HS256 keyed with the public key PEM", mustMint(t, jwt.SigningMethodHS256, pub, at(0, time.Hour)), "signing method HS256"},
		{"RS512 with the right key", mustMint(t, jwt.SigningMethodRS512, key, at(0, time.Hour)), "signing method RS512"},
		{"signed by another key", authtest.Mint(otherKey, project, "user-1", at(0, time.Hour)), "verification error"},
		{"wrong aud", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("aud", "other-project")), "audience"},
		{"aud list containing project", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("aud", []string{project, "x"})), "aud claim must be the string"},
		{"wrong iss", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("iss", "https://securetoken.google.com/other")), "issuer"},
		{"session cookie iss", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("iss", "https://session.firebase.google.com/"+project)), "issuer"},
		{"expired beyond skew", authtest.Mint(key, project, "user-1", at(-2*time.Hour, -6*time.Minute)), "expired"},
		{"iat in future beyond skew", authtest.Mint(key, project, "user-1", at(6*time.Minute, time.Hour)), "used before issued"},
		{"auth_time in future beyond skew", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("auth_time", fixedNow.Add(6*time.Minute).Unix())), "auth_time claim is in the future"},
		{"auth_time missing", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithoutClaim("auth_time")), "auth_time claim must be present"},
		{"auth_time string", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("auth_time", "yesterday")), "auth_time claim must be present"},
		{"iat missing", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithoutClaim("iat")), "iat claim must be present"},
		{"exp missing", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithoutClaim("exp")), "exp claim is required"},
		{"sub missing", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithoutClaim("sub")), "sub (subject) claim is missing"},
		{"sub empty", authtest.Mint(key, project, "", at(0, time.Hour)), "sub (subject) claim is missing"},
		{"sub 200 chars", authtest.Mint(key, project, strings.Repeat("a", 200), at(0, time.Hour)), "over Firebase's 128"},
		{"sub not a string", authtest.Mint(key, project, "user-1", at(0, time.Hour), authtest.WithClaim("sub", 42)), "sub (subject) claim is missing"},
		{"tampered payload", tamperedPayload(), "verification error"},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-10], "verification error"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "verification error"},
		{"two segments", parts[0] + "." + parts[1], "three dot-separated"},
		{"four segments", valid + "." + parts[2], "three dot-separated"},
		{"garbage", "not a token at all", "three dot-separated"},
		{"garbage with dots", "a.b.c", "malformed"},
		{"empty", "", "empty ID token"},
		{"1 MiB", parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2], "over the 8192-byte limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), c.tok, false)
			if err == nil {
				t.Fatalf("forged token accepted: uid %q", got.UID)
			}
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v, want one wrapping ErrInvalidToken (a 401, not a 503)", err)
			}
			if c.tok != "" && len(c.tok) > 20 && strings.Contains(err.Error(), c.tok) {
				t.Fatal("error message contains the raw token")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refused for the wrong reason: %v (want %q)", err, c.want)
			}
		})
	}
}

func TestNewLocalRefusesBadConfig(t *testing.T) {
	_, pub := authtest.NewKey(t)
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("x")})
	cases := []struct {
		name string
		cfg  auth.LocalConfig
		want string
	}{
		{"no project", auth.LocalConfig{PublicKeyPEM: pub}, "ProjectID"},
		{"no key", auth.LocalConfig{ProjectID: project}, "no PEM block"},
		{"not PEM", auth.LocalConfig{ProjectID: project, PublicKeyPEM: []byte("hello")}, "no PEM block"},
		{"private key", auth.LocalConfig{ProjectID: project, PublicKeyPEM: priv}, "unsupported PEM type"},
		{"negative skew", auth.LocalConfig{ProjectID: project, PublicKeyPEM: pub, ClockSkew: -time.Second}, "ClockSkew"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := auth.NewLocal(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
}

func TestLocalCustomSkew(t *testing.T) {
	key, pub := authtest.NewKey(t)
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: project, PublicKeyPEM: pub, Now: clock, ClockSkew: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tok := authtest.Mint(key, project, "u", at(-time.Hour, -2*time.Minute))
	if _, err := v.Verify(context.Background(), tok, false); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("token expired 2m ago with 1m skew: err = %v, want ErrInvalidToken", err)
	}
}
