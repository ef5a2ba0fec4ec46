package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/target"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEveryOperationFailedExits1: a target that answers 503 to
// everything, a scenario without an SLO: the run is a failure (exit 1,
// verdict "failed", the reason names the class), not a pass (it exited 0).
func TestEveryOperationFailedExits1(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	sc := writeScenario(t, "name: down\nduration: 1s\nrate: 60/s\nmix: {create: 1, validate: 1}\npopulation: {users: 5}\n")
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", sc, "--target", srv.URL, "--out", out}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "every operation failed (server_5xx=60)") {
		t.Errorf("stderr lacks the reason:\n%s", stderr.String())
	}
	var sum struct {
		Verdict string `json:"verdict"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Verdict != "failed" {
		t.Errorf("verdict %q (%v)", sum.Verdict, err)
	}
}

// TestExternalTargetKeyPairing: the README's --target flow. A sessiond
// started with a public key from `loadgen keygen` accepts runs given the
// private key; a run without it fails with a message that says why and
// how to fix it (it said only "prefill: all 200 creates failed … 401"),
// and leaves no results directory without a summary.json.
func TestExternalTargetKeyPairing(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"keygen", "--out", key, "--public-key-out", pub}, &stdout, &stderr); code != exitOK {
		t.Fatalf("keygen exit %d: %s", code, stderr.String())
	}
	tgt, err := target.Start(context.Background(), target.Config{
		StartServer: true, Auth: "local", PublicKeyFile: pub, Project: tokens.DefaultProject, Sessiond: bin, Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	sc := writeScenario(t, "name: pair\nduration: 1s\nrate: 50/s\nmix: {create: 1, validate: 1}\npopulation: {users: 10, prefill: 20}\n")

	out := filepath.Join(dir, "good")
	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"run", sc, "--target", tgt.URL, "--auth-key", key, "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("run with the paired key: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}

	out = filepath.Join(dir, "unpaired")
	stdout.Reset()
	stderr.Reset()
	code := Main([]string{"run", sc, "--target", tgt.URL, "--out", out}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("run with a per-run key: exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"does not accept this run's tokens", "loadgen keygen", "--auth-key"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("results dir %s left behind without a summary (%v)", out, err)
	}
}
