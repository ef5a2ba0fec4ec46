package auth

import (
	"testing"
	"time"
)

func TestMaxAge(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"public, max-age=19302, must-revalidate, no-transform": 19302 * time.Second,
		"max-age = 600":                10 * time.Minute,
		`max-age="600"`:                10 * time.Minute,
		"max-age=0":                    certsMinAge,
		"max-age=5":                    certsMinAge,
		"max-age=99999999999999999999": certsMaxAge,
		"max-age=999999":               certsMaxAge,
		"max-age=-1":                   certsDefaultAge,
		"max-age=soon":                 certsDefaultAge,
		"no-store":                     certsDefaultAge,
		"":                             certsDefaultAge,
		"s-maxage=10, MAX-AGE=120":     2 * time.Minute,
	} {
		if got := maxAge(header); got != want {
			t.Errorf("maxAge(%q) = %v, want %v", header, got, want)
		}
	}
}
