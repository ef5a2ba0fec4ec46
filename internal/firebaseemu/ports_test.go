package firebaseemu

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestStartRetriesWhenAPortIsTaken: another process binds a chosen port
// between the choice and firebase's bind (it happened in CI: "Port 36197
// is not open … port taken"). Start tries again with new ports instead
// of failing.
func TestStartRetriesWhenAPortIsTaken(t *testing.T) {
	if _, err := exec.LookPath("firebase"); err != nil {
		requireInCI(t, err)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	calls := 0
	pick := func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if err == nil && calls == 1 {
			ports[0] = held.Addr().(*net.TCPAddr).Port // the auth port is taken
		}
		return ports, err
	}
	e, err := Start(context.Background(), Options{Project: "demo-firebaseemu-ports", pickPorts: pick})
	if err != nil {
		t.Fatalf("Start after a taken port: %v", err)
	}
	defer e.Close()
	if calls != 2 {
		t.Errorf("ports chosen %d times, want 2 (one collision, one success)", calls)
	}
	if e.Host == held.Addr().String() {
		t.Errorf("emulator reports the taken address %s", e.Host)
	}
}

// requireInCI fails in CI (the firebase CLI must be there) and skips
// elsewhere. testsvc has the general helper, but it imports this package.
func requireInCI(t *testing.T, err error) {
	t.Helper()
	if v := os.Getenv("CI"); v != "" && v != "false" && v != "0" {
		t.Fatalf("firebase CLI is required in CI: %v; install it with: %s", err, HowTo)
	}
	t.Skipf("firebase CLI not installed; to run this test: %s", HowTo)
}
