package results

import (
	"os"
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
