package pacer_test

import (
	"fmt"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/pacer"
)

// A ramp from 0 to 100/s over 2 s, then 100/s held: every operation's
// intended time comes in closed form, and Count says how many fall
// before a moment.
func Example() {
	s, err := pacer.Piecewise([]pacer.Segment{
		{From: 0, To: 100, Duration: 2 * time.Second},
		{From: 100, To: 100, Duration: time.Second},
	})
	if err != nil {
		panic(err)
	}
	for _, i := range []uint64{0, 1, 50, 99, 100, 199} {
		at, _ := s.At(i)
		fmt.Printf("op %3d at %v\n", i, at.Round(time.Millisecond))
	}
	fmt.Println("ops before 2s:", pacer.Count(s, 2*time.Second), "in all:", pacer.Count(s, s.End()))
	// Output:
	// op   0 at 0s
	// op   1 at 200ms
	// op  50 at 1.414s
	// op  99 at 1.99s
	// op 100 at 2s
	// op 199 at 2.99s
	// ops before 2s: 100 in all: 200
}
