package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/scenario"
)

// TestShippedScenariosLoad loads every scenarios/*.yaml: a shipped
// scenario that does not validate breaks make bench or a user's run.
func TestShippedScenariosLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "scenarios", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"smoke": false, "steady-browse": false, "login-storm": false, "logout-wave": false, "soak-memory": false}
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if sc.Name != base {
			t.Errorf("%s: name %q, want the file's base name %q", f, sc.Name, base)
		}
		if sc.Description == "" {
			t.Errorf("%s: no description", f)
		}
		if _, ok := want[sc.Name]; ok {
			want[sc.Name] = true
		}
		if sc.Name == "smoke" && sc.Timeline().Seconds() > 20 {
			t.Errorf("smoke runs %v; make bench wants it within 20 s", sc.Timeline())
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("scenarios/%s.yaml is missing", name)
		}
	}
}
