// Command loadgen is sessionbench's open-loop load generator: it runs a
// scenario against sessiond (started by loadgen, or any server speaking
// its API given with --target), records latency corrected for coordinated
// omission, and writes a results directory.
//
// Usage:
//
//	loadgen run SCENARIO.yaml [flags]   run a scenario (loadgen run -h for the flags)
//	loadgen tokens --auth minted|emulator --count N   print ID tokens, one per line
//	loadgen keygen --out KEY.pem --public-key-out PUB.pem   a key pair for minted tokens
//	loadgen report DIR...               redraw report.html and report.md
//	loadgen compare DIR... [--out DIR]  runs side by side
//	loadgen gate --baseline DIR... --current DIR...   the noise-aware CI gate
//	loadgen version                     print the version
//	loadgen help                        print this text
//
// Exit codes: 0 done; 1 the run failed (target unreachable, run invalid,
// interrupted: partial results are still written); 2 usage or
// configuration error; 3 an SLO of the scenario was breached.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// version is set at link time: -ldflags "-X main.version=...".
var version = "dev"

// silenceTestcontainers installs testcontainers' package logger once.
var silenceTestcontainers sync.Once

// Exit codes (contract).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitSLO    = 3
)

const usage = `usage:
  loadgen run SCENARIO.yaml [--target URL] [--redis auto|embedded|local|container|redis://…]
                            [--redis-profile P] [--redis-image I] [--label L] [--auth minted|emulator]
                            [--driver http|store] [--rate R] [--duration D] [--out DIR]
                            [--auth-key FILE] [--project P] [--seed N] [--quiet]
  loadgen tokens --auth minted|emulator --count N [--auth-key FILE] [--project P] [--public-key-out FILE]
  loadgen keygen --out KEY.pem --public-key-out PUB.pem
  loadgen report DIR...                     (re)write report.html and report.md of results directories
  loadgen compare DIR... [--out DIR]        runs side by side, ratios against the first
  loadgen gate --baseline DIR... --current DIR... [--max-regression 10%] [--min-delta 0.2ms]
               [--junit FILE] [--markdown FILE]   the CI gate: 0 pass, 3 regression, 1 inconclusive
  loadgen version
  loadgen help

Without --target, loadgen starts bin/sessiond (built if missing) on a free
loopback port against the Redis chosen by --redis (default auto: a
container when Docker has the image, else redis-server from PATH, else an
in-process miniredis) and --redis-profile (basic, standard, aof, tls,
cluster3, maxmem-noeviction, maxmem-lru). Results go to --out (default
results/<scenario>-<UTC timestamp>/): summary.json, report.html,
report.md, latency.hlog, timeline.csv, sessiond.log, scenario.yaml,
auth-public-key.pem (see results/README.md).

Against a server you start yourself (--target), minted tokens must be
signed with a key it trusts: make a pair once with loadgen keygen, start
sessiond --auth=local --auth-public-key PUB.pem, and pass --auth-key
KEY.pem to every run (without it each run signs with a new key).

Ctrl-C or SIGTERM stops the schedule, drains in-flight operations and
writes the results of what ran with "partial": true; the exit code is then 1
(the run did not complete).

Exit codes: 0 done; 1 the run failed (target unreachable, run invalid or
interrupted); 2 usage or configuration error; 3 SLO breached.
`

func main() {
	// go-redis logs through a package-level logger; the program (not the
	// library code, not Main, which tests call many times) sets it once.
	redis.SetLogger(newRedisLogger(os.Stderr))
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main is the whole program; it returns the exit code. SIGINT and SIGTERM
// cancel a run (partial results are written).
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// testcontainers-go prints "Connected to docker …" through its
	// package logger whatever a provider's own logger says; loadgen's
	// output is its own. Once per process: its goroutines read it.
	silenceTestcontainers.Do(func() { tclog.SetDefault(tclog.NewNoopLogger()) })
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "tokens":
		return tokensCmd(ctx, args[1:], stdout, stderr)
	case "keygen":
		return keygenCmd(args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "compare":
		return compareCmd(args[1:], stdout, stderr)
	case "gate":
		return gateCmd(args[1:], stdout, stderr)
	case "null-target":
		return nullTargetCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "loadgen %s\n", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
}
