package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

// BenchmarkLocalVerify measures one Verify of a valid 2048-bit RS256 token,
// the per-login cost of --auth=local in load runs.
func BenchmarkLocalVerify(b *testing.B) {
	key, pub := authtest.NewKey(b)
	v := newLocal(b, pub)
	tok := authtest.Mint(key, project, "bench-user", at(-time.Minute, time.Hour), authtest.WithEmail("bench@example.com"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalVerifyParallel is the same under GOMAXPROCS goroutines,
// as sessiond's handlers call it.
func BenchmarkLocalVerifyParallel(b *testing.B) {
	key, pub := authtest.NewKey(b)
	v := newLocal(b, pub)
	tok := authtest.Mint(key, project, "bench-user", at(-time.Minute, time.Hour))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLocalRejectOversized measures refusing a 1 MiB token, which the
// size cap must make as cheap as a length check.
func BenchmarkLocalRejectOversized(b *testing.B) {
	_, pub := authtest.NewKey(b)
	v := newLocal(b, pub)
	tok := string(make([]byte, 1<<20))
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, false); err == nil {
			b.Fatal("accepted")
		}
	}
}
