package tokens_test

import (
	"context"
	"os"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// TestEmulatorTokensVerifyWithEmulatorVerifier creates a small pool in a
// real Firebase Auth emulator and checks sessiond's emulator-mode
// verifier accepts its tokens for the right users.
func TestEmulatorTokensVerifyWithEmulatorVerifier(t *testing.T) {
	host, project := testsvc.StartAuthEmulator(t)
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", host) // as sessiond would find it in its environment
	ctx := context.Background()
	src, err := tokens.NewEmulator(ctx, tokens.EmulatorConfig{Host: host, Project: project, Users: 3})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewEmulator(ctx, auth.EmulatorConfig{ProjectID: project, EmulatorHost: os.Getenv("FIREBASE_AUTH_EMULATOR_HOST")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		tok, err := src.Token(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(ctx, tok, true)
		if err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if got.UID != tokens.UID(i) {
			t.Errorf("user %d: uid %q", i, got.UID)
		}
		if again, _ := src.Token(ctx, i); again != tok {
			t.Errorf("user %d: second Token re-signed-in, want the cached token", i)
		}
	}
	if src.Mode() != "emulator" || src.Users() != 3 {
		t.Errorf("mode %q users %d", src.Mode(), src.Users())
	}
}

func TestNewEmulatorNeedsHost(t *testing.T) {
	if _, err := tokens.NewEmulator(context.Background(), tokens.EmulatorConfig{Users: 1}); err == nil {
		t.Fatal("empty host accepted")
	}
}
