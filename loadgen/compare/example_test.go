package compare_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/compare"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Gate decides whether the current runs regressed against the baseline:
// here two recorded runs of the same code (one on a Redis with AOF),
// whose differences the resampling finds within noise.
func ExampleGate() {
	base, err := results.ReadRun("../../testdata/results/smoke-basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	cur, err := results.ReadRun("../../testdata/results/smoke-aof")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := compare.Gate([]*results.Run{base}, []*results.Run{cur}, compare.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Verdict, "exit", d.ExitCode())
	// Output: pass exit 0
}
