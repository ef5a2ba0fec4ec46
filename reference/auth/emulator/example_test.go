package emulator_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sessionbench/sessionbench/reference/auth/emulator"
)

// With a Firebase Auth emulator running (firebase emulators:start --only
// auth), a test creates a user and signs in to get a real, unsigned
// emulator ID token. Not run by go test: it needs the emulator.
func Example() {
	c, err := emulator.New(os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"), "demo-sessionbench", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if _, err := c.SignUp(ctx, "alice@example.test", "a-password"); err != nil {
		fmt.Println(err)
		return
	}
	s, err := c.SignIn(ctx, "alice@example.test", "a-password")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed in as", s.UID, "with a token of", len(s.IDToken), "bytes")
}
