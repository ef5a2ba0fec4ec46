package auth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

// ExampleNewLocal shows the benchmark verifier with a test key: tokens
// minted with the matching private key verify, anything else is
// ErrInvalidToken.
func ExampleNewLocal() {
	key, publicPEM, err := authtest.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}

	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: "demo-bench", PublicKeyPEM: publicPEM})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := v.Verify(context.Background(), authtest.Mint(key, "demo-bench", "user-7"), false)
	fmt.Println(tok.UID, err)

	_, err = v.Verify(context.Background(), authtest.Mint(key, "other-project", "user-7"), false)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// user-7 <nil>
	// true
}
