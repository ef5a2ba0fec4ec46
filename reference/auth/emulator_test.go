package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
	"github.com/sessionbench/sessionbench/reference/auth/emulator"
)

// TestEmulator runs every emulator-backed case against one Firebase Auth
// emulator, since starting one takes about 10 s.
func TestEmulator(t *testing.T) {
	host, project := testsvc.StartAuthEmulator(t)
	t.Setenv(auth.EmulatorHostEnv, host)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	v, err := auth.NewEmulator(ctx, auth.EmulatorConfig{ProjectID: project, EmulatorHost: host})
	if err != nil {
		t.Fatalf("NewEmulator: %v", err)
	}
	if v.Mode() != auth.ModeEmulator {
		t.Fatalf("Mode = %q", v.Mode())
	}
	c, err := emulator.New(host, project, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("signed-up user's token verifies", func(t *testing.T) {
		s, err := c.SignUp(ctx, "alice@example.com", "password-1")
		if err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		for _, check := range []bool{false, true} {
			tok, err := v.Verify(ctx, s.IDToken, check)
			if err != nil {
				t.Fatalf("Verify(checkRevoked=%v): %v", check, err)
			}
			if tok.UID != s.UID || tok.Email != "alice@example.com" {
				t.Errorf("token uid %q email %q, want %q alice@example.com", tok.UID, tok.Email, s.UID)
			}
			if tok.AuthTime.IsZero() || !tok.Expires.After(tok.IssuedAt) {
				t.Errorf("times: auth %v iat %v exp %v", tok.AuthTime, tok.IssuedAt, tok.Expires)
			}
		}
		if _, err := c.SignUp(ctx, "alice@example.com", "password-1"); err == nil {
			t.Error("second SignUp with the same email succeeded; want EMAIL_EXISTS")
		}
	})

	t.Run("batch-created users sign in", func(t *testing.T) {
		users := make([]emulator.User, 50)
		for i := range users {
			users[i] = emulator.User{UID: fmt.Sprintf("load-%03d", i), Email: fmt.Sprintf("load-%03d@example.com", i), Password: "pw-123456"}
		}
		users[42].CustomClaims = map[string]any{"role": "admin"}
		if err := c.BatchCreate(ctx, users); err != nil {
			t.Fatalf("BatchCreate: %v", err)
		}
		s, err := c.SignIn(ctx, "load-042@example.com", "pw-123456")
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		tok, err := v.Verify(ctx, s.IDToken, true)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if tok.UID != "load-042" {
			t.Errorf("uid = %q, want load-042", tok.UID)
		}
		if tok.Claims["role"] != "admin" {
			t.Errorf("custom claim role = %v, want admin (from BatchCreate CustomClaims)", tok.Claims["role"])
		}
		if _, err := c.SignIn(ctx, "load-042@example.com", "wrong-password"); err == nil {
			t.Error("SignIn with a wrong password succeeded")
		}
	})

	t.Run("garbage refused as invalid", func(t *testing.T) {
		for _, g := range []string{"garbage", "a.b.c", ""} {
			if _, err := v.Verify(ctx, g, false); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("Verify(%q) err = %v, want ErrInvalidToken", g, err)
			}
		}
	})

	t.Run("unsigned token for another project refused", func(t *testing.T) {
		tok, err := authtest.MintWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "demo-other", "load-001")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok, false); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrInvalidToken", err)
		}
	})

	// Emulator mode does not check signatures, but it always asks the
	// emulator for the user; a forged token for a user that does not exist
	// must be refused as invalid (not as a 503).
	t.Run("unsigned token for unknown user refused", func(t *testing.T) {
		tok, err := authtest.MintWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, project, "no-such-user")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok, false); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrInvalidToken", err)
		}
	})

	t.Run("disabled user refused", func(t *testing.T) {
		s, err := c.SignUp(ctx, "bob@example.com", "password-2")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DisableUser(ctx, s.UID, true); err != nil {
			t.Fatalf("DisableUser: %v", err)
		}
		_, err = v.Verify(ctx, s.IDToken, true)
		if !errors.Is(err, auth.ErrUserDisabled) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrUserDisabled (wrapping ErrInvalidToken)", err)
		}
		if errors.Is(err, auth.ErrRevoked) {
			t.Errorf("disabled user reported as revoked: %v", err)
		}
	})

	t.Run("revoked token refused", func(t *testing.T) {
		s, err := c.SignUp(ctx, "carol@example.com", "password-3")
		if err != nil {
			t.Fatal(err)
		}
		before, err := v.Verify(ctx, s.IDToken, true)
		if err != nil {
			t.Fatalf("fresh token refused before revocation: %v", err)
		}
		// Firebase revokes tokens issued before a whole second; wait until
		// the token's iat second is over.
		time.Sleep(time.Until(before.IssuedAt.Add(time.Second + 50*time.Millisecond)))
		if err := c.RevokeTokens(ctx, s.UID); err != nil {
			t.Fatalf("RevokeTokens: %v", err)
		}
		_, err = v.Verify(ctx, s.IDToken, true)
		if !errors.Is(err, auth.ErrRevoked) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrRevoked (wrapping ErrInvalidToken)", err)
		}
		fresh, err := c.SignIn(ctx, "carol@example.com", "password-3")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, fresh.IDToken, true); err != nil {
			t.Errorf("token issued after revocation refused: %v", err)
		}
	})

	// Issue 6: the Admin API view that --recheck-user and `sessiond
	// revoke --all-disabled` use.
	t.Run("users: lookup, disable, revoke, delete, list", func(t *testing.T) {
		users, err := auth.UsersOf(v)
		if err != nil {
			t.Fatalf("UsersOf(emulator verifier): %v", err)
		}
		s, err := c.SignUp(ctx, "frank@example.com", "password-6")
		if err != nil {
			t.Fatal(err)
		}
		u, err := users.User(ctx, s.UID)
		if err != nil || u.UID != s.UID || u.Disabled {
			t.Fatalf("User = %+v, %v; want enabled %s", u, err, s.UID)
		}
		tok, err := v.Verify(ctx, s.IDToken, false)
		if err != nil {
			t.Fatal(err)
		}
		if u.RevokedAt(tok.AuthTime) {
			t.Fatalf("fresh user %+v: sign-in at %v reported revoked", u, tok.AuthTime)
		}
		time.Sleep(time.Until(tok.AuthTime.Add(time.Second + 50*time.Millisecond)))
		if err := c.RevokeTokens(ctx, s.UID); err != nil {
			t.Fatal(err)
		}
		if err := c.DisableUser(ctx, s.UID, true); err != nil {
			t.Fatal(err)
		}
		u, err = users.User(ctx, s.UID)
		if err != nil || !u.Disabled || !u.RevokedAt(tok.AuthTime) {
			t.Fatalf("after revoke and disable: User = %+v, %v; want disabled, sign-in at %v revoked", u, err, tok.AuthTime)
		}
		var listed, disabled int
		err = users.EachUser(ctx, func(u auth.UserState) error {
			listed++
			if u.UID == s.UID && u.Disabled {
				disabled++
			}
			return nil
		})
		if err != nil || listed < 2 || disabled != 1 {
			t.Fatalf("EachUser: %d users, %d the disabled one, %v", listed, disabled, err)
		}
		if _, err := users.User(ctx, "no-such-user"); !errors.Is(err, auth.ErrUserNotFound) {
			t.Fatalf("User(unknown) = %v, want ErrUserNotFound", err)
		}
		if _, err := auth.UsersOf(localVerifier(t)); err == nil || !strings.Contains(err.Error(), "--auth=local") {
			t.Fatalf("UsersOf(local verifier) = %v, want an error naming --auth=local", err)
		}
	})

	t.Run("unreachable emulator is not the client's fault", func(t *testing.T) {
		s, err := c.SignUp(ctx, "dave@example.com", "password-4")
		if err != nil {
			t.Fatal(err)
		}
		dead := deadAddr(t)
		t.Setenv(auth.EmulatorHostEnv, dead)
		dv, err := auth.NewEmulator(ctx, auth.EmulatorConfig{ProjectID: project, EmulatorHost: dead})
		if err != nil {
			t.Fatal(err)
		}
		vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = dv.Verify(vctx, s.IDToken, true)
		if err == nil || errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("err = %v, want a non-ErrInvalidToken error (HTTP 503)", err)
		}
	})

	t.Run("DeleteAllUsers invalidates tokens", func(t *testing.T) {
		s, err := c.SignUp(ctx, "erin@example.com", "password-5")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteAllUsers(ctx); err != nil {
			t.Fatalf("DeleteAllUsers: %v", err)
		}
		if _, err := v.Verify(ctx, s.IDToken, true); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("token of deleted user: err = %v, want ErrInvalidToken", err)
		}
	})
}

// localVerifier is a local-mode verifier (no Admin API).
func localVerifier(t *testing.T) auth.Verifier {
	t.Helper()
	_, pub := authtest.NewKey(t)
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: "demo-x", PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
