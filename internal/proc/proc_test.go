package proc

import (
	"strings"
	"testing"
)

func TestWithoutEnvDropsOnlyThatName(t *testing.T) {
	got := WithoutEnv([]string{"A=1", "AB=2", "B=3", "A=4"}, "A")
	if strings.Join(got, " ") != "AB=2 B=3" {
		t.Fatalf("WithoutEnv = %v, want [AB=2 B=3]", got)
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	if got := Tail("abcdef", 3); got != "...def" {
		t.Fatalf("Tail = %q", got)
	}
	if got := Tail("ab", 3); got != "ab" {
		t.Fatalf("Tail of a short string = %q", got)
	}
}
