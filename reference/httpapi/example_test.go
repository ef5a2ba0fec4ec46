package httpapi_test

import (
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/httpapi"
	"github.com/sessionbench/sessionbench/reference/session"
)

// Example wires the API the way sessiond does: a Redis client that honours
// context deadlines, the store, a verifier, and an http.Server with
// timeouts.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	store, err := session.New(rdb, session.Config{IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	var verifier auth.Verifier // auth.NewFirebase, auth.NewEmulator or auth.NewLocal
	api, err := httpapi.New(httpapi.Config{
		Store:         store,
		Verifier:      verifier,
		BindUserAgent: httpapi.BindDetect,
		PoolStats:     rdb.PoolStats,
	})
	if err != nil {
		log.Print(err) // here: Config.Verifier is required
		return
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: api, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
