package tokens_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// A minted pool signs one RS256 ID token per user with a run's own key
// (give its public half to sessiond --auth=local); users are numbered,
// with stable uids and emails.
func ExampleNewMinted() {
	src, err := tokens.NewMinted(tokens.MintedConfig{Users: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := src.Token(context.Background(), 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src.Mode(), src.Users(), "users;", "user 7 is", tokens.UID(7), tokens.Email(7))
	fmt.Println("a JWT:", strings.Count(tok, ".") == 2)
	// Output:
	// minted 100 users; user 7 is user-7 user-7@example.test
	// a JWT: true
}
