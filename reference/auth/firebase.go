package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	fbauth "firebase.google.com/go/v4/auth"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
)

// sdkVerifier verifies ID tokens with the Firebase Admin SDK. The same
// type serves production and emulator mode: the SDK switches itself on
// FIREBASE_AUTH_EMULATOR_HOST, and the constructors make sure that switch
// is in the position the operator asked for.
type sdkVerifier struct {
	client *fbauth.Client
	mode   string
	// noRevocation, when set, is why revocation checks cannot work (no
	// credentials for the user lookup); Verify with checkRevoked then fails
	// closed with it instead of asking Google unauthenticated.
	noRevocation error
}

// NewFirebase returns the production verifier: the Firebase Admin SDK
// checks the RS256 signature against Google's published keys (fetched
// lazily on first use and cached), aud, iss, sub, iat and exp; with
// checkRevoked it also looks the user up to refuse revoked tokens and
// disabled users. Construction needs no network.
//
// It refuses to build when FIREBASE_AUTH_EMULATOR_HOST is set, either in
// cfg.EmulatorHost or in the process environment (which the SDK reads on
// its own): the SDK would then accept unsigned tokens.
func NewFirebase(ctx context.Context, cfg FirebaseConfig) (Verifier, error) {
	if err := CheckEmulatorGuard(ModeFirebase, cfg.EmulatorHost); err != nil {
		return nil, err
	}
	// The one environment read in this package: the SDK makes the same
	// read, and a mismatch here would disable signature checks.
	if err := CheckEmulatorGuard(ModeFirebase, os.Getenv(EmulatorHostEnv)); err != nil {
		return nil, fmt.Errorf("process environment: %w", err)
	}
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: firebase: ProjectID is empty; pass --project or set GOOGLE_CLOUD_PROJECT")
	}
	var (
		opts         []option.ClientOption
		noRevocation error
	)
	if cfg.CredentialsFile != "" {
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	} else if _, err := google.FindDefaultCredentials(ctx); err != nil {
		// Signature checks need no credentials (Google's keys are
		// public); only the revocation lookup does. Build anyway and make
		// revocation checks fail closed with the reason.
		opts = append(opts, option.WithoutAuthentication())
		noRevocation = fmt.Errorf("no Google credentials for the revocation lookup (set GOOGLE_APPLICATION_CREDENTIALS to a service-account file): %w", err)
	}
	c, err := newSDKClient(ctx, cfg.ProjectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("auth: firebase: %w", err)
	}
	return &sdkVerifier{client: c, mode: ModeFirebase, noRevocation: noRevocation}, nil
}

// NewEmulator returns a verifier backed by the Firebase Auth emulator:
// the Admin SDK in emulator mode, which accepts the emulator's unsigned
// (alg "none") tokens, still checks aud, iss, sub, iat and exp, and asks
// the emulator on every call whether the user is disabled or its tokens
// revoked. Development only.
//
// cfg.EmulatorHost must be set and equal FIREBASE_AUTH_EMULATOR_HOST in
// the process environment, because that is what the SDK uses.
func NewEmulator(ctx context.Context, cfg EmulatorConfig) (Verifier, error) {
	if err := CheckEmulatorGuard(ModeEmulator, cfg.EmulatorHost); err != nil {
		return nil, err
	}
	if env := os.Getenv(EmulatorHostEnv); env != cfg.EmulatorHost {
		return nil, fmt.Errorf("auth: emulator: EmulatorHost is %q but the process has %s=%q, which the Firebase Admin SDK reads itself; export %s=%s before starting",
			cfg.EmulatorHost, EmulatorHostEnv, env, EmulatorHostEnv, cfg.EmulatorHost)
	}
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: emulator: ProjectID is empty; pass the project the emulator runs (firebase emulators:start --project demo-...)")
	}
	c, err := newSDKClient(ctx, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("auth: emulator: %w", err)
	}
	return &sdkVerifier{client: c, mode: ModeEmulator}, nil
}

func newSDKClient(ctx context.Context, project string, opts ...option.ClientOption) (*fbauth.Client, error) {
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("init Firebase app: %w", err)
	}
	c, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("init Firebase Auth client: %w", err)
	}
	return c, nil
}

// Mode implements Verifier.
func (v *sdkVerifier) Mode() string { return v.mode }

// Verify implements Verifier.
func (v *sdkVerifier) Verify(ctx context.Context, idToken string, checkRevoked bool) (*Token, error) {
	if err := precheck(idToken); err != nil {
		return nil, err
	}
	var (
		t   *fbauth.Token
		err error
	)
	if checkRevoked && v.noRevocation != nil {
		return nil, fmt.Errorf("auth: %s: cannot verify ID token now: %w", v.mode, v.noRevocation)
	}
	if checkRevoked {
		t, err = v.client.VerifyIDTokenAndCheckRevoked(ctx, idToken)
	} else {
		t, err = v.client.VerifyIDToken(ctx, idToken)
	}
	if err != nil {
		return nil, classifySDKError(v.mode, err)
	}
	return fromSDKToken(t), nil
}

// classifySDKError maps an Admin SDK error onto the contract: the token's
// fault wraps ErrInvalidToken (or ErrRevoked / ErrUserDisabled); anything
// else (key fetch, emulator or user lookup unreachable, missing
// credentials) stays a plain error so the caller answers 503.
func classifySDKError(mode string, err error) error {
	switch {
	case fbauth.IsUserDisabled(err):
		return fmt.Errorf("auth: %s: %w: %w", mode, ErrUserDisabled, err)
	case fbauth.IsIDTokenRevoked(err):
		return fmt.Errorf("auth: %s: %w: %w", mode, ErrRevoked, err)
	case fbauth.IsIDTokenInvalid(err), fbauth.IsTenantIDMismatch(err):
		return fmt.Errorf("auth: %s: %w: %w", mode, ErrInvalidToken, err)
	case fbauth.IsUserNotFound(err):
		// The revocation lookup found no such user: it was deleted, so
		// its tokens are no longer valid.
		return fmt.Errorf("auth: %s: %w: user no longer exists: %w", mode, ErrInvalidToken, err)
	default:
		return fmt.Errorf("auth: %s: cannot verify ID token now: %w", mode, err)
	}
}

func fromSDKToken(t *fbauth.Token) *Token {
	out := &Token{
		UID:      t.UID,
		Tenant:   t.Firebase.Tenant,
		AuthTime: time.Unix(t.AuthTime, 0),
		IssuedAt: time.Unix(t.IssuedAt, 0),
		Expires:  time.Unix(t.Expires, 0),
		Claims:   t.Claims,
	}
	if e, ok := t.Claims["email"].(string); ok {
		out.Email = e
	}
	return out
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
