package results_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// ReadRun reads a results directory back whole, as reports and the gate
// do: the summary, and any percentile recomputed from latency.hlog.
func ExampleReadRun() {
	run, err := results.ReadRun("../../testdata/results/smoke-basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := run.Summary
	fmt.Println(run.Name(), s.Scenario, s.Verdict)
	v := s.Ops["validate"]
	fmt.Printf("validates: %d, p99 %.3f ms\n", v.Count, v.LatencyMs.P99)
	merged := run.Merged("validate") // microseconds, from the interval log
	fmt.Println("the log holds every one:", uint64(merged.TotalCount()) == v.Count)
	// Output:
	// local-basic smoke pass
	// validates: 693, p99 40.543 ms
	// the log holds every one: true
}
