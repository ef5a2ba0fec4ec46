package session_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/reference/session"
)

func Example() {
	m, _ := miniredis.Run()
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()

	store, err := session.New(rdb, session.Config{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	id, _, err := store.Create(ctx, session.NewSession{
		UserID: "uid-123",
		Data:   json.RawMessage(`{"theme":"dark"}`),
	})
	if err != nil {
		panic(err)
	}
	// id goes into a Secure, HttpOnly cookie; never log it.
	s, err := store.Validate(ctx, id)
	fmt.Println(s.UserID, string(s.Data), err)

	_ = store.Destroy(ctx, id)
	_, err = store.Validate(ctx, id)
	fmt.Println(err)
	// Output:
	// uid-123 {"theme":"dark"} <nil>
	// session: not found
}
