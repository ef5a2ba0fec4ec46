package recorder_test

import (
	"fmt"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/recorder"
)

// Latency is recorded from the intended send time (corrected) and from
// the actual send (uncorrected): an operation that waited behind a
// stalled one shows the wait only in the corrected histogram.
func Example() {
	r := recorder.New()
	// Intended at 0, sent 40 ms late (the generator waited), answered in 1 ms.
	r.Record(recorder.Validate, recorder.Sample{Intended: 0, Sent: 40 * time.Millisecond, Done: 41 * time.Millisecond})
	st := r.Snapshot().Ops[recorder.Validate]
	fmt.Printf("corrected %d µs, uncorrected %d µs\n",
		st.Corrected.ValueAtQuantile(100), st.Uncorrected.ValueAtQuantile(100))
	// Output:
	// corrected 41023 µs, uncorrected 1000 µs
}
