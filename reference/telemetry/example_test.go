package telemetry_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/reference/telemetry"
)

// Sampling is decided once per request: a share of new traces, and the
// caller's traceparent when it has one.
func ExampleParseSampling() {
	s, err := telemetry.ParseSampling(telemetry.Config{
		SampleRatio: 0.05, SampleRatioSet: true,
		Getenv: func(string) string { return "" }, // no OTEL_* variables
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Ratio, s.FollowParent)
	// Output: 0.05 true
}
