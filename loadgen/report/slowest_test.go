package report

import (
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// With --trace-sample below 1, the slowest operations are listed whether
// or not they were sampled (an unsampled one was hidden, so the list
// showed faster operations as the slowest), and the intro says what
// share was sampled.
func TestSlowestListsUnsampledOperations(t *testing.T) {
	share := 0.1
	s := &results.Summary{
		Target: results.Target{TraceSample: &share},
		Ops: map[string]results.OpSummary{"validate": {Count: 100, Slowest: []results.SlowOp{
			{LatencyMs: 9, IntendedMs: 500},
			{LatencyMs: 5, IntendedMs: 700, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		}}},
	}
	lines := slowestLines(s, 5)
	if len(lines) != 2 || !strings.Contains(lines[0], "validate 9.000 ms") || !strings.Contains(lines[0], "not sampled, no trace") ||
		!strings.Contains(lines[1], "trace 4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("lines = %q, want the unsampled slowest first, then the sampled one with its trace", lines)
	}
	if intro := slowestIntro(s); !strings.Contains(intro, "10 % of them sampled") {
		t.Errorf("intro = %q, want the share named", intro)
	}
	share = 1
	if intro := slowestIntro(s); strings.Contains(intro, "sampled") {
		t.Errorf("intro with every operation sampled = %q", intro)
	}
}

// The store driver sends no traceparent, and --trace-sample 0 sends them
// all unsampled: neither intro may point at trace IDs to open.
func TestSlowestIntroWithoutTraces(t *testing.T) {
	store := &results.Summary{Target: results.Target{Driver: "store"},
		Ops: map[string]results.OpSummary{"validate": {Count: 1, Slowest: []results.SlowOp{{LatencyMs: 3}}}}}
	if intro, lines := slowestIntro(store), slowestLines(store, 5); !strings.Contains(intro, "sends no traceparent") ||
		len(lines) != 1 || !strings.HasSuffix(lines[0], ": no trace") {
		t.Errorf("store driver: intro %q, lines %q", intro, lines)
	}
	none := 0.0
	unsampled := &results.Summary{Target: results.Target{TraceSample: &none}}
	if intro := slowestIntro(unsampled); strings.Contains(intro, "open these") || !strings.Contains(intro, "none has a trace") {
		t.Errorf("--trace-sample 0: intro %q", intro)
	}
}
