package results_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/internal/resultstest"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// markWhole sets latency_log_whole in dir's summary.json, as a run of
// this loadgen writes it (the fixtures predate the field).
func markWhole(t *testing.T, dir string) {
	t.Helper()
	resultstest.EditSummary(t, dir, func(m map[string]any) { m["latency_log_whole"] = true })
}

// cutLastInterval drops the last interval of dir's latency.hlog: every
// line from the first that starts at the last interval's start time
// (whole lines only, so the log still parses).
func cutLastInterval(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, results.LatencyLog)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	last := lines[len(lines)-2]
	start := strings.SplitN(last[strings.IndexByte(last, ',')+1:], ",", 2)[0]
	i := 0
	for !strings.Contains(lines[i], ","+start+",") {
		i++
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines[:i], "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A latency.hlog cut at a line boundary parses cleanly; when the summary
// says the log was written whole, it must still be refused, because
// reports and the gate would silently read fewer operations than the run
// measured. A summary from before that field (the fixtures) is read as
// it always was: its log cannot be checked, and an older run that was
// fine must stay readable.
func TestReadRunRefusesALogCutAtALineBoundary(t *testing.T) {
	dir := resultstest.CopyFixture(t, "smoke-basic")
	markWhole(t, dir)
	if _, err := results.ReadRun(dir); err != nil {
		t.Fatalf("whole fixture: %v", err)
	}
	cutLastInterval(t, dir)
	_, err := results.ReadRun(dir)
	if err == nil || !strings.Contains(err.Error(), "the log is incomplete") || !strings.Contains(err.Error(), results.SummaryFile) ||
		!strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("err = %v, want the log called incomplete against %s, with the fix", err, results.SummaryFile)
	}

	older := resultstest.CopyFixture(t, "smoke-basic")
	cutLastInterval(t, older)
	if _, err := results.ReadRun(older); err != nil {
		t.Fatalf("a summary without latency_log_whole: %v, want it read unchecked", err)
	}
}

// A log holding kinds the summary does not count is another run's.
func TestReadRunRefusesALogOfAnotherRun(t *testing.T) {
	dir := resultstest.CopyFixture(t, "smoke-basic")
	markWhole(t, dir)
	resultstest.EditSummary(t, dir, func(m map[string]any) {
		if _, ok := m["invalid_ops"]; !ok {
			t.Fatal("fixture has no invalid_ops to drop")
		}
		delete(m, "invalid_ops")
	})
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "from another run") {
		t.Fatalf("err = %v, want the log called another run's", err)
	}
}

// A log missing only its last line, the final interval's lag histogram,
// still adds up per operation kind; the number of histograms the run
// wrote tells it apart.
func TestReadRunRefusesALogMissingItsLastLagLine(t *testing.T) {
	dir := resultstest.CopyFixture(t, "smoke-basic")
	whole, err := results.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, list := range whole.Intervals {
		n += len(list)
	}
	resultstest.EditSummary(t, dir, func(m map[string]any) {
		m["latency_log_whole"] = true
		m["latency_log_histograms"] = n
	})
	if _, err := results.ReadRun(dir); err != nil {
		t.Fatalf("whole log with its histogram count: %v", err)
	}
	p := filepath.Join(dir, results.LatencyLog)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Tag=lag,") {
		t.Fatalf("the fixture's last line is not a lag histogram: %.40s", last)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines[:len(lines)-1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadRun(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("holds %d interval histograms but %s says %d", n-1, results.SummaryFile, n)) {
		t.Fatalf("err = %v, want the missing line found", err)
	}
}

// A log damaged inside a line names the file and the way out.
func TestReadRunNamesADamagedLog(t *testing.T) {
	dir := resultstest.CopyFixture(t, "smoke-basic")
	p := filepath.Join(dir, results.LatencyLog)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b[:len(b)-40], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = results.ReadRun(dir)
	if err == nil || !strings.Contains(err.Error(), results.LatencyLog+" is damaged") || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("err = %v, want the damaged log named, with the fix", err)
	}
}
