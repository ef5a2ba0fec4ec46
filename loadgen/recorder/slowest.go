package recorder

import (
	"container/heap"
	"sort"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// DefaultSlowest is how many of the slowest operations of each kind a
// Recorder keeps, with their trace IDs.
const DefaultSlowest = 10

// Slow is one of the slowest operations of a kind: its corrected
// latency, its intended time (offset in the run's timeline) and the
// trace it was sent with, so the server's trace of an outlier can be
// found.
type Slow struct {
	Latency  time.Duration
	Intended time.Duration
	Trace    driver.TraceID
}

// slowHeap is a min-heap on latency: the root is the fastest of the
// slowest, the one a slower sample replaces.
type slowHeap []Slow

func (h slowHeap) Len() int           { return len(h) }
func (h slowHeap) Less(i, j int) bool { return h[i].Latency < h[j].Latency }
func (h slowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowHeap) Push(x any)        { *h = append(*h, x.(Slow)) }
func (h *slowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// offer keeps s if it is among the n slowest so far. The caller holds
// the kind's lock.
func (h *slowHeap) offer(s Slow, n int) {
	switch {
	case n <= 0:
	case len(*h) < n:
		heap.Push(h, s)
	case s.Latency > (*h)[0].Latency:
		(*h)[0] = s
		heap.Fix(h, 0)
	}
}

// sorted is a copy, slowest first.
func (h slowHeap) sorted() []Slow {
	out := append([]Slow(nil), h...)
	sort.Slice(out, func(i, j int) bool { return out[i].Latency > out[j].Latency })
	return out
}
