package compare

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// update rewrites the golden files: go test ./loadgen/compare -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current renderers")

func fixtures(t *testing.T, names ...string) []*results.Run {
	t.Helper()
	var runs []*results.Run
	for _, n := range names {
		r, err := results.ReadRun(filepath.Join("..", "..", "testdata", "results", n))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	return runs
}

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
		t.Errorf("%s differs from its golden file; if intended, go test ./loadgen/compare -update and review the diff", name)
	}
}

func TestCompareGolden(t *testing.T) {
	runs := fixtures(t, "smoke-basic", "smoke-aof")
	var txt, md, html bytes.Buffer
	Text(&txt, runs)
	Markdown(&md, runs)
	if err := HTML(&html, runs); err != nil {
		t.Fatal(err)
	}
	golden(t, "basic-vs-aof.golden.txt", txt.Bytes())
	golden(t, "basic-vs-aof.golden.md", md.Bytes())
	golden(t, "basic-vs-aof.golden.html", html.Bytes())
	// Labels head the columns; ratios are against the first run.
	if !strings.Contains(txt.String(), "local-basic") || !strings.Contains(txt.String(), "local-aof") || !strings.Contains(txt.String(), "×)") {
		t.Errorf("table:\n%s", txt.String())
	}
	for _, id := range []string{`id="chart-spectrum-validate"`, `id="chart-p99-validate"`, `id="chart-memory"`} {
		if !strings.Contains(html.String(), id) {
			t.Errorf("compare.html lacks %s", id)
		}
	}
}

func TestGateRenderersGolden(t *testing.T) {
	runs := fixtures(t, "smoke-basic", "smoke-aof")
	d, err := Gate(runs[:1], runs[1:], Options{})
	if err != nil {
		t.Fatal(err)
	}
	var txt, md, junit bytes.Buffer
	GateText(&txt, d)
	GateMarkdown(&md, d)
	if err := JUnit(&junit, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "gate.golden.txt", txt.Bytes())
	golden(t, "gate.golden.md", md.Bytes())
	golden(t, "gate.golden.xml", junit.Bytes())
	// The JUnit XML parses, with one test case per check.
	var suite struct {
		Tests int `xml:"tests,attr"`
		Cases []struct {
			Name string `xml:"name,attr"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &suite); err != nil || suite.Tests != len(d.Checks) || len(suite.Cases) != len(d.Checks) {
		t.Fatalf("junit: %v, %d tests %d cases for %d checks", err, suite.Tests, len(suite.Cases), len(d.Checks))
	}
}
