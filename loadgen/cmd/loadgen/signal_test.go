package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/sut"
)

// TestSIGINTWritesPartialResults interrupts a real `loadgen run` in its
// measured phase: it must drain, write a valid summary.json marked
// partial with the operations that ran, stop sessiond, and exit 1.
func TestSIGINTWritesPartialResults(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "long.yaml")
	if err := os.WriteFile(sc, []byte(`name: long
description: Long enough to be interrupted.
duration: 60s
warmup: 1s
rate: 100/s
mix: {create: 30, validate: 60, destroy: 10}
population: {users: 100, prefill: 10}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	c := startLoadgen(t, bin, "run", sc, "--out", out)
	// Wait until the measured phase has logged at least one interval.
	c.waitFor(t, "a measured interval", func() bool { return measuring(filepath.Join(out, "latency.hlog")) })
	c.interrupt(t)
	stdout := &c.stdout
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Schema  string  `json:"schema"`
		Partial bool    `json:"partial"`
		Dur     float64 `json:"duration_s"`
		Ops     map[string]struct {
			Count uint64 `json:"count"`
		} `json:"ops"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("summary.json is not valid JSON: %v\n%s", err, b)
	}
	if !sum.Partial || sum.Schema != "sessionbench.summary/v1" {
		t.Fatalf("partial=%v schema=%q, want partial v1", sum.Partial, sum.Schema)
	}
	if sum.Ops["validate"].Count == 0 || sum.Ops["create"].Count == 0 {
		t.Fatalf("counts %+v: want operations recorded before the signal", sum.Ops)
	}
	if sum.Dur >= 60 {
		t.Fatalf("duration_s %v: the run was not cut short", sum.Dur)
	}
	if !strings.Contains(stdout.String(), "PARTIAL") {
		t.Errorf("summary table does not say PARTIAL:\n%s", stdout.String())
	}
}

// measuring reports whether an interval line has been written to hlog.
func measuring(hlog string) bool {
	b, err := os.ReadFile(hlog)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Tag=") || (line != "" && line[0] >= '0' && line[0] <= '9') {
			return true
		}
	}
	return false
}

// TestSIGINTBeforeMeasuring: interrupted during warmup, a run has
// measured nothing: no SLO verdict (it printed "create.p99 0.000ms ≤
// 500ms BREACH" beside "validity: valid"), no empty latency.hlog, a
// partial summary, exit 1.
func TestSIGINTBeforeMeasuring(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "warm.yaml")
	if err := os.WriteFile(sc, []byte(`name: warm
duration: 10s
warmup: 60s
rate: 50/s
mix: {create: 30, validate: 70}
population: {users: 20, prefill: 5}
slo:
  create.p99: 500ms
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	c := startLoadgen(t, bin, "run", sc, "--out", out)
	// sessiond is up once its ready file has been consumed.
	c.waitFor(t, "sessiond to start", func() bool {
		_, logErr := os.Stat(filepath.Join(out, "sessiond.log"))
		_, readyErr := os.Stat(filepath.Join(out, ".sessiond.ready"))
		return logErr == nil && os.IsNotExist(readyErr)
	})
	// In the warm-up (60 s of it), by state rather than after a sleep: a
	// loaded machine could still be warming the token pool, where an
	// interrupt writes nothing. The prefill makes 5 sessions; a 6th
	// login is the warm-up's.
	c.waitFor(t, "the warm-up's first login", func() bool {
		b, _ := os.ReadFile(filepath.Join(out, "sessiond.log"))
		return bytes.Count(b, []byte(`"message":"session created"`)) >= 6
	})
	c.interrupt(t)
	stdout := &c.stdout
	if _, err := os.Stat(filepath.Join(out, "latency.hlog")); !os.IsNotExist(err) {
		t.Errorf("latency.hlog exists after a run that measured nothing (%v)", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Partial bool   `json:"partial"`
		Verdict string `json:"verdict"`
		SLO     struct {
			Passed       bool           `json:"passed"`
			Terms        map[string]any `json:"terms"`
			NotEvaluated string         `json:"not_evaluated"`
		} `json:"slo"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if !sum.Partial || sum.Verdict != "partial" || sum.SLO.NotEvaluated == "" || len(sum.SLO.Terms) != 0 {
		t.Errorf("summary: %s", b)
	}
	if strings.Contains(stdout.String(), "BREACH") || !strings.Contains(stdout.String(), "slo: not evaluated") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

// child is a loadgen run in a process of its own (the test binary acting
// as loadgen), to be interrupted like a user's Ctrl-C.
type child struct {
	cmd            *exec.Cmd
	done           chan error
	stdout, stderr bytes.Buffer
}

func startLoadgen(t *testing.T, sessiond string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), mainEnv+"=1", sut.SessiondEnv+"="+sessiond)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c
}

// waitFor polls until cond holds (a state, not a time), failing if the
// child exits first or 30 s pass.
func (c *child) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-c.done:
			t.Fatalf("loadgen exited while waiting for %s: %v\n%s", what, err, c.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = c.cmd.Process.Kill()
			t.Fatalf("no %s within 30 s\n%s", what, c.stderr.String())
		}
	}
}

// interrupt sends SIGINT and requires exit code 1 within 30 s.
func (c *child) interrupt(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("loadgen did not stop within 30 s of SIGINT\n%s", c.stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitFailed, c.stderr.String())
	}
}

// TestSIGINTDuringTokenWarmup: Ctrl-C while the token pool was warming
// printed "engine: tokens: warm 1000 users: context canceled" and the end
// of sessiond.log, as if sessiond had failed. It says it was interrupted
// and that nothing was written, and leaves no results directory.
func TestSIGINTDuringTokenWarmup(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "many.yaml")
	// 100,000 users: minting their tokens takes far longer than the
	// moment between sessiond's start and the interrupt.
	if err := os.WriteFile(sc, []byte("name: many\nduration: 10s\nrate: 50/s\nmix: {create: 1, validate: 1}\npopulation: {users: 100000}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	c := startLoadgen(t, bin, "run", sc, "--out", out, "--redis", "embedded")
	c.waitFor(t, "sessiond to start", func() bool {
		_, logErr := os.Stat(filepath.Join(out, "sessiond.log"))
		_, readyErr := os.Stat(filepath.Join(out, ".sessiond.ready"))
		return logErr == nil && os.IsNotExist(readyErr)
	})
	c.interrupt(t)
	if !strings.Contains(c.stderr.String(), "interrupted before the measured phase") || strings.Contains(c.stderr.String(), "sessiond.log ends with") {
		t.Errorf("stderr:\n%s", c.stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("results directory left behind (%v)", err)
	}
}
