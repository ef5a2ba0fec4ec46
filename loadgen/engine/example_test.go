package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// instant is a target that accepts everything at once.
type instant struct{ n atomic.Int64 }

func (d *instant) Create(context.Context, string, json.RawMessage) (driver.Session, driver.Result) {
	return driver.Session{Credential: fmt.Sprint("s", d.n.Add(1))}, driver.Result{Class: driver.OK, Status: 201}
}
func (d *instant) Validate(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 200}
}
func (d *instant) Destroy(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 204}
}
func (d *instant) Close() error { return nil }

// users hands out a token per user.
type users int

func (u users) Token(_ context.Context, i int) (string, error) { return fmt.Sprint("token-", i), nil }
func (u users) Users() int                                     { return int(u) }
func (u users) Mode() string                                   { return "example" }

// Run drives an open-loop schedule against a driver: every operation is
// intended at its moment of the schedule and recorded from it, whatever
// the target does. The counts come from the schedule, not the clock:
// 200/s for one second is 200 operations.
func ExampleRun() {
	sc := &scenario.Scenario{
		Name: "example", Duration: time.Second, Rate: 200,
		Mix:        scenario.Mix{Create: 10, Validate: 85, Destroy: 5},
		Population: scenario.Population{Users: 10, Prefill: 20, Pick: scenario.PickUniform},
	}
	rep, err := engine.Run(context.Background(), engine.Config{Scenario: sc, Driver: &instant{}, Tokens: users(10), Seed: 1,
		MaxLag: 30 * time.Second, CPUSaturation: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	done, errs := rep.Stats.Totals()
	fmt.Println("scheduled", rep.ScheduledOps, "recorded", done, "errors", errs, "valid", rep.Valid)
	fmt.Println("validates have a latency:", rep.Stats.Ops[recorder.Validate].Corrected.TotalCount() > 0)
	// Output:
	// scheduled 200 recorded 200 errors 0 valid true
	// validates have a latency: true
}
