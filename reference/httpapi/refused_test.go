package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every refusal reason has a series from the start, at zero.
func TestRefusedSeriesExistAtStart(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := string(e.do(e.browser(), "GET", "/metrics", "").body)
	for _, r := range refusedReasons {
		if want := `sessiond_sessions_refused_total{reason="` + r + `"} 0`; !strings.Contains(m, want) {
			t.Errorf("/metrics at start lacks %s", want)
		}
	}
}

// refusalCode finds the error codes the package answers client errors
// with: writeError calls with a 4xx status, readCreateBody's returns and
// the recheck verdicts.
var refusalCode = regexp.MustCompile(`http\.Status(?:BadRequest|Unauthorized|Forbidden|RequestEntityTooLarge|UnsupportedMediaType|Conflict|TooManyRequests),\s*"([a-z_]+)"|return "([a-z_]+)", "`)

// TestRefusedReasonsCoverEveryCode keeps refusedReasons whole: a new
// client-error code in the public API's source must be added to it.
func TestRefusedReasonsCoverEveryCode(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "internal.go" { // the internal API has its own metric
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range refusalCode.FindAllStringSubmatch(string(src), -1) {
			code := m[1] + m[2]
			found++
			if !slices.Contains(refusedReasons, code) {
				t.Errorf("%s answers a client error %q that refusedReasons lacks: add it so its series exists at start", f, code)
			}
		}
	}
	if found < 15 {
		t.Fatalf("found only %d refusal codes in the source; the pattern no longer matches the code", found)
	}
}
