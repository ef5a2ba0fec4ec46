package pacer

import (
	"testing"
	"time"
)

func BenchmarkAtConstant(b *testing.B) {
	s, _ := Constant(1000, 1000*time.Hour)
	for i := 0; i < b.N; i++ {
		s.At(uint64(i))
	}
}

func BenchmarkAtStaged(b *testing.B) {
	s, _ := Piecewise([]Segment{{From: 100, To: 100, Duration: time.Hour}, {From: 100, To: 5000, Duration: 100 * time.Hour}})
	for i := 0; i < b.N; i++ {
		s.At(uint64(i))
	}
}
