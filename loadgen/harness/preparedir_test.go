package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// A run that fails before measuring removes the results/ parent it made
// only while empty: another run's results written there meanwhile stay.
func TestPrepareDirUndoKeepsAnotherRunsResults(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "results", "a")
	undoA, err := prepareDir(a)
	if err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(root, "results", "b")
	if _, err := prepareDir(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "summary.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	undoA()
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("the failed run's own directory is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(b, "summary.json")); err != nil {
		t.Fatalf("another run's results were removed: %v", err)
	}
	// Alone, the parent it made goes too.
	c := filepath.Join(root, "fresh", "deep", "c")
	undoC, err := prepareDir(c)
	if err != nil {
		t.Fatal(err)
	}
	undoC()
	if _, err := os.Stat(filepath.Join(root, "fresh")); !os.IsNotExist(err) {
		t.Errorf("parents made for a failed run are left behind (%v)", err)
	}
	// A directory another run just made is not shared.
	if _, err := prepareDir(b); err == nil {
		t.Error("a non-empty --out was accepted")
	}
}
