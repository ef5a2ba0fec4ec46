package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// BenchmarkMintedTokenCached is the steady-state cost of Token: a cache hit.
func BenchmarkMintedTokenCached(b *testing.B) {
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: 100, Key: testKey()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		m.Token(ctx, i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Token(ctx, i%100); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMint is the cost of signing one RS256 token (a cache miss).
func BenchmarkMint(b *testing.B) {
	m, err := tokens.NewMinted(tokens.MintedConfig{Users: 1, Key: testKey()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint(0, now); err != nil {
			b.Fatal(err)
		}
	}
}
