package auth

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxSubjectLen is Firebase's limit on a uid (the sub claim).
const maxSubjectLen = 128

// localVerifier checks RS256 ID tokens against keys from a PEM file with
// the same claim rules as the Admin SDK. It is immutable after NewLocal and
// so safe for concurrent use.
type localVerifier struct {
	claimRules
	parser *jwt.Parser
	// all holds every key; byKID the one key a token naming that kid must
	// be signed with; unlabelled the keys without a kid, for tokens whose
	// kid matches no label.
	all        jwt.VerificationKeySet
	unlabelled jwt.VerificationKeySet
	byKID      map[string]jwt.VerificationKeySet
}

// NewLocal returns the benchmark verifier (--auth=local): it verifies
// RS256 signatures with golang-jwt against the RSA keys in cfg.PublicKeyPEM
// and applies the Admin SDK's claim checks (aud, iss, sub, iat, exp,
// auth_time, with cfg.ClockSkew). It never touches the network, so it can
// verify thousands of tokens a second; it cannot check revocation, and
// Verify ignores checkRevoked.
func NewLocal(cfg LocalConfig) (Verifier, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: local: ProjectID is empty; pass --project, the aud claim the tokens carry")
	}
	if cfg.ClockSkew < 0 {
		return nil, fmt.Errorf("auth: local: ClockSkew is %v; use a positive duration, or 0 for the default %v", cfg.ClockSkew, DefaultClockSkew)
	}
	skew := cfg.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v := &localVerifier{
		claimRules: claimRules{project: cfg.ProjectID, now: now, skew: skew},
		byKID:      map[string]jwt.VerificationKeySet{},
	}
	labelled, err := v.loadKeys(cfg.PublicKeyPEM)
	if err != nil {
		return nil, err
	}
	for kid, key := range labelled {
		v.byKID[kid] = jwt.VerificationKeySet{Keys: []jwt.VerificationKey{key}}
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(cfg.ProjectID),
		jwt.WithIssuer(IssuerPrefix+cfg.ProjectID),
		jwt.WithLeeway(skew),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
	return v, nil
}

// loadKeys parses every PEM block, filling v.all and v.unlabelled and
// returning the keys that carry a kid header.
func (v *localVerifier) loadKeys(data []byte) (map[string]*rsa.PublicKey, error) {
	labelled := map[string]*rsa.PublicKey{}
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		key, err := parseRSAKey(block)
		if err != nil {
			return nil, fmt.Errorf("auth: local: public key PEM block %d (%s): %w", n, block.Type, err)
		}
		v.all.Keys = append(v.all.Keys, key)
		kid := block.Headers["kid"]
		if kid == "" {
			v.unlabelled.Keys = append(v.unlabelled.Keys, key)
			continue
		}
		if _, dup := labelled[kid]; dup {
			return nil, fmt.Errorf("auth: local: public key PEM block %d: kid %q appears twice; give each key its own kid", n, kid)
		}
		labelled[kid] = key
	}
	if len(v.all.Keys) == 0 {
		return nil, errors.New("auth: local: no PEM block found in the public key file; pass --auth-public-key with a PEM \"PUBLIC KEY\" or \"CERTIFICATE\"")
	}
	return labelled, nil
}

func parseRSAKey(block *pem.Block) (*rsa.PublicKey, error) {
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKIX public key: %w", err)
		}
		pub = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 public key: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		pub = c.PublicKey
	default:
		return nil, errors.New(`unsupported PEM type; use "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" (never a private key)`)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not RSA; Firebase ID tokens are RS256", pub)
	}
	return k, nil
}

// Mode implements Verifier.
func (v *localVerifier) Mode() string { return ModeLocal }

// keyfunc picks the keys a token may be signed with, by its kid header.
func (v *localVerifier) keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" || len(v.byKID) == 0 {
		return v.all, nil
	}
	if ks, ok := v.byKID[kid]; ok {
		return ks, nil
	}
	if len(v.unlabelled.Keys) == 0 {
		return nil, fmt.Errorf("no key with kid %q", kid)
	}
	return v.unlabelled, nil
}

// Verify implements Verifier. checkRevoked is ignored: there is no backend
// to ask.
func (v *localVerifier) Verify(_ context.Context, idToken string, _ bool) (*Token, error) {
	if err := precheck(idToken); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(idToken, claims, v.keyfunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return v.checkClaims(claims)
}

// claimRules are the Firebase ID token claim rules every verifier
// applies, with the Admin SDK's tolerance for clock skew.
type claimRules struct {
	project string
	now     func() time.Time
	skew    time.Duration
}

// validator checks what golang-jwt knows: aud, iss, exp and iat (with
// the skew), for tokens parsed without a signature check.
func (v claimRules) validator() *jwt.Validator {
	return jwt.NewValidator(
		jwt.WithAudience(v.project),
		jwt.WithIssuer(IssuerPrefix+v.project),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(v.now),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
}

// checkClaims applies the Firebase rules golang-jwt does not know.
func (v claimRules) checkClaims(c jwt.MapClaims) (*Token, error) {
	// Firebase's aud is a single string; golang-jwt would also take a list.
	if aud, ok := c["aud"].(string); !ok || aud != v.project {
		return nil, fmt.Errorf("%w: aud claim must be the string %q", ErrInvalidToken, v.project)
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return nil, fmt.Errorf("%w: sub (subject) claim is missing or empty", ErrInvalidToken)
	}
	if len(sub) > maxSubjectLen {
		return nil, fmt.Errorf("%w: sub (subject) claim is %d characters, over Firebase's %d", ErrInvalidToken, len(sub), maxSubjectLen)
	}
	iat, err := numericTime(c, "iat")
	if err != nil {
		return nil, err
	}
	exp, err := numericTime(c, "exp")
	if err != nil {
		return nil, err
	}
	authTime, err := numericTime(c, "auth_time")
	if err != nil {
		return nil, err
	}
	if authTime.After(v.now().Add(v.skew)) {
		return nil, fmt.Errorf("%w: auth_time claim is in the future (%s)", ErrInvalidToken, authTime.UTC().Format(time.RFC3339))
	}
	t := &Token{UID: sub, IssuedAt: iat, Expires: exp, AuthTime: authTime}
	if e, ok := c["email"].(string); ok {
		t.Email = e
	}
	if fb, ok := c["firebase"].(map[string]any); ok {
		t.Tenant, _ = fb["tenant"].(string)
	}
	// Same custom-claims view as the Admin SDK's Token.Claims.
	for _, k := range []string{"iss", "aud", "exp", "iat", "sub", "uid"} {
		delete(c, k)
	}
	t.Claims = c
	return t, nil
}

// numericTime reads a required NumericDate claim (seconds since the epoch).
func numericTime(c jwt.MapClaims, name string) (time.Time, error) {
	f, ok := c[name].(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > math.MaxInt32*4 {
		return time.Time{}, fmt.Errorf("%w: %s claim must be present and a number of seconds since 1970", ErrInvalidToken, name)
	}
	return time.Unix(int64(f), 0), nil
}

// compile-time interface checks
var (
	_ Verifier = (*localVerifier)(nil)
	_ Verifier = (*googleVerifier)(nil)
)
