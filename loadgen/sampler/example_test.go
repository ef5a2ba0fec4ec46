package sampler_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/sampler"
)

// Analyze fits Redis memory on the live-session count: here 2 minutes
// in which sessions go from 10 000 down to 4 000 and back while each
// costs 420 bytes; nothing grows beyond what the sessions explain.
func ExampleAnalyze() {
	var rows []results.TimelineRow
	for i := 0; i < 120; i++ {
		r := results.NewTimelineRow()
		r.UnixMs = int64(i) * 1000
		live := 10_000 - 100*float64(min(i, 120-i))
		r.Values[results.SessionsLive] = live
		r.Values[results.RedisDataMemory] = 900_000 + 420*live
		rows = append(rows, r)
	}
	a := sampler.Analyze(rows, sampler.Extra{})
	fmt.Printf("%.0f bytes per session, leak suspected: %v\n", a.RedisBytesPerSession, a.Leak.Suspected)
	// Output:
	// 420 bytes per session, leak suspected: false
}
