// Package proc holds what starting and stopping helper processes needs
// in more than one place: loadgen starts sessiond and the Firebase Auth
// emulator, the test helpers start the emulator too.
package proc

import "strings"

// WithoutEnv returns env without the entries for name, so a child does not
// inherit a setting meant for its parent (e.g. an emulator host).
func WithoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Tail returns the last n bytes of s, marked as cut, for error messages
// that quote a child's output.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
