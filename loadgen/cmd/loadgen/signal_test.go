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
	cmd := exec.Command(os.Args[0], "run", sc, "--out", out)
	cmd.Env = append(os.Environ(), mainEnv+"=1", sut.SessiondEnv+"="+bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Wait until the measured phase has logged at least one interval.
	deadline := time.Now().Add(30 * time.Second)
	for !measuring(filepath.Join(out, "latency.hlog")) {
		select {
		case err := <-done:
			t.Fatalf("loadgen exited before the signal: %v\n%s", err, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no measured interval within 30 s\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("loadgen did not stop within 30 s of SIGINT\n%s", stderr.String())
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitFailed, stderr.String())
	}
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
	cmd := exec.Command(os.Args[0], "run", sc, "--out", out)
	cmd.Env = append(os.Environ(), mainEnv+"=1", sut.SessiondEnv+"="+bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// sessiond is up once its ready file has been consumed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, logErr := os.Stat(filepath.Join(out, "sessiond.log"))
		_, readyErr := os.Stat(filepath.Join(out, ".sessiond.ready"))
		if logErr == nil && os.IsNotExist(readyErr) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("loadgen exited early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("sessiond not started within 30 s\n%s", stderr.String())
		}
	}
	time.Sleep(300 * time.Millisecond) // into prefill or warmup: 60 s of it
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("loadgen did not stop within 30 s of SIGINT\n%s", stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitFailed, stderr.String())
	}
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
