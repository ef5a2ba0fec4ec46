package auth

// This file holds the verifiers of --auth=firebase and --auth=emulator:
// golang-jwt against Google's published certificates (or, for the
// emulator, no signature), and the Identity Toolkit REST API for the
// user lookups. They replace the Firebase Admin SDK, whose import alone
// cost sessiond about 16 MB of resident memory (it pulls in Firestore,
// Cloud Storage and gRPC) for the two calls used here.

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// googleVerifier verifies ID tokens as the Admin SDK does: the claims
// first (decided offline, the client's fault when wrong), then the RS256
// signature against Google's keys by kid; in emulator mode the emulator's
// unsigned tokens are accepted and the user is looked up on every call.
type googleVerifier struct {
	claimRules
	mode      string
	parser    *jwt.Parser
	validator *jwt.Validator
	certs     *certCache // nil in emulator mode: no signature to check
	users     *toolkitUsers
	// noRevocation, when set, is why revocation checks cannot work (no
	// credentials for the user lookup); Verify with checkRevoked then
	// fails closed with it instead of asking Google unauthenticated.
	noRevocation error
}

// NewFirebase returns the production verifier: the RS256 signature is
// checked against the certificates Google publishes (FirebaseConfig.CertsURL,
// fetched on first use and cached as long as Google says), then aud, iss,
// sub, iat, exp and auth_time with DefaultClockSkew; with checkRevoked it
// also looks the user up (Identity Toolkit accounts:lookup, with Google
// credentials) to refuse revoked tokens, disabled and deleted users.
// Construction needs no network.
//
// It refuses to build when FIREBASE_AUTH_EMULATOR_HOST is set, in
// cfg.EmulatorHost or in the process environment: whoever set it expects
// emulator tokens, and Google's SDKs in the same process would accept
// unsigned tokens.
func NewFirebase(ctx context.Context, cfg FirebaseConfig) (Verifier, error) {
	if err := CheckEmulatorGuard(ModeFirebase, cfg.EmulatorHost); err != nil {
		return nil, err
	}
	if err := CheckEmulatorGuard(ModeFirebase, os.Getenv(EmulatorHostEnv)); err != nil {
		return nil, fmt.Errorf("process environment: %w", err)
	}
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: firebase: ProjectID is empty; pass --project or set GOOGLE_CLOUD_PROJECT")
	}
	v := newGoogleVerifier(ModeFirebase, cfg.ProjectID, cfg.Now)
	certsURL := cfg.CertsURL
	if certsURL == "" {
		certsURL = GoogleCertsURL
	}
	v.certs = newCertCache(certsURL, &http.Client{Timeout: certsFetchTimeout}, v.now)
	hc, err := googleClient(ctx, cfg.CredentialsFile)
	if err != nil {
		if cfg.CredentialsFile != "" {
			return nil, fmt.Errorf("auth: firebase: %w", err)
		}
		// Signature checks need no credentials (Google's keys are
		// public); only the user lookup does. Build anyway and make
		// revocation checks fail closed with the reason.
		v.noRevocation = fmt.Errorf("no Google credentials for the revocation lookup (set GOOGLE_APPLICATION_CREDENTIALS to a service-account file): %w", err)
		return v, nil
	}
	endpoint := cfg.IdentityToolkitURL
	if endpoint == "" {
		endpoint = IdentityToolkitURL
	}
	v.users = newToolkitUsers(ModeFirebase, endpoint, cfg.ProjectID, hc)
	return v, nil
}

// NewEmulator returns a verifier backed by the Firebase Auth emulator at
// cfg.EmulatorHost: it accepts the emulator's unsigned (alg "none")
// tokens, still checks aud, iss, sub, iat, exp and auth_time, and asks the
// emulator on every call whether the user exists, is disabled or had its
// tokens revoked (as the Admin SDK does in emulator mode). Development
// only.
func NewEmulator(_ context.Context, cfg EmulatorConfig) (Verifier, error) {
	if err := CheckEmulatorGuard(ModeEmulator, cfg.EmulatorHost); err != nil {
		return nil, err
	}
	if strings.Contains(cfg.EmulatorHost, "/") {
		return nil, fmt.Errorf("auth: emulator: %s=%q must be host:port without a scheme or path (e.g. 127.0.0.1:9099)", EmulatorHostEnv, cfg.EmulatorHost)
	}
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: emulator: ProjectID is empty; pass the project the emulator runs (firebase emulators:start --project demo-...)")
	}
	v := newGoogleVerifier(ModeEmulator, cfg.ProjectID, nil)
	hc := &http.Client{Timeout: toolkitTimeout, Transport: emulatorOwner{http.DefaultTransport}}
	v.users = newToolkitUsers(ModeEmulator, "http://"+cfg.EmulatorHost+"/identitytoolkit.googleapis.com", cfg.ProjectID, hc)
	return v, nil
}

func newGoogleVerifier(mode, project string, now func() time.Time) *googleVerifier {
	if now == nil {
		now = time.Now
	}
	v := &googleVerifier{
		claimRules: claimRules{project: project, now: now, skew: DefaultClockSkew},
		mode:       mode,
		parser:     jwt.NewParser(),
	}
	v.validator = v.claimRules.validator()
	return v
}

// Mode implements Verifier.
func (v *googleVerifier) Mode() string { return v.mode }

// Verify implements Verifier.
func (v *googleVerifier) Verify(ctx context.Context, idToken string, checkRevoked bool) (*Token, error) {
	if err := precheck(idToken); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	tok, parts, err := v.parser.ParseUnverified(idToken, claims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	kid, _ := tok.Header["kid"].(string)
	if v.certs != nil {
		if tok.Method.Alg() != jwt.SigningMethodRS256.Alg() {
			return nil, fmt.Errorf("%w: alg is %q; Firebase ID tokens are RS256", ErrInvalidToken, tok.Method.Alg())
		}
		if kid == "" {
			return nil, fmt.Errorf("%w: no kid header; send an ID token from the Firebase client SDK's getIdToken(), not a custom token", ErrInvalidToken)
		}
	}
	if err := v.validator.Validate(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	t, err := v.checkClaims(claims)
	if err != nil {
		return nil, err
	}
	if v.certs != nil {
		if err := v.checkSignature(ctx, kid, parts, tok.Signature); err != nil {
			return nil, err
		}
	}
	if checkRevoked || v.certs == nil {
		if v.noRevocation != nil { // decided last: a bad token is still the client's fault
			return nil, fmt.Errorf("auth: %s: cannot verify ID token now: %w", v.mode, v.noRevocation)
		}
		if err := v.checkUser(ctx, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (v *googleVerifier) checkSignature(ctx context.Context, kid string, parts []string, sig []byte) error {
	keys, err := v.certs.get(ctx)
	if err != nil {
		return fmt.Errorf("auth: %s: cannot verify ID token now: %w", v.mode, err)
	}
	var key *rsa.PublicKey
	if key = keys[kid]; key == nil {
		return fmt.Errorf("%w: kid %q is not one of Google's current keys", ErrInvalidToken, kid)
	}
	if err := jwt.SigningMethodRS256.Verify(parts[0]+"."+parts[1], sig, key); err != nil {
		return fmt.Errorf("%w: signature: %w", ErrInvalidToken, err)
	}
	return nil
}

// checkUser refuses tokens of deleted or disabled users and tokens
// issued before the user's tokens were revoked (the Admin SDK's rule:
// iat before validSince).
func (v *googleVerifier) checkUser(ctx context.Context, t *Token) error {
	u, err := v.users.User(ctx, t.UID)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return fmt.Errorf("auth: %s: %w: user no longer exists: %w", v.mode, ErrInvalidToken, err)
	case err != nil:
		return fmt.Errorf("auth: %s: cannot verify ID token now: %w", v.mode, err)
	case u.Disabled:
		return fmt.Errorf("auth: %s: %w", v.mode, ErrUserDisabled)
	case !u.TokensValidAfter.IsZero() && t.IssuedAt.Before(u.TokensValidAfter):
		return fmt.Errorf("auth: %s: %w: issued %s, tokens valid after %s", v.mode, ErrRevoked,
			t.IssuedAt.UTC().Format(time.RFC3339), u.TokensValidAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// precheck refuses obviously malformed input before any decoding: empty,
// larger than MaxTokenBytes, or not three dot-separated segments.
func precheck(idToken string) error {
	switch {
	case idToken == "":
		return fmt.Errorf("%w: empty ID token; send the token from the Firebase client SDK's getIdToken()", ErrInvalidToken)
	case len(idToken) > MaxTokenBytes:
		return fmt.Errorf("%w: ID token is %d bytes, over the %d-byte limit", ErrInvalidToken, len(idToken), MaxTokenBytes)
	case strings.Count(idToken, ".") != 2:
		return fmt.Errorf("%w: ID token must be a JWT of three dot-separated segments", ErrInvalidToken)
	}
	return nil
}
