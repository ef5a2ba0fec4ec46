package firebaseemu_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/internal/firebaseemu"
	"github.com/sessionbench/sessionbench/internal/testsvc"
)

func TestStartNeedsProject(t *testing.T) {
	_, err := firebaseemu.Start(context.Background(), firebaseemu.Options{})
	if err == nil || !strings.Contains(err.Error(), "Project") {
		t.Fatalf("err = %v, want one naming Options.Project", err)
	}
}

func TestStartWithoutCLINamesTheFix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := firebaseemu.Start(context.Background(), firebaseemu.Options{Project: "demo-x"})
	if !errors.Is(err, firebaseemu.ErrCLIMissing) || !strings.Contains(err.Error(), firebaseemu.HowTo) {
		t.Fatalf("err = %v, want ErrCLIMissing naming %q", err, firebaseemu.HowTo)
	}
}

// Close must stop the whole process group: afterwards nothing answers on
// the emulator's port, and a second Close is a no-op.
func TestStartServesThenCloseStopsEverything(t *testing.T) {
	e, err := firebaseemu.Start(context.Background(), firebaseemu.Options{Project: "demo-firebaseemu-test"})
	if err != nil {
		testsvc.Unavailable(t, "Firebase Auth emulator", err, firebaseemu.HowTo)
		return
	}
	if e.Project != "demo-firebaseemu-test" || !strings.HasPrefix(e.Host, "127.0.0.1:") {
		t.Errorf("emulator at %q for %q", e.Host, e.Project)
	}
	c, err := net.DialTimeout("tcp", e.Host, time.Second)
	if err != nil {
		t.Fatalf("emulator reported ready but %s refuses: %v", e.Host, err)
	}
	c.Close()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", e.Host, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still answers after Close", e.Host)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
