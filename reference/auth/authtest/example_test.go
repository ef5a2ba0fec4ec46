package authtest_test

import (
	"context"
	"fmt"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

// A test logs users in without a network: a key pair, the local
// verifier holding its public half, and a token minted for any uid.
func ExampleMint() {
	key, pub, err := authtest.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := auth.NewLocal(auth.LocalConfig{ProjectID: "demo-project", PublicKeyPEM: pub})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := v.Verify(context.Background(), authtest.Mint(key, "demo-project", "alice"), false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", tok.UID)
	// A token for another project is refused.
	_, err = v.Verify(context.Background(), authtest.Mint(key, "other-project", "mallory"), false)
	fmt.Println("other project refused:", err != nil)
	// Output:
	// verified: alice
	// other project refused: true
}
