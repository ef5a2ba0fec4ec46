package results

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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

// TestSummaryFieldsDocumented: every field summary.json can hold is
// named in the results README (as `name`), so a field added to the
// contract cannot go undocumented.
func TestSummaryFieldsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../results/README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The names the README writes as code: `a`, `p50 p90 p99`, `errors.by_class`.
	named := map[string]bool{}
	spans := strings.Split(string(b), "`")
	for i := 1; i < len(spans); i += 2 {
		for _, w := range strings.FieldsFunc(spans[i], func(r rune) bool { return r == ' ' || r == '.' || r == ',' }) {
			named[w] = true
		}
	}
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(time.Time{}) || seen[typ] {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !named[name] {
				t.Errorf("results/README.md does not name summary.json's %s%s", path, name)
			}
			walk(f.Type, path+name+".")
		}
	}
	walk(reflect.TypeOf(Summary{}), "")
}
