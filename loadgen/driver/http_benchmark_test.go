package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/nulltarget"
)

// The driver's own cost per operation (allocations included) against the
// in-process null target, which does next to no work. The figure is
// client and server together on the same cores; compare runs with
// benchstat, not absolute numbers.
// Run: go test -run '^$' -bench HTTP -count 10 ./loadgen/driver

func nullDriver(b *testing.B) (*driver.HTTP, driver.Session) {
	srv, err := nulltarget.Start("", nulltarget.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	d, err := driver.NewHTTP(driver.HTTPConfig{BaseURL: srv.URL(), Concurrency: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	s, r := d.Create(context.Background(), "token", nil)
	if r.Class != driver.OK {
		b.Fatal(r.Err)
	}
	return d, s
}

// BenchmarkHTTPValidate: one goroutine, GET with a cookie, as the engine
// does it (a context with the operation's deadline).
func BenchmarkHTTPValidate(b *testing.B) {
	d, s := nullDriver(b)
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if r := d.Validate(ctx, s); r.Class != driver.OK {
			b.Fatal(r.Err)
		}
		cancel()
	}
}

// BenchmarkHTTPCreate: POST with a token and a JSON body, Set-Cookie
// parsed.
func BenchmarkHTTPCreate(b *testing.B) {
	d, _ := nullDriver(b)
	data := []byte(`{"k":"0123456789012345678901234567890123456789"}`)
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, r := d.Create(ctx, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln", data); r.Class != driver.OK {
			b.Fatal(r.Err)
		}
		cancel()
	}
}

// BenchmarkHTTPValidateParallel: 64 goroutines per CPU share the driver
// (its connection pool).
func BenchmarkHTTPValidateParallel(b *testing.B) {
	d, s := nullDriver(b)
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if r := d.Validate(ctx, s); r.Class != driver.OK {
				b.Error(r.Err)
			}
			cancel()
		}
	})
}
