package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// update rewrites the golden files: go test ./loadgen/report -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current renderers")

// fixture is a results directory recorded by loadgen (top-level testdata).
func fixture(t *testing.T, name string) *results.Run {
	t.Helper()
	r, err := results.ReadRun(filepath.Join("..", "..", "testdata", "results", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file; if the change is intended, go test ./loadgen/report -update and review the diff\n%s",
			name, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + trunc(a) + "\n  got: " + trunc(b)
		}
	}
	return ""
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	Text(&b, fixture(t, "smoke-basic").Summary)
	golden(t, "smoke-basic.golden.txt", b.Bytes())
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	Markdown(&b, fixture(t, "smoke-basic"))
	golden(t, "smoke-basic.golden.md", b.Bytes())
}

func TestHTMLGolden(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, fixture(t, "smoke-basic")); err != nil {
		t.Fatal(err)
	}
	golden(t, "smoke-basic.golden.html", b.Bytes())
	html := b.String()
	// Self-contained: no script and nothing fetched. The only URLs are
	// the SVG namespaces and the measured server's address, as text.
	stripped := strings.NewReplacer("http://www.w3.org/2000/svg", "", "http://www.w3.org/1999/xlink", "",
		fixture(t, "smoke-basic").Summary.Target.URL, "").Replace(html)
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", " src="} {
		if strings.Contains(stripped, bad) {
			t.Errorf("report.html contains %q: it must need no network", bad)
		}
	}
	for _, id := range []string{`id="chart-spectrum"`, `id="chart-time-validate"`, `id="chart-throughput"`, `id="chart-memory"`, `id="chart-sessions"`, `id="chart-cpu"`, `id="verdict"`, `id="ops"`, `id="slo"`} {
		if !strings.Contains(html, id) {
			t.Errorf("report.html lacks %s", id)
		}
	}
}

// TestTextNothingMeasured: a run interrupted before its measured phase
// says the SLO was not evaluated instead of printing a 0 ms breach.
func TestTextNothingMeasured(t *testing.T) {
	s := *fixture(t, "smoke-basic").Summary
	s.SLO = results.SLOResult{Terms: map[string]results.SLOTerm{}, NotEvaluated: "nothing was measured"}
	var b bytes.Buffer
	Text(&b, &s)
	if strings.Contains(b.String(), "BREACH") || !strings.Contains(b.String(), "slo: not evaluated: nothing was measured") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestWriteFiles: report.html and report.md land in the directory.
func TestWriteFiles(t *testing.T) {
	r := fixture(t, "smoke-basic")
	r.Dir = t.TempDir()
	if err := WriteFiles(r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{HTMLFile, MarkdownFile} {
		st, err := os.Stat(filepath.Join(r.Dir, f))
		if err != nil || st.Size() == 0 || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
}
