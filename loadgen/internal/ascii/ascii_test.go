package ascii

import "testing"

func TestEqualFoldLower(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"content-length", true},
		{"Content-Length", true},
		{"CONTENT-LENGTH", true},
		{"content-lengt", false},
		{"content-lengthx", false},
		{"content_length", false},
		{"\u212aontent-length", false}, // KELVIN SIGN: never folded
	} {
		if got := EqualFoldLower([]byte(c.b), []byte("content-length")); got != c.want {
			t.Errorf("EqualFoldLower(%q) = %v, want %v", c.b, got, c.want)
		}
	}
}
