package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

func TestCheckEmulatorGuardRefusesFirebaseModeWithEmulatorHost(t *testing.T) {
	err := auth.CheckEmulatorGuard(auth.ModeFirebase, "127.0.0.1:9099")
	if err == nil {
		t.Fatal("firebase mode with emulator host set was allowed")
	}
	for _, want := range []string{"--auth=firebase", "FIREBASE_AUTH_EMULATOR_HOST", "unset", "--auth=emulator"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCheckEmulatorGuardRefusesEmulatorModeWithoutHost(t *testing.T) {
	err := auth.CheckEmulatorGuard(auth.ModeEmulator, "")
	if err == nil {
		t.Fatal("emulator mode without emulator host was allowed")
	}
	for _, want := range []string{"--auth=emulator", "FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCheckEmulatorGuardAllowsConsistentModes(t *testing.T) {
	for _, c := range []struct{ mode, host string }{
		{auth.ModeFirebase, ""}, {auth.ModeEmulator, "127.0.0.1:9099"}, {auth.ModeLocal, ""}, {auth.ModeLocal, "127.0.0.1:9099"},
	} {
		if err := auth.CheckEmulatorGuard(c.mode, c.host); err != nil {
			t.Errorf("CheckEmulatorGuard(%q, %q) = %v, want nil", c.mode, c.host, err)
		}
	}
	if err := auth.CheckEmulatorGuard("none", ""); err == nil || !strings.Contains(err.Error(), "unknown --auth mode") {
		t.Errorf("unknown mode: err = %v", err)
	}
}

func TestNewFirebaseRefusesEmulatorHost(t *testing.T) {
	_, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{ProjectID: "p", EmulatorHost: "127.0.0.1:9099"})
	if err == nil || !strings.Contains(err.Error(), "FIREBASE_AUTH_EMULATOR_HOST") {
		t.Fatalf("err = %v, want the emulator guard", err)
	}
}

// The SDK reads the variable itself, so a host set only in the process
// environment (not passed in the config) must still stop production mode.
func TestNewFirebaseRefusesEmulatorHostInProcessEnv(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "127.0.0.1:9099")
	_, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{ProjectID: "p"})
	if err == nil || !strings.Contains(err.Error(), "process environment") {
		t.Fatalf("err = %v, want refusal naming the process environment", err)
	}
}

func TestNewEmulatorRefusesMissingOrMalformedHost(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "")
	if _, err := auth.NewEmulator(context.Background(), auth.EmulatorConfig{ProjectID: "demo-x"}); err == nil || !strings.Contains(err.Error(), "--auth=emulator") {
		t.Fatalf("no host: err = %v", err)
	}
	if _, err := auth.NewEmulator(context.Background(), auth.EmulatorConfig{ProjectID: "demo-x", EmulatorHost: "http://127.0.0.1:9099"}); err == nil || !strings.Contains(err.Error(), "host:port without a scheme") {
		t.Fatalf("host with a scheme: err = %v", err)
	}
	t.Setenv(auth.EmulatorHostEnv, "127.0.0.1:9099")
	if _, err := auth.NewEmulator(context.Background(), auth.EmulatorConfig{EmulatorHost: "127.0.0.1:9099"}); err == nil || !strings.Contains(err.Error(), "ProjectID") {
		t.Fatalf("no project: err = %v", err)
	}
}

func TestNewFirebaseRequiresProject(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "")
	_, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{})
	if err == nil || !strings.Contains(err.Error(), "ProjectID") {
		t.Fatalf("err = %v, want ProjectID named", err)
	}
}

// Production mode builds without network or credentials; a token signed
// by a key that is not Google's is refused. Offline the SDK cannot fetch
// Google's keys, so the refusal is either ErrInvalidToken (keys fetched, no
// match) or a non-ErrInvalidToken "cannot verify" error (fetch failed):
// both are refusals, and the second must never be classed as the client's
// fault.
func TestFirebaseRefusesTokenFromRandomKey(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	v, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{ProjectID: "sessionbench-test"})
	if err != nil {
		t.Fatalf("NewFirebase without network: %v", err)
	}
	if v.Mode() != auth.ModeFirebase {
		t.Errorf("Mode = %q", v.Mode())
	}
	key, _ := authtest.NewKey(t)
	tok := authtest.Mint(key, "sessionbench-test", "user-1", authtest.WithKID("not-a-google-kid"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := v.Verify(ctx, tok, false)
	if err == nil {
		t.Fatalf("token signed by a random key accepted: %+v", got)
	}
	if !errors.Is(err, auth.ErrInvalidToken) && !strings.Contains(err.Error(), "cannot verify ID token now") {
		t.Fatalf("err = %v: neither invalid nor a classified fetch failure", err)
	}
	t.Logf("refused with: %v", err)
}

// Claim checks run before the key fetch, so these are decided offline and
// must be the client's fault (401), never a 503.
func TestFirebaseRefusesMalformedTokensOffline(t *testing.T) {
	t.Setenv(auth.EmulatorHostEnv, "")
	v, err := auth.NewFirebase(context.Background(), auth.FirebaseConfig{ProjectID: "sessionbench-test"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := authtest.NewKey(t)
	cases := map[string]string{
		"garbage":    "garbage",
		"no kid":     authtest.Mint(key, "sessionbench-test", "u"),
		"wrong aud":  authtest.Mint(key, "other", "u", authtest.WithKID("k")),
		"expired":    authtest.Mint(key, "sessionbench-test", "u", authtest.WithKID("k"), authtest.WithTimes(time.Now().Add(-3*time.Hour), time.Now().Add(-2*time.Hour))),
		"oversized":  strings.Repeat("a.", 5000) + "a",
		"long sub":   authtest.Mint(key, "sessionbench-test", strings.Repeat("u", 129), authtest.WithKID("k")),
		"empty":      "",
		"four parts": "a.b.c.d",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok, false); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestProjectFromEnv(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"none", nil, ""},
		{"GOOGLE_CLOUD_PROJECT", map[string]string{"GOOGLE_CLOUD_PROJECT": "a", "GCLOUD_PROJECT": "b"}, "a"},
		{"GCLOUD_PROJECT", map[string]string{"GCLOUD_PROJECT": "b"}, "b"},
		{"FIREBASE_CONFIG JSON wins", map[string]string{"FIREBASE_CONFIG": `{"projectId":"c"}`, "GOOGLE_CLOUD_PROJECT": "a"}, "c"},
		{"FIREBASE_CONFIG file name ignored", map[string]string{"FIREBASE_CONFIG": "/etc/fb.json", "GCLOUD_PROJECT": "b"}, "b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := auth.ProjectFromEnv(func(k string) string { return c.env[k] }); got != c.want {
				t.Fatalf("ProjectFromEnv = %q, want %q", got, c.want)
			}
		})
	}
}

func TestWarningOnlyForNonProductionModes(t *testing.T) {
	if w := auth.Warning(auth.ModeFirebase); w != "" {
		t.Errorf("firebase mode warning = %q, want none", w)
	}
	for _, m := range []string{auth.ModeEmulator, auth.ModeLocal} {
		if w := auth.Warning(m); !strings.Contains(w, "WARNING") || !strings.Contains(w, "--auth="+m) {
			t.Errorf("Warning(%q) = %q", m, w)
		}
	}
}
