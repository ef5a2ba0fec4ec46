// Package resultstest gives tests copies of the recorded results
// directories (testdata/results at the module's root) to change, and a
// way to rewrite their summary.json: the fixtures themselves stay as
// loadgen wrote them.
package resultstest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/results"
)

// CopyFixture copies testdata/results/<name> into a new temporary
// directory of that name and returns its path.
func CopyFixture(tb testing.TB, name string) string {
	tb.Helper()
	src := filepath.Join(moduleRoot(tb), "testdata", "results", name)
	dst := filepath.Join(tb.TempDir(), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

// EditSummary rewrites dir's summary.json through f.
func EditSummary(tb testing.TB, dir string, f func(map[string]any)) {
	tb.Helper()
	p := filepath.Join(dir, results.SummaryFile)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	if b, err = json.Marshal(m); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// moduleRoot is the nearest directory above the test's own that holds
// go.mod (go test runs in the package's directory).
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("resultstest: no go.mod above the test's directory")
		}
		dir = parent
	}
}
