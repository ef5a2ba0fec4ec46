package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTimelineColumnsDocumented: every timeline.csv column is in the
// results README's table, with the doc the code gives it.
func TestTimelineColumnsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../results/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for s := Series(0); s < NumSeries; s++ {
		if row := "| `" + s.Name() + "` | " + s.Doc() + " |"; !strings.Contains(doc, row) {
			t.Errorf("results/README.md lacks the row %q", row)
		}
	}
}

// TestFixtureLogMatchesSummary: a results directory recorded by loadgen
// (testdata/results) read back with hdrhistogram-go's log reader has, for
// every operation, as many corrected and uncorrected samples as the
// summary counts, and one lag sample per operation sent.
func TestFixtureLogMatchesSummary(t *testing.T) {
	for _, name := range []string{"smoke-basic", "smoke-aof"} {
		r, err := ReadRun(filepath.Join("..", "..", "testdata", "results", name))
		if err != nil {
			t.Fatal(err)
		}
		var sent int64
		for op, o := range r.Summary.Ops {
			for _, tag := range []string{op, "uncorrected." + op} {
				if m := r.Merged(tag); m == nil || m.TotalCount() != int64(o.Count) {
					t.Errorf("%s %s: log %v, summary %d", name, tag, m, o.Count)
				}
			}
			sent += int64(o.Count)
		}
		for op, o := range r.Summary.InvalidOps {
			if m := r.Merged(op); m == nil || m.TotalCount() != int64(o.Count) {
				t.Errorf("%s %s: log %v, summary %d", name, op, m, o.Count)
			}
			sent += int64(o.Count)
		}
		if lag := r.Merged("lag"); lag == nil || lag.TotalCount() != sent {
			t.Errorf("%s: lag samples %v, operations %d", name, lag, sent)
		}
		if len(r.Timeline) == 0 {
			t.Errorf("%s: no timeline", name)
		}
	}
}
