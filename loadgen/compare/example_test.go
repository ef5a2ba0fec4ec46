package compare_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/compare"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Gate decides whether the current runs regressed against the baseline.
// A run compared with itself cannot have regressed.
func ExampleGate() {
	run, err := results.ReadRun("../../testdata/results/smoke-basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := compare.Gate([]*results.Run{run}, []*results.Run{run}, compare.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Verdict, "exit", d.ExitCode())
	// Output: pass exit 0
}
