// Package authtest mints Firebase-shaped RS256 ID tokens for tests and
// benchmarks of packages that use the local verifier (auth.NewLocal).
//
// It exists so that tests of the HTTP layer can log users in without a
// network or an emulator: generate a key with NewKey, give its public PEM to
// auth.NewLocal, and Mint tokens for any uid. Options override any claim or
// header, so the same helper also builds forged tokens for negative tests.
//
// This package is for tests only; nothing in a production binary should
// import it.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeyBits is the RSA modulus size NewKey generates: 2048, the size Firebase
// itself signs ID tokens with, so benchmarks measure realistic verify cost.
const KeyBits = 2048

// IssuerPrefix is what Firebase puts before the project ID in the iss claim.
const IssuerPrefix = "https://securetoken.google.com/"

// NewKey generates a fresh RSA key and returns it with its public key as a
// PEM "PUBLIC KEY" block, the form auth.LocalConfig.PublicKeyPEM accepts.
// It fails the test if key generation fails.
func NewKey(tb testing.TB) (*rsa.PrivateKey, []byte) {
	tb.Helper()
	key, pub, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return key, pub
}

// GenerateKey is NewKey for code without a testing.TB (examples, tools).
func GenerateKey() (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("authtest: generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("authtest: marshal public key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// CertPEM returns a self-signed certificate for key as a PEM "CERTIFICATE"
// block: Firebase publishes its signing keys as certificates, so the local
// verifier must accept that form too.
func CertPEM(tb testing.TB, key *rsa.PrivateKey) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sessionbench test signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("authtest: create certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Option changes the claims or header of a minted token.
type Option func(claims, header map[string]any)

// WithClaim sets claim name to value, replacing any default (use it to
// forge aud, iss, exp, ... in negative tests).
func WithClaim(name string, value any) Option {
	return func(c, _ map[string]any) { c[name] = value }
}

// WithoutClaim removes claim name, e.g. to test a missing sub or auth_time.
func WithoutClaim(name string) Option {
	return func(c, _ map[string]any) { delete(c, name) }
}

// WithHeader sets JOSE header field name to value. Setting "alg" here does
// not change how the token is signed; use MintWith for that.
func WithHeader(name string, value any) Option {
	return func(_, h map[string]any) { h[name] = value }
}

// WithKID sets the kid header, naming which of several keys signed the token.
func WithKID(kid string) Option { return WithHeader("kid", kid) }

// WithEmail sets the email claim (and email_verified), as Firebase does for
// password users.
func WithEmail(email string) Option {
	return func(c, _ map[string]any) {
		c["email"] = email
		c["email_verified"] = true
	}
}

// WithTenant sets firebase.tenant, the Identity Platform tenant ID.
func WithTenant(tenant string) Option {
	return func(c, _ map[string]any) {
		fb, _ := c["firebase"].(map[string]any)
		if fb == nil {
			fb = map[string]any{}
			c["firebase"] = fb
		}
		fb["tenant"] = tenant
	}
}

// WithTimes sets iat and auth_time to issued and exp to expires, the three
// time claims the verifiers check against their clock.
func WithTimes(issued, expires time.Time) Option {
	return func(c, _ map[string]any) {
		c["iat"] = issued.Unix()
		c["auth_time"] = issued.Unix()
		c["exp"] = expires.Unix()
	}
}

// Claims returns the claims Firebase would put in an ID token for uid in
// project, issued now and valid for one hour, with opts applied. The second
// result is the JOSE header fields besides alg (empty unless opts set some).
func Claims(project, uid string, opts ...Option) (claims, header map[string]any) {
	now := time.Now()
	claims = map[string]any{
		"iss":       IssuerPrefix + project,
		"aud":       project,
		"auth_time": now.Unix(),
		"user_id":   uid,
		"sub":       uid,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"firebase": map[string]any{
			"identities":       map[string]any{},
			"sign_in_provider": "custom",
		},
	}
	header = map[string]any{}
	for _, o := range opts {
		o(claims, header)
	}
	return claims, header
}

// MintWith signs a Firebase-shaped token for uid with method and key, for
// negative tests (jwt.SigningMethodNone with jwt.UnsafeAllowNoneSignatureType,
// HS256 keyed with the public PEM, ...).
func MintWith(method jwt.SigningMethod, key any, project, uid string, opts ...Option) (string, error) {
	claims, header := Claims(project, uid, opts...)
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("authtest: sign %s token: %w", method.Alg(), err)
	}
	return s, nil
}

// Mint signs a valid RS256 Firebase-shaped ID token for uid in project with
// key, with opts applied. It panics if signing fails, which with a valid
// RSA key only happens if crypto/rand fails.
func Mint(key *rsa.PrivateKey, project, uid string, opts ...Option) string {
	s, err := MintWith(jwt.SigningMethodRS256, key, project, uid, opts...)
	if err != nil {
		panic(err)
	}
	return s
}
