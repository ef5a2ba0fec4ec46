package results_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// copyRun copies a fixture results directory into a temporary one.
func copyRun(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "results", name)
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// A latency.hlog cut at a line boundary parses cleanly; it must still be
// refused, because reports and the gate would silently read fewer
// operations than the run measured.
func TestReadRunRefusesALogCutAtALineBoundary(t *testing.T) {
	dir := copyRun(t, "smoke-basic")
	if _, err := results.ReadRun(dir); err != nil {
		t.Fatalf("whole fixture: %v", err)
	}
	p := filepath.Join(dir, results.LatencyLog)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the last interval: every line from the first that starts at
	// the last interval's start time (whole lines only).
	lines := strings.SplitAfter(string(b), "\n")
	last := lines[len(lines)-2]
	start := strings.SplitN(last[strings.IndexByte(last, ',')+1:], ",", 2)[0]
	i := 0
	for !strings.Contains(lines[i], ","+start+",") {
		i++
	}
	cut := strings.Join(lines[:i], "")
	if err := os.WriteFile(p, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = results.ReadRun(dir)
	if err == nil || !strings.Contains(err.Error(), "the log is incomplete") || !strings.Contains(err.Error(), results.SummaryFile) {
		t.Fatalf("err = %v, want the log called incomplete against %s", err, results.SummaryFile)
	}
}
