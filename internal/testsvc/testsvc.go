// Package testsvc starts the real services tests need (redis-server, a
// Redis Cluster, the Firebase Auth emulator) on free loopback ports and
// tears them down when the test ends.
//
// A missing service fails the test when CI is set (CI must prove the real
// thing works) and skips it elsewhere with a message saying how to get it.
package testsvc

import (
	"os"
	"testing"
)

// InCI reports whether the CI environment variable is set to a non-empty,
// non-"false" value.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Unavailable reports that service cannot be used. In CI it fails the test;
// elsewhere it skips with howTo, a hint such as
// "apt-get install -y redis-server".
func Unavailable(tb testing.TB, service, reason, howTo string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s is required in CI but unavailable: %s (install: %s)", service, reason, howTo)
	}
	tb.Skipf("%s unavailable: %s; to run this test: %s", service, reason, howTo)
}
