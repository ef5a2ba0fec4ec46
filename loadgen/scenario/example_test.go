package scenario_test

import (
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// Parse checks a scenario strictly: the error names the file, the line,
// the field and the fix.
func ExampleParse() {
	s, err := scenario.Parse([]byte(`name: browse
duration: 60s
warmup: 0s
rate: 2k/s
mix: {create: 1, validate: 8, destroy: 1}
slo:
  validate.p99: 10ms
`), "browse.yaml")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name, s.Rate, s.Timeline(), s.SLO[0].Key, s.SLO[0].Latency)

	_, err = scenario.Parse([]byte("name: typo\nduration: 10s\nrate: 100/s\nmix: {validat: 1}\n"), "typo.yaml")
	fmt.Println(err)
	// Output:
	// browse 2000/s 1m0s validate.p99 10ms
	// typo.yaml:4: unknown key "validat" in mix (known: create, validate, destroy)
}
