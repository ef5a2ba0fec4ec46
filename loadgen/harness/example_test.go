package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionbench/sessionbench/loadgen/harness"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// One run, end to end, as the CLI does it: here the store driver on the
// embedded Redis, so nothing needs installing.
func ExampleRun() {
	sc, err := scenario.Parse([]byte(`name: example
duration: 1s
rate: 50/s
mix: {create: 5, validate: 4, destroy: 1}
population: {users: 10, prefill: 10}
`), "example.yaml")
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "harness-example-")
	defer os.RemoveAll(dir)
	out, err := harness.Run(context.Background(), harness.Plan{
		Scenario: sc, Dir: filepath.Join(dir, "run"), Driver: harness.DriverStore,
		Redis: redisenv.Spec{Mode: redisenv.ModeEmbedded}, Seed: 1,
	})
	if err != nil {
		panic(err)
	}
	s := out.Summary
	fmt.Println(s.Verdict, s.Load.ScheduledOps, s.Target.Redis.Mode)
	for _, f := range []string{"summary.json", "latency.hlog", "timeline.csv"} {
		_, err := os.Stat(filepath.Join(out.Dir, f))
		fmt.Println(f, err == nil)
	}
	// Output:
	// pass 50 embedded
	// summary.json true
	// latency.hlog true
	// timeline.csv true
}
