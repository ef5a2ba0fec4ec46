package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/golden"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// fixture is a results directory recorded by loadgen (top-level testdata).
func fixture(t *testing.T, name string) *results.Run {
	t.Helper()
	r, err := results.ReadRun(filepath.Join("..", "..", "testdata", "results", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	Text(&b, fixture(t, "smoke-basic").Summary)
	golden.Check(t, "smoke-basic.golden.txt", b.Bytes())
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	Markdown(&b, fixture(t, "smoke-basic"))
	golden.Check(t, "smoke-basic.golden.md", b.Bytes())
}

func TestHTMLGolden(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, fixture(t, "smoke-basic")); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "smoke-basic.golden.html", b.Bytes())
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

// TestTextGeneratorCost: the generator's CPU per operation gets a line
// when the summary has it (older summaries do not: no line).
func TestTextGeneratorCost(t *testing.T) {
	s := *fixture(t, "smoke-basic").Summary
	var without bytes.Buffer
	Text(&without, &s)
	s.Env.CPUPerOpUs = 38.25
	var with bytes.Buffer
	Text(&with, &s)
	if strings.Contains(without.String(), "generator:") {
		t.Errorf("a summary without env.cpu_per_op_us printed a generator line:\n%s", without.String())
	}
	if !strings.Contains(with.String(), "generator: 38.2 µs of CPU per operation") {
		t.Errorf("no generator line for env.cpu_per_op_us 38.25:\n%s", with.String())
	}
}

// TestReportsGeneratorCost: report.md and report.html carry the
// generator's CPU per operation on their shared-cores line when the
// summary has it, and say nothing of it when it does not.
func TestReportsGeneratorCost(t *testing.T) {
	const want = "loadgen spent 38.2 µs of CPU per operation"
	for _, cost := range []float64{0, 38.25} {
		r := fixture(t, "smoke-basic")
		s := *r.Summary
		s.Env.CPUPerOpUs = cost
		r.Summary = &s
		var md, html bytes.Buffer
		Markdown(&md, r)
		if err := HTML(&html, r); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"report.md": md.String(), "report.html": html.String()} {
			if got := strings.Contains(out, want); got != (cost > 0) {
				t.Errorf("env.cpu_per_op_us %v: %s has %q: %v, want %v", cost, name, want, got, cost > 0)
			}
		}
	}
}

// TestReportsSayADuetIsADuet: a duet's report counted the partner's
// sessiond and Redis among "other processes" and never said it was one
// half of a duet.
func TestReportsSayADuetIsADuet(t *testing.T) {
	for _, duet := range []bool{false, true} {
		r := fixture(t, "smoke-basic")
		s := *r.Summary
		s.Duet, s.Pair = duet, "duet-ab12"
		r.Summary = &s
		var md, html bytes.Buffer
		Markdown(&md, r)
		if err := HTML(&html, r); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"report.md": md.String(), "report.html": html.String()} {
			if got := strings.Contains(out, "a duet run (pair duet-ab12)") && strings.Contains(out, "the duet partner"); got != duet {
				t.Errorf("duet %v: %s names the duet: %v", duet, name, got)
			}
		}
	}
}
