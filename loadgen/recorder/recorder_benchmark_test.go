package recorder

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRecord is one goroutine recording (mutex per kind, uncontended).
func BenchmarkRecord(b *testing.B) {
	r := New()
	for i := 0; i < b.N; i++ {
		r.Record(Validate, Sample{Intended: 0, Sent: time.Duration(i % 1000), Done: time.Duration(i%50000) * time.Microsecond})
	}
}

// BenchmarkRecordParallel records from GOMAXPROCS goroutines across kinds.
func BenchmarkRecordParallel(b *testing.B) {
	r := New()
	var n atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		op := Op(n.Add(1) % 3)
		i := 0
		for pb.Next() {
			i++
			r.Record(op, Sample{Done: time.Duration(i%50000) * time.Microsecond})
		}
	})
}

// BenchmarkRecordParallelSameOp is the worst case: every goroutine on one kind.
func BenchmarkRecordParallelSameOp(b *testing.B) {
	r := New()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			r.Record(Validate, Sample{Done: time.Duration(i%50000) * time.Microsecond})
		}
	})
}
