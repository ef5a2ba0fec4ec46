package pool

import (
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

func benchPick(b *testing.B, pk *Picker) {
	p := New()
	for i := 0; i < 100000; i++ {
		p.Add(driver.Session{Credential: "x"})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Pick(pk)
	}
}

func BenchmarkPickUniform(b *testing.B) { benchPick(b, NewUniform(1)) }
func BenchmarkPickZipf(b *testing.B)    { benchPick(b, NewZipf(1, 1.1)) }
