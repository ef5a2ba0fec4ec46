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

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/sut"
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
	env, err := redisenv.Open(context.Background(), redisenv.Spec{Mode: redisenv.ModeEmbedded})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	tgt, err := sut.Start(context.Background(), sut.Sessiond{
		Env: env, Auth: "local", PublicKeyFile: pub, Project: tokens.DefaultProject, Binary: bin, Dir: dir,
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

// TestURLModeRunLeavesTheRedisAsItWas: a run against a shared Redis
// (the Memorystore case) writes through sessiond under its own prefix
// only and removes exactly its keys: pre-existing data — including keys
// under sessiond's default prefix — is byte-for-byte intact afterwards.
func TestURLModeRunLeavesTheRedisAsItWas(t *testing.T) {
	t.Setenv(sut.SessiondEnv, buildSessiond(t))
	addr := testsvc.StartRedis(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	seed := map[string]string{"app:config": "v1", "sb:s:someone-elses": "session", "sb:u:alice": "index"}
	for k, v := range seed {
		if err := admin.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	dumps := map[string]string{}
	for k := range seed {
		dumps[k] = admin.Dump(ctx, k).Val()
	}
	sc := writeScenario(t, "name: shared\nduration: 1s\nrate: 100/s\nmix: {create: 5, validate: 4, destroy: 1}\npopulation: {users: 20, prefill: 50}\n")
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"run", sc, "--redis", "redis://" + addr + "/0", "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var sum struct {
		Target struct {
			Redis struct {
				Mode      string `json:"mode"`
				KeyPrefix string `json:"key_prefix"`
			} `json:"redis"`
		} `json:"target"`
		Ops map[string]struct {
			Count uint64 `json:"count"`
		} `json:"ops"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Target.Redis.Mode != "url" || !strings.HasPrefix(sum.Target.Redis.KeyPrefix, "sb:run-") || sum.Ops["create"].Count == 0 {
		t.Fatalf("summary: %s", b)
	}
	keys, err := admin.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(seed) {
		t.Errorf("keys after the run: %v; want only the %d seeded", keys, len(seed))
	}
	for k, d := range dumps {
		if admin.Dump(ctx, k).Val() != d {
			t.Errorf("%s changed", k)
		}
	}
}

// TestDuetRunsBothServersInStep: --duet with a sessiond binary starts a
// second server on a Redis of its own and sends it every scheduled
// operation at the same intended time: both results directories have the
// same operation counts, the same pair id and the duet mark, and their
// first intervals start together; the gate pairs them.
func TestDuetRunsBothServersInStep(t *testing.T) {
	bin := buildSessiond(t)
	t.Setenv(sut.SessiondEnv, bin)
	sc := writeScenario(t, "name: duet\nduration: 6s\nwarmup: 1s\nrate: 60/s\nmix: {create: 3, validate: 6, destroy: 1}\npopulation: {users: 20, prefill: 20}\n")
	out := filepath.Join(t.TempDir(), "duet")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"run", sc, "--redis", "embedded", "--duet", bin, "--seed", "42", "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	type sum struct {
		Pair string `json:"pair"`
		Duet bool   `json:"duet"`
		Ops  map[string]struct {
			Count uint64 `json:"count"`
		} `json:"ops"`
	}
	read := func(side string) sum {
		var s sum
		b, err := os.ReadFile(filepath.Join(out, side, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	b, c := read("base"), read("current")
	if !b.Duet || !c.Duet || b.Pair == "" || b.Pair != c.Pair {
		t.Errorf("pair %q/%q duet %v/%v", b.Pair, c.Pair, b.Duet, c.Duet)
	}
	for _, op := range []string{"create", "validate", "destroy"} {
		if b.Ops[op].Count != c.Ops[op].Count || b.Ops[op].Count == 0 {
			t.Errorf("%s: base %d, current %d; every operation goes to both", op, b.Ops[op].Count, c.Ops[op].Count)
		}
	}
	rb, err1 := results.ReadRun(filepath.Join(out, "base"))
	rc, err2 := results.ReadRun(filepath.Join(out, "current"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if d := rb.Intervals["validate"][0].StartTimeMs() - rc.Intervals["validate"][0].StartTimeMs(); d < -50 || d > 50 {
		t.Errorf("first intervals start %d ms apart; a duet measures both at the same moments", d)
	}
	var so, se bytes.Buffer
	code := Main([]string{"gate", "--baseline", filepath.Join(out, "base"), "--current", filepath.Join(out, "current")}, &so, &se)
	if !strings.Contains(so.String(), "paired duet") || code == exitUsage {
		t.Errorf("gate on a duet: exit %d\n%s%s", code, so.String(), se.String())
	}
}

// TestSessiondKilledMidRunFailsTheRun: the sessiond loadgen started was
// killed during the run; 308 of 500 operations failed to connect, yet
// the run printed "slo: passed" and exited 0. A wrapper kills it with
// SIGKILL one second after it is ready (it hands loadgen the ready file
// only once sessiond wrote it), inside a 3 s measured phase.
func TestSessiondKilledMidRunFailsTheRun(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "sessiond-killed")
	script := `#!/bin/bash
ready=""; args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --ready-file ]; then ready=$2; shift 2; continue; fi
  args+=("$1"); shift
done
"` + bin + `" "${args[@]}" --ready-file "$ready.inner" &
pid=$!
while [ ! -s "$ready.inner" ]; do sleep 0.01; done
cp "$ready.inner" "$ready"
addr=$(cat "$ready.inner"); addr=${addr#http://}
# Killed once the measured phase is under way (20 validates answered), by
# count, not after a fixed sleep: a loaded machine could still be in the
# prefill a second after ready (the run then ends before measuring).
for i in $(seq 1500); do  # at most 30 s, then fail the test below
  n=$( { exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3; } 2>/dev/null |
    awk '/^sessiond_sessions_validated_total /{print int($2)}')
  [ "${n:-0}" -ge 20 ] && break
  sleep 0.02
done
[ "${n:-0}" -ge 20 ] || { echo "sessiond-killed: never saw 20 validates" >&2; kill $pid; exit 3; }
kill -KILL $pid
wait $pid
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sut.SessiondEnv, wrapper)
	sc := writeScenario(t, "name: crash\nduration: 3s\nrate: 100/s\nmix: {create: 1, validate: 4}\npopulation: {users: 20}\nslo: {validate.p99: 10s}\n")
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", sc, "--redis", "embedded", "--out", out}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String()+stdout.String(), "exited") {
		t.Errorf("output does not say sessiond exited:\n%s\n%s", stdout.String(), stderr.String())
	}
	var sum struct {
		Verdict string `json:"verdict"`
		Target  struct {
			Exited string `json:"exited"`
		} `json:"target"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Verdict != "failed" || !strings.Contains(sum.Target.Exited, "137") {
		t.Errorf("verdict %q, target.exited %q (%v); want failed, exit status 137", sum.Verdict, sum.Target.Exited, err)
	}
}
