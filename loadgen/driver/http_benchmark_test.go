package driver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// BenchmarkHTTPValidate measures the driver's own cost per operation
// (allocations included) against a server that does nothing.
func BenchmarkHTTPValidate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	d := newDriver(b, srv.URL, nil)
	s := driver.Session{Credential: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := d.Validate(ctx, s); r.Class != driver.OK {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkHTTPCreate measures Create (body build, Set-Cookie parse).
func BenchmarkHTTPCreate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; Path=/; Secure; HttpOnly")
		w.WriteHeader(201)
	}))
	defer srv.Close()
	d := newDriver(b, srv.URL, nil)
	ctx := context.Background()
	data := []byte(`{"k":"0123456789012345678901234567890123456789"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, r := d.Create(ctx, "token", data); r.Class != driver.OK {
			b.Fatal(r.Err)
		}
	}
}
