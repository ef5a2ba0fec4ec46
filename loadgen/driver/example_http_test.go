package driver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// A server speaking the sessiond API (here a stand-in that accepts any
// token) driven through one session's life.
func ExampleNewHTTP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Set-Cookie", "__Host-sid=s3cr3t; Path=/; Secure; HttpOnly")
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			if c, err := r.Cookie("__Host-sid"); err == nil && c.Value == "s3cr3t" {
				return // 200
			}
			w.WriteHeader(http.StatusUnauthorized)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()

	d, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: srv.URL})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ctx := context.Background()
	s, res := d.Create(ctx, "an-id-token", []byte(`{"theme":"dark"}`))
	fmt.Println("create:", res.Class, res.Status)
	fmt.Println("validate:", d.Validate(ctx, s).Class)
	fmt.Println("destroy:", d.Destroy(ctx, s).Class)
	fmt.Println("forged:", d.Validate(ctx, driver.Session{Credential: "guess"}).Class)
	// Output:
	// create: ok 201
	// validate: ok
	// destroy: ok
	// forged: rejected
}
