package auth

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// EmulatorHostEnv is the environment variable that points Firebase's
// Admin SDKs (and sessiond's --auth=emulator) at the Auth emulator. A
// process that has it set expects emulator tokens, which is why the
// guards below exist.
const EmulatorHostEnv = "FIREBASE_AUTH_EMULATOR_HOST"

// DefaultClockSkew is the clock skew the verifiers tolerate on iat, exp and
// auth_time: 5 minutes, as the Firebase Admin SDK does.
const DefaultClockSkew = 5 * time.Minute

// MaxTokenBytes caps the size of an ID token any verifier will look at.
// Firebase ID tokens are 1-2 KiB (custom claims are limited to 1000
// bytes); the cap refuses oversized input before any decoding work.
const MaxTokenBytes = 8 << 10

// IssuerPrefix is the iss claim of a Firebase ID token, before the project ID.
const IssuerPrefix = "https://securetoken.google.com/"

// ProjectFromEnv returns the Firebase project ID from the environment the
// way the Admin SDK finds it: the projectId of FIREBASE_CONFIG when that
// holds inline JSON, then GOOGLE_CLOUD_PROJECT, then GCLOUD_PROJECT. It
// returns "" when none is set. (The SDK also reads FIREBASE_CONFIG as a
// file name and asks the credentials; sessiond takes --project for those
// cases.) getenv is os.Getenv in a main, a map lookup in tests.
func ProjectFromEnv(getenv func(string) string) string {
	if fc := strings.TrimSpace(getenv("FIREBASE_CONFIG")); strings.HasPrefix(fc, "{") {
		var c struct {
			ProjectID string `json:"projectId"`
		}
		if json.Unmarshal([]byte(fc), &c) == nil && c.ProjectID != "" {
			return c.ProjectID
		}
	}
	for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	return ""
}

// CheckEmulatorGuard refuses the combinations of --auth mode and
// FIREBASE_AUTH_EMULATOR_HOST (emulatorHost, its value) that would make the
// server verify tokens differently from what the operator asked for:
// production mode with the emulator host set (whoever set it expects
// unsigned emulator tokens, and a Firebase Admin SDK in the process would
// accept them from anyone), and emulator mode without it (nothing to ask). It also refuses unknown
// modes. The error names the flag, the variable and the fix.
func CheckEmulatorGuard(mode, emulatorHost string) error {
	switch mode {
	case ModeFirebase:
		if emulatorHost != "" {
			return fmt.Errorf("--auth=%s refuses to run while %s is set (%q): it points Firebase at the emulator, whose unsigned tokens anyone can forge; unset %s for production, or use --auth=%s for development against the emulator",
				ModeFirebase, EmulatorHostEnv, emulatorHost, EmulatorHostEnv, ModeEmulator)
		}
	case ModeEmulator:
		if emulatorHost == "" {
			return fmt.Errorf("--auth=%s needs %s set to the Auth emulator's host:port (e.g. 127.0.0.1:9099 from `firebase emulators:start --only auth`); set it, or use --auth=%s (production) or --auth=%s (benchmarks)",
				ModeEmulator, EmulatorHostEnv, ModeFirebase, ModeLocal)
		}
	case ModeLocal:
	default:
		return fmt.Errorf("unknown --auth mode %q; use %s (production, default), %s or %s", mode, ModeFirebase, ModeEmulator, ModeLocal)
	}
	return nil
}

// Warning returns the loud startup warning sessiond logs for modes that do
// not verify tokens against Google ("" for ModeFirebase). Constructors do
// not log; the main decides where the warning goes.
func Warning(mode string) string {
	switch mode {
	case ModeEmulator:
		return "WARNING: --auth=emulator: ID tokens are NOT signature-checked; they are trusted from the Firebase Auth emulator (" +
			EmulatorHostEnv + "). Anyone can forge them. Development only: never expose this server."
	case ModeLocal:
		return "WARNING: --auth=local: ID tokens are checked against the local --auth-public-key, not Google's keys. " +
			"Anyone holding the matching private key can log in as any user, and revocation is not checked. Benchmarks only."
	default:
		return ""
	}
}

// FirebaseConfig configures the production verifier (--auth=firebase).
type FirebaseConfig struct {
	// ProjectID is the Firebase project whose ID tokens are accepted (the
	// aud claim). Required; see ProjectFromEnv.
	ProjectID string
	// EmulatorHost is the value of FIREBASE_AUTH_EMULATOR_HOST as the
	// process sees it. It must be empty: a process pointed at the emulator
	// must not verify production tokens. NewFirebase also checks the
	// process environment.
	EmulatorHost string
	// CertsURL is where the signing certificates are fetched; empty means
	// GoogleCertsURL. Tests and egress proxies set it.
	CertsURL string
	// IdentityToolkitURL is the Identity Toolkit API root for the user
	// lookups; empty means IdentityToolkitURL. Tests set it.
	IdentityToolkitURL string
	// Now is the clock for the claims and the certificate cache; nil
	// means time.Now. Tests set it.
	Now func() time.Time
	// CredentialsFile is an optional service-account JSON file, used only
	// for the revocation check (a user lookup). Empty means Application
	// Default Credentials; with none found, plain verification still works
	// (Google's signing keys are public) and Verify with checkRevoked fails
	// closed with a non-ErrInvalidToken error (HTTP 503) naming the fix.
	CredentialsFile string
}

// EmulatorConfig configures the emulator verifier (--auth=emulator).
type EmulatorConfig struct {
	// ProjectID is the project the emulator was started with (--project);
	// tokens for other projects are refused. Required.
	ProjectID string
	// EmulatorHost is the value of FIREBASE_AUTH_EMULATOR_HOST ("127.0.0.1:9099").
	// Required; sessiond passes the process environment's value.
	EmulatorHost string
}

// LocalConfig configures the local RS256 verifier (--auth=local).
type LocalConfig struct {
	// ProjectID is the expected aud claim; iss must be IssuerPrefix+ProjectID.
	// Required.
	ProjectID string
	// PublicKeyPEM holds one or more PEM blocks: "PUBLIC KEY" (PKIX),
	// "RSA PUBLIC KEY" (PKCS#1) or "CERTIFICATE", all RSA. Several blocks
	// allow key rotation: a token verifies if any key matches. A block may
	// carry a "kid" PEM header; a token whose kid header names it is then
	// checked against that key only, and a token with any other kid
	// against the unlabelled keys. Required.
	PublicKeyPEM []byte
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// ClockSkew is the tolerance on iat, exp and auth_time; zero means
	// DefaultClockSkew (5 min). Negative is an error.
	ClockSkew time.Duration
}
