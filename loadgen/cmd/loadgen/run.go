package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/harness"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/report"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// runFlags are the flags of `loadgen run`.
type runFlags struct {
	target, auth, driver, rate, duration, out, authKey, project, label string
	duet, pair                                                         string
	seed                                                               uint64
	slowest                                                            int
	traceSample                                                        float64
	quiet                                                              bool
	redis                                                              redisenv.Spec
	cluster                                                            clusterFlag
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "base `URL` of a running server speaking the sessiond API; nothing is started")
	fs.StringVar(&f.redis.Mode, "redis", redisenv.DefaultMode, "the Redis under test: auto (Docker with the image, else redis-server in PATH, else embedded), "+
		"embedded (in-process miniredis: not Redis performance), local (redis-server from PATH), container (testcontainers), "+
		"or a redis:// / rediss:// `URL` (Memorystore; the run writes under its own key prefix and removes it; with --target: the Redis behind that server, observed only)")
	fs.StringVar(&f.redis.Profile, "redis-profile", "", "tier `profile` that local and container start for real: "+profileList()+" (default basic)")
	fs.StringVar(&f.redis.Image, "redis-image", "", "container `image` (default $"+redisenv.ImageEnv+", else "+redisenv.DefaultImage+")")
	fs.StringVar(&f.redis.MaxMemory, "redis-maxmemory", "", "maxmemory of the maxmem-* profiles, e.g. 64mb (default "+redisenv.DefaultMaxMemory+")")
	fs.StringVar(&f.redis.CAFile, "redis-ca-file", "", "PEM `file` of CAs to trust for a rediss:// URL")
	fs.StringVar(&f.redis.PasswordFile, "redis-password-file", "", "`file` holding the AUTH password of a Redis URL (overrides one in the URL)")
	fs.Var(&f.cluster, "redis-cluster", "the URL is Redis Cluster (Memorystore for Redis Cluster): alone, the URL's host is the discovery endpoint; --redis-cluster=host:port,… names seeds")
	fs.BoolVar(&f.redis.KeepKeys, "keep-keys", false, "keep the run's keys in a Redis given by URL (default: remove them at the end)")
	fs.StringVar(&f.label, "label", "", "name of this run's tier or variant for comparisons, e.g. memorystore-standard-m2")
	fs.StringVar(&f.pair, "pair", "", "`id` this run shares with its partner on the other side of a gate (a round of interleaved trials): loadgen gate resamples partners together")
	fs.StringVar(&f.duet, "duet", "", "measure a second server at the same time, operation by operation: its http(s) `URL`, or a sessiond binary loadgen starts on a Redis of its own; results go to --out/base and --out/current, partners for loadgen gate")
	fs.StringVar(&f.auth, "auth", harness.DefaultAuth, "token pool: minted (RS256, local key; sessiond --auth=local) or emulator (Firebase Auth emulator)")
	fs.StringVar(&f.driver, "driver", harness.DefaultDriver, "http (the HTTP API) or store (the reference session store on Redis directly, no HTTP, no auth)")
	fs.StringVar(&f.rate, "rate", "", "override the scenario's rate with a constant `rate`, e.g. 2000/s")
	fs.StringVar(&f.duration, "duration", "", "override the measured `duration`, e.g. 30s")
	fs.StringVar(&f.out, "out", "", "results `dir` (default results/<scenario>-<UTC timestamp>/); must not exist or be empty")
	fs.StringVar(&f.authKey, "auth-key", "", "PEM RSA private key `file` for minted tokens (default: a new key per run; see loadgen keygen)")
	fs.StringVar(&f.project, "project", harness.DefaultProject, "Firebase project `ID` of the tokens (sessiond --firebase-project)")
	fs.IntVar(&f.slowest, "slowest", recorder.DefaultSlowest, "list this many of the slowest operations of each kind in summary.json, with the W3C trace ID each was sent with when it was sampled (every HTTP operation carries a traceparent)")
	f.traceSample = engine.DefaultTraceSample
	fs.Var(shareFlag{&f.traceSample}, "trace-sample", "`share` of measured operations sent with a sampled traceparent, from 0 to 1 (or 0% to 100%): a tracing sessiond records those (parent-based sampling), and only they keep a trace ID among the slowest; lower it to measure the server at its production sampling ratio")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the operation and session picks (0: random, reported in summary.json)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line even on a terminal")
}

// slowestFlag maps --slowest 0 (none) to the library's "negative: none";
// 0 there means the default.
func slowestFlag(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// shareFlag is a share from 0 to 1, written as a fraction (0.01) or a
// percentage (1%), as the gate's flags are.
type shareFlag struct{ v *float64 }

func (f shareFlag) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatFloat(*f.v, 'g', -1, 64)
}

func (f shareFlag) Set(s string) error {
	t := strings.TrimSpace(s)
	pct := false
	if p, ok := strings.CutSuffix(t, "%"); ok {
		t, pct = strings.TrimSpace(p), true
	}
	v, err := strconv.ParseFloat(t, 64)
	switch {
	case err != nil || v != v:
		return errors.New("want a share from 0 to 1 or a percentage, e.g. 0.01 or 1%")
	case pct && (v < 0 || v > 100):
		return fmt.Errorf("%s is not from 0%% to 100%%", s)
	case pct:
		v = fromPercent(v)
	}
	*f.v = v
	return nil
}

// traceSampleFlag maps --trace-sample 0 (none) to the library's
// "negative: none"; 0 there means the default.
func traceSampleFlag(share float64) float64 {
	if share == 0 {
		return -1
	}
	return share
}

func profileList() string {
	var names []string
	for _, p := range redisenv.Profiles() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// clusterFlag is --redis-cluster: alone ("url": seeds from the URL) or
// with seeds.
type clusterFlag struct {
	set   bool
	seeds []string
}

func (c *clusterFlag) String() string { return strings.Join(c.seeds, ",") }

func (c *clusterFlag) Set(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "url":
		c.set, c.seeds = true, nil
	case "false", "":
		c.set, c.seeds = false, nil
	default:
		c.set = true
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				if !strings.Contains(a, ":") {
					return fmt.Errorf("seed %q is not host:port", a)
				}
				c.seeds = append(c.seeds, a)
			}
		}
	}
	return nil
}

// IsBoolFlag lets --redis-cluster stand alone.
func (c *clusterFlag) IsBoolFlag() bool { return true }

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, withDurationHint(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// withDurationHint adds an example to the flag package's bare "parse
// error" for a duration flag (--min-delta 5: a duration needs its unit).
func withDurationHint(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	_, rest, ok := strings.Cut(msg, " for flag -")
	if !ok || !strings.HasSuffix(msg, "parse error") {
		return err
	}
	name, _, _ := strings.Cut(rest, ":")
	if f := fs.Lookup(name); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if _, isDur := g.Get().(time.Duration); isDur {
				return fmt.Errorf("%w; a duration needs its unit, e.g. --%s 500ms or 10s", err, name)
			}
		}
	}
	return err
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// usageErr prints a usage error and returns exit 2 (-h is success).
func usageErr(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "loadgen: %v\n", err)
	return exitUsage
}

// checkTargetURL refuses a --target that cannot name a server: it must
// be http(s)://host[:port][/path].
func checkTargetURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("--target %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080", raw)
	}
	return nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("run", stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: loadgen run SCENARIO.yaml [flags]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nExit codes: 0 done; 1 the run failed (target unreachable, invalid, every operation failed, or interrupted: partial results written); 2 usage or configuration error; 3 SLO breached.\n")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) != 1 {
		return usageErr(stderr, fmt.Errorf("run: want exactly one SCENARIO.yaml, got %d arguments; e.g. loadgen run scenarios/smoke.yaml", len(pos)))
	}
	if f.target != "" {
		if err := checkTargetURL(f.target); err != nil {
			return usageErr(stderr, err)
		}
	}
	if !(f.traceSample >= 0 && f.traceSample <= 1) {
		return usageErr(stderr, fmt.Errorf("--trace-sample %v: want a share from 0 (no operation's trace sampled) to 1 (all), e.g. --trace-sample 0.01", f.traceSample))
	}
	if f.slowest < 0 {
		return usageErr(stderr, fmt.Errorf("--slowest %d: want 0 (none) or a positive count, e.g. --slowest 10", f.slowest))
	}
	if m := redisenv.ModeOf(f.redis.Mode); f.redis.Image != "" && m != redisenv.ModeContainer && m != redisenv.ModeAuto {
		return usageErr(stderr, fmt.Errorf("--redis-image applies to --redis container (or auto), not %s: drop --redis-image or use --redis container", m))
	}
	f.redis.Cluster, f.redis.ClusterSeeds = f.cluster.set, f.cluster.seeds

	scenarioPath := pos[0]
	sc, err := scenario.Load(scenarioPath)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		if shipped, _ := filepath.Glob(filepath.Join("scenarios", "*.yaml")); errors.Is(err, os.ErrNotExist) && len(shipped) > 0 {
			fmt.Fprintf(stderr, "loadgen: the shipped scenarios are %s\n", strings.Join(shipped, ", "))
		}
		return exitUsage
	}
	if err := sc.Apply(scenario.Overrides{Rate: f.rate, Duration: f.duration}); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	raw, _ := os.ReadFile(scenarioPath) // Load read it a moment ago
	plan := harness.Plan{
		Scenario: sc, ScenarioFile: raw, Dir: f.out, Target: f.target, Redis: f.redis,
		Auth: f.auth, Project: f.project, Driver: f.driver, Seed: f.seed, Label: f.label, Pair: f.pair,
		Slowest: slowestFlag(f.slowest), TraceSample: traceSampleFlag(f.traceSample),
		Version: version, Log: stderr, AuthKeyFile: f.authKey,
	}
	if f.authKey != "" {
		if plan.AuthKey, err = tokens.LoadPrivateKey(f.authKey); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
	}
	prog := newProgress(stderr, f.quiet)
	if prog != nil {
		plan.Progress = prog.update
	}
	if f.duet != "" {
		return duet(ctx, plan, f.duet, prog, stdout, stderr)
	}
	out, err := harness.Run(ctx, plan)
	prog.done()
	if err != nil {
		return runErr(ctx, err, stderr)
	}
	printOutcome(stdout, out)
	return verdictExit(out.Summary, stderr)
}

// duet runs plan and the --duet server side by side and prints both.
func duet(ctx context.Context, plan harness.Plan, base string, prog *progress, stdout, stderr io.Writer) int {
	cur, b, err := harness.RunDuet(ctx, plan, base)
	prog.done()
	if err != nil {
		return runErr(ctx, err, stderr)
	}
	fmt.Fprintln(stdout, "== base")
	printOutcome(stdout, b)
	fmt.Fprintln(stdout, "== current")
	printOutcome(stdout, cur)
	fmt.Fprintf(stdout, "compare them with: loadgen gate --baseline %s --current %s\n", b.Dir, cur.Dir)
	if code := verdictExit(b.Summary, stderr); code != exitOK && code != exitSLO {
		return code // a base that did not run cleanly decides nothing
	}
	return verdictExit(cur.Summary, stderr)
}

// runErr reports a run that measured nothing and returns its exit code.
// Interrupted while setting up (tokens, Redis, prefill), the cause is the
// interrupt, not the step it cut short: no error dump, no sessiond.log.
func runErr(ctx context.Context, err error, stderr io.Writer) int {
	switch {
	case harness.IsConfigError(err):
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "loadgen: interrupted before the measured phase: nothing was measured, no results written")
	default:
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
	}
	return exitFailed
}

// printOutcome writes the human summary of a run.
func printOutcome(w io.Writer, out *harness.Outcome) {
	sum := out.Summary
	sc := out.Report.Scenario
	if sc.Description != "" {
		fmt.Fprintf(w, "scenario %s: %s\n", sc.Name, sc.Description)
	} else {
		fmt.Fprintf(w, "scenario %s\n", sc.Name)
	}
	fmt.Fprintf(w, "target %s (%s), redis %s, auth %s, driver %s\n",
		orDash(sum.Target.URL), sum.Target.Server, redisLine(sum.Target.Redis), sum.Target.Auth, sum.Target.Driver)
	report.Text(w, sum)
	fmt.Fprintf(w, "results: %s\n", out.Dir)
}

// verdictExit prints why a run did not pass and returns its exit code:
// one decision, made by results, for the summary and the shell alike.
func verdictExit(sum *results.Summary, stderr io.Writer) int {
	why := strings.Join(sum.VerdictReasons, "; ")
	switch sum.Verdict {
	case results.VerdictPass:
		return exitOK
	case results.VerdictSLOBreach:
		fmt.Fprintf(stderr, "loadgen: SLO breached: %s\n", why)
		return exitSLO
	case results.VerdictPartial:
		fmt.Fprintf(stderr, "loadgen: %s: partial results written\n", why)
	case results.VerdictInvalid:
		fmt.Fprintf(stderr, "loadgen: run invalid: %s\n", why)
	default:
		fmt.Fprintf(stderr, "loadgen: run failed: %s\n", why)
	}
	return exitFailed
}

// redisLine describes the Redis for the header: "7.0.15 (local basic
// 127.0.0.1:6379)", "miniredis v2.40.0 (embedded …)", or "unknown".
func redisLine(r results.Redis) string {
	if r.Version == "" && (r.Mode == "" || r.Mode == "unknown") {
		return "unknown"
	}
	where := r.Mode
	if r.Profile != "" {
		where += " " + r.Profile
	}
	if r.Addr != "" {
		where += " " + r.Addr
	}
	return strings.TrimSpace(orDash(r.Version) + " (" + where + ")")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progress rewrites one status line on a terminal.
type progress struct {
	w     io.Writer
	wrote bool
}

// newProgress returns nil (no progress) unless w is a terminal.
func newProgress(w io.Writer, quiet bool) *progress {
	if quiet {
		return nil
	}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{w: w}
}

func (p *progress) update(pr engine.Progress) {
	fmt.Fprintf(p.w, "\r\033[K%-8s %5.1fs/%.0fs  %8.1f ops/s  errors %d  p99 %s",
		pr.Phase, pr.Elapsed.Seconds(), pr.Total.Seconds(), pr.AchievedRate, pr.Errors, pr.P99.Round(time.Microsecond))
	p.wrote = true
}

func (p *progress) done() {
	if p != nil && p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
