package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/internal/resultstest"
)

// TestGateExitCodes: the gate's contract: 0 pass, 3 regression (here an
// SLO breach), 1 inconclusive (an invalid run), 2 usage error; --junit
// and --markdown are written.
func TestGateExitCodes(t *testing.T) {
	base, cur := resultstest.CopyFixture(t, "smoke-basic"), resultstest.CopyFixture(t, "smoke-aof")
	out := t.TempDir()
	run := func(args ...string) (int, string) {
		var so, se bytes.Buffer
		code := Main(append([]string{"gate"}, args...), &so, &se)
		return code, so.String() + se.String()
	}
	junit, md := filepath.Join(out, "j.xml"), filepath.Join(out, "g.md")
	if code, o := run("--baseline", base, "--current", cur, "--junit", junit, "--markdown", md); code != 0 {
		t.Fatalf("same-code runs: exit %d\n%s", code, o)
	}
	for _, f := range []string{junit, md} {
		if b, err := os.ReadFile(f); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	breached := resultstest.CopyFixture(t, "smoke-aof")
	resultstest.EditSummary(t, breached, func(m map[string]any) {
		slo := m["slo"].(map[string]any)
		slo["passed"] = false
		term := slo["terms"].(map[string]any)["validate.p99"].(map[string]any)
		term["passed"] = false
	})
	if code, o := run("--baseline", base, "--current", breached); code != 3 || !strings.Contains(o, "REGRESSION") {
		t.Errorf("SLO breach: exit %d\n%s", code, o)
	}
	invalid := resultstest.CopyFixture(t, "smoke-aof")
	resultstest.EditSummary(t, invalid, func(m map[string]any) {
		m["load"].(map[string]any)["valid"] = false
		m["verdict"] = "invalid"
	})
	if code, o := run("--baseline", base, "--current", invalid); code != 1 || !strings.Contains(o, "INCONCLUSIVE") {
		t.Errorf("invalid run: exit %d\n%s", code, o)
	}
	for _, args := range [][]string{
		{"--current", cur},
		{"--baseline", base, "--current", filepath.Join(out, "nope")},
		{"--baseline", base, "--current", cur, "--max-regression", "lots"},
		{"--baseline", base, "--current", cur, "stray"},
		// A bare 0.1 was read as 0.1 % (and 10 as 10 %): the % is required.
		{"--baseline", base, "--current", cur, "--max-regression", "0.1"},
		// Unwritable outputs printed PASS, then exited 1 (inconclusive).
		{"--baseline", base, "--current", cur, "--junit", filepath.Join(out, "no-such-dir", "j.xml")},
		{"--baseline", base, "--current", cur, "--markdown", out},
	} {
		if code, o := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, o)
		}
	}
	// The same run on both sides, or twice on one (a copy), passed: a
	// glob mistake in CI would have gone unnoticed.
	copied := resultstest.CopyFixture(t, "smoke-basic")
	for _, args := range [][]string{
		{"--baseline", base, "--current", base},
		{"--baseline", base, copied, "--current", cur},
	} {
		if code, o := run(args...); code != 2 || !strings.Contains(o, "are the same run") {
			t.Errorf("%v: exit %d, want 2 naming the same run\n%s", args, code, o)
		}
	}
}

// TestReportAndCompareCommands: report redraws report.html and
// report.md; compare prints the table and writes compare.html and .md.
func TestReportAndCompareCommands(t *testing.T) {
	a, b := resultstest.CopyFixture(t, "smoke-basic"), resultstest.CopyFixture(t, "smoke-aof")
	var so, se bytes.Buffer
	if code := Main([]string{"report", a}, &so, &se); code != 0 {
		t.Fatalf("report: exit %d: %s", code, se.String())
	}
	for _, f := range []string{"report.html", "report.md"} {
		if _, err := os.Stat(filepath.Join(a, f)); err != nil {
			t.Error(err)
		}
	}
	out := filepath.Join(t.TempDir(), "cmp")
	so.Reset()
	if code := Main([]string{"compare", a, b, "--out", out}, &so, &se); code != 0 {
		t.Fatalf("compare: exit %d: %s", code, se.String())
	}
	if !strings.Contains(so.String(), "local-basic") || !strings.Contains(so.String(), "local-aof") {
		t.Errorf("compare table:\n%s", so.String())
	}
	for _, f := range []string{"compare.html", "compare.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A second compare into the same --out is refused before anything is
	// written: the first comparison is never overwritten.
	before, _ := os.ReadFile(filepath.Join(out, "compare.md"))
	se.Reset()
	if code := Main([]string{"compare", b, a, "--out", out}, &so, &se); code != 2 || !strings.Contains(se.String(), "never overwritten") {
		t.Errorf("compare into a used --out: exit %d, %s; want 2 saying comparisons are never overwritten", code, se.String())
	}
	if after, _ := os.ReadFile(filepath.Join(out, "compare.md")); !bytes.Equal(before, after) {
		t.Error("compare.md was rewritten")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("--out holds %d entries, want the 2 reports (no temporary file left)", len(entries))
	}
	if code := Main([]string{"compare", a}, &so, &se); code != 2 {
		t.Errorf("compare with one dir: exit %d", code)
	}
	if code := Main([]string{"report"}, &so, &se); code != 2 {
		t.Errorf("report with no dir: exit %d", code)
	}
}

// A run that wrote its latency.hlog whole and no longer has it (moved
// aside, deleted) is still reported, but saying that its charts from the
// log are left out: report.html silently lost five charts.
func TestReportSaysItsLogIsMissing(t *testing.T) {
	dir := resultstest.CopyFixture(t, "smoke-basic")
	resultstest.EditSummary(t, dir, func(m map[string]any) { m["latency_log_whole"] = true })
	if err := os.Remove(filepath.Join(dir, "latency.hlog")); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := Main([]string{"report", dir}, &so, &se); code != 0 {
		t.Fatalf("report: exit %d: %s", code, se.String())
	}
	if !strings.Contains(se.String(), "latency.hlog is missing") {
		t.Errorf("stderr %q: want the missing log named", se.String())
	}
	for _, f := range []string{"report.html", "report.md"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.Contains(string(b), "latency.hlog is missing") {
			t.Errorf("%s does not say its log is missing (%v)", f, err)
		}
	}
}

// A scenario path that does not exist names the shipped scenarios, when
// there are some where loadgen runs.
func TestMissingScenarioNamesTheShippedOnes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scenarios"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scenarios", "smoke.yaml"), []byte("name: smoke\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var so, se bytes.Buffer
	if code := Main([]string{"run", "scenarios/smok.yaml"}, &so, &se); code != 2 || !strings.Contains(se.String(), "the shipped scenarios are scenarios/smoke.yaml") {
		t.Fatalf("exit %d, stderr %q; want 2 naming scenarios/smoke.yaml", code, se.String())
	}
}

// Percentages are read as written: 0.7% is 0.007 (not
// 0.006999999999999999, which compared as text with a run given 0.007
// made compare and gate warn that the shares differ).
func TestSharesFromPercentagesAreExact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"0.7%", 0.007}, {"1.1%", 0.011}, {" 5 % ", 0.05}, {"0.25", 0.25}, {"100%", 1}} {
		var v float64
		if err := (shareFlag{&v}).Set(tc.in); err != nil || v != tc.want {
			t.Errorf("--trace-sample %q = %v, %v; want %v", tc.in, v, err, tc.want)
		}
	}
	if v, err := parsePercent("0.7%"); err != nil || v != 0.007 {
		t.Errorf("parsePercent(0.7%%) = %v, %v", v, err)
	}
}
