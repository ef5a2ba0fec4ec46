package report_test

import (
	"fmt"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/report"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Markdown renders a run's key numbers for a pull-request comment or
// $GITHUB_STEP_SUMMARY (HTML draws the full report.html).
func ExampleMarkdown() {
	run, err := results.ReadRun("../../testdata/results/smoke-basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	var b strings.Builder
	report.Markdown(&b, run)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "###") || strings.HasPrefix(line, "| op ") || strings.HasPrefix(line, "| validate ") {
			fmt.Println(line)
		}
	}
	// Output:
	// ### sessionbench: smoke · local-basic
	// | op | count | rate/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | uncorrected p99 ms | errors | expected |
	// | validate | 693 | 138.6 | 0.700 | 3.267 | 40.543 | 57.631 | 62.655 | 22.975 | 0 | 0 |
}
