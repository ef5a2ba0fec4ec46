package compare

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/golden"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

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

func TestCompareGolden(t *testing.T) {
	runs := fixtures(t, "smoke-basic", "smoke-aof")
	var txt, md, html bytes.Buffer
	Text(&txt, runs)
	Markdown(&md, runs)
	if err := HTML(&html, runs); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "basic-vs-aof.golden.txt", txt.Bytes())
	golden.Check(t, "basic-vs-aof.golden.md", md.Bytes())
	golden.Check(t, "basic-vs-aof.golden.html", html.Bytes())
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
	golden.Check(t, "gate.golden.txt", txt.Bytes())
	golden.Check(t, "gate.golden.md", md.Bytes())
	golden.Check(t, "gate.golden.xml", junit.Bytes())
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

// A column measured on embedded miniredis says so in every rendering:
// its numbers are not Redis performance, whatever the table suggests.
func TestCompareSaysWhichColumnIsNotRedis(t *testing.T) {
	runs := fixtures(t, "smoke-basic", "smoke-aof")
	runs[1].Summary.Target.Redis.NotRedis = "embedded miniredis: its numbers are not Redis performance"
	var txt, md, html bytes.Buffer
	Text(&txt, runs)
	Markdown(&md, runs)
	if err := HTML(&html, runs); err != nil {
		t.Fatal(err)
	}
	want := "NOT REDIS: " + runs[1].Name() + " ran on embedded miniredis"
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String(), "html": html.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
	if strings.Contains(txt.String(), "NOT REDIS: "+runs[0].Name()) {
		t.Errorf("the real-Redis column is marked too:\n%s", txt.String())
	}
}
