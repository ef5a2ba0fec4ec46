package engine

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/driver"

	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// BenchmarkDispatchLag measures how precisely the dispatcher keeps its
// schedule against an instant in-memory target: the schedule lag and the
// gap between corrected and uncorrected validate latency are the
// generator's own contribution to every corrected latency it reports.
// Run: go test -run '^$' -bench DispatchLag ./loadgen/engine
func BenchmarkDispatchLag(b *testing.B) {
	for _, rate := range []scenario.Rate{200, 2000, 10000} {
		b.Run(rate.String(), func(b *testing.B) {
			var lag50, lag99, gap50 float64
			for range b.N {
				rep, err := Run(context.Background(), Config{
					Scenario: sc(rate, 2*time.Second), Driver: newFake(),
					Tokens: fakeTokens{100}, CPUSaturation: -1,
				})
				if err != nil {
					b.Fatal(err)
				}
				v := rep.Stats.Ops[recorder.Validate]
				lag50 += float64(rep.Stats.Lag.ValueAtQuantile(50))
				lag99 += float64(rep.Stats.Lag.ValueAtQuantile(99))
				gap50 += float64(v.Corrected.ValueAtQuantile(50) - v.Uncorrected.ValueAtQuantile(50))
			}
			n := float64(b.N)
			b.ReportMetric(lag50/n, "lag-p50-µs")
			b.ReportMetric(lag99/n, "lag-p99-µs")
			b.ReportMetric(gap50/n, "corrected-minus-uncorrected-p50-µs")
		})
	}
}

// nullDriver answers every operation at once, doing nothing: what is left
// is the engine's own cost per operation.
type nullDriver struct{ n atomic.Int64 }

func (d *nullDriver) Create(context.Context, string, json.RawMessage) (driver.Session, driver.Result) {
	return driver.Session{Credential: "c" + strconv.FormatInt(d.n.Add(1), 10)}, driver.Result{Class: driver.OK, Status: 201}
}
func (d *nullDriver) Validate(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 200}
}
func (d *nullDriver) Destroy(context.Context, driver.Session) driver.Result {
	return driver.Result{Class: driver.OK, Status: 204}
}
func (d *nullDriver) Close() error { return nil }

// BenchmarkDispatchCost is the engine's CPU and allocations per operation
// (dispatcher, hand-off to workers, contexts, traces, recording) with a
// driver that does nothing, at 20,000/s for 1 s: the part of the
// generator's cost that is neither the network nor the driver.
// Run: go test -run '^$' -bench DispatchCost -count 10 ./loadgen/engine
func BenchmarkDispatchCost(b *testing.B) {
	const rate = 20_000
	var cpu time.Duration
	var ops, mallocs uint64
	for range b.N {
		s := sc(rate, time.Second)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c0 := cpuTime()
		rep, err := Run(context.Background(), Config{Scenario: s, Driver: &nullDriver{}, Tokens: fakeTokens{100},
			CPUSaturation: -1, Trace: true, IntervalLog: io.Discard})
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&m1)
		if err != nil {
			b.Fatal(err)
		}
		ops += rep.SentOps + uint64(rep.Prefilled)
		mallocs += m1.Mallocs - m0.Mallocs
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
	b.ReportMetric(float64(mallocs)/float64(ops), "mallocs/op")
}
