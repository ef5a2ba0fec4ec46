package testsvc

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
)

// TestUnavailableMessages: the install hint appears once and only when
// the tool is missing. An installed firebase whose emulator exited early
// was reported as "(install: npm install -g firebase-tools)", and the
// skip message repeated its fix twice.
func TestUnavailableMessages(t *testing.T) {
	missing := fmt.Errorf("%w: install it with `%s`", firebaseemu.ErrCLIMissing, firebaseemu.HowTo)
	broken := errors.New("auth emulator did not become ready: firebase exited early: exit status 2")
	notFound := &exec.Error{Name: "redis-server", Err: exec.ErrNotFound}
	for _, c := range []struct {
		err      error
		ci, fail bool
		want     string
		wantNot  string
		howTimes int
	}{
		{missing, true, true, "required in CI but not installed", "", 1},
		{missing, false, false, "not installed; to run this test", "", 1},
		{notFound, false, false, "redis-server not installed", "", 1},
		{broken, true, true, "installed, but unusable: auth emulator did not become ready", "npm", 0},
		{broken, false, false, "installed but unusable", "install it", 0},
	} {
		service := "Firebase Auth emulator"
		if c.err == notFound {
			service = "redis-server"
		}
		msg, fail := unavailable(service, c.err, firebaseemu.HowTo, c.ci)
		if fail != c.fail || !strings.Contains(msg, c.want) || strings.Count(msg, firebaseemu.HowTo) != c.howTimes ||
			(c.wantNot != "" && strings.Contains(msg, c.wantNot)) {
			t.Errorf("%v ci=%v: %q fail=%v", c.err, c.ci, msg, fail)
		}
	}
}
