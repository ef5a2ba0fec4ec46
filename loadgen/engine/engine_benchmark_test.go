package engine

import (
	"context"
	"testing"
	"time"

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
