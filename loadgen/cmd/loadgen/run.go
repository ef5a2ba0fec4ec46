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
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sessionbench/sessionbench/internal/proc"
	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/target"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
	"github.com/sessionbench/sessionbench/reference/session"
)

// runFlags are the flags of `loadgen run`.
type runFlags struct {
	target, redis, auth, driver, rate, duration, out, authKey, project string
	seed                                                               uint64
	quiet                                                              bool
	redisKnown                                                         bool // loadgen knows (or runs) the Redis
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "base `URL` of a running server speaking the sessiond API; nothing is started")
	fs.StringVar(&f.redis, "redis", target.RedisEmbedded, "Redis for the started sessiond or the store driver: embedded (in-process miniredis) or a redis:// `URL` (with --target: the Redis behind that server, for its version and memory in the summary)")
	fs.StringVar(&f.auth, "auth", "minted", "token pool: minted (RS256, local key; sessiond --auth=local) or emulator (Firebase Auth emulator)")
	fs.StringVar(&f.driver, "driver", "http", "http (the HTTP API) or store (the reference session store on Redis directly, no HTTP, no auth)")
	fs.StringVar(&f.rate, "rate", "", "override the scenario's rate with a constant `rate`, e.g. 2000/s")
	fs.StringVar(&f.duration, "duration", "", "override the measured `duration`, e.g. 30s")
	fs.StringVar(&f.out, "out", "", "results `dir` (default results/<scenario>-<UTC timestamp>/); must not exist or be empty")
	fs.StringVar(&f.authKey, "auth-key", "", "PEM RSA private key `file` for minted tokens (default: a new key per run)")
	fs.StringVar(&f.project, "project", tokens.DefaultProject, "Firebase project `ID` of the tokens (sessiond --firebase-project)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the operation and session picks (0: random, reported in summary.json)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line even on a terminal")
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
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

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("run", stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: loadgen run SCENARIO.yaml [flags]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nExit codes: 0 done; 1 the run failed (target unreachable, invalid, or interrupted: partial results written); 2 usage or configuration error; 3 SLO breached.\n")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) != 1 {
		return usageErr(stderr, fmt.Errorf("run: want exactly one SCENARIO.yaml, got %d arguments; e.g. loadgen run scenarios/smoke.yaml", len(pos)))
	}
	if f.auth != "minted" && f.auth != "emulator" {
		return usageErr(stderr, fmt.Errorf("--auth %q: want minted or emulator", f.auth))
	}
	if f.driver != "http" && f.driver != "store" {
		return usageErr(stderr, fmt.Errorf("--driver %q: want http or store", f.driver))
	}
	if f.driver == "store" && f.target != "" {
		return usageErr(stderr, errors.New("--driver store talks to Redis directly; drop --target (use --redis to choose the Redis)"))
	}
	if f.redis != target.RedisEmbedded && !strings.HasPrefix(f.redis, "redis://") && !strings.HasPrefix(f.redis, "rediss://") {
		return usageErr(stderr, fmt.Errorf("--redis %q: want embedded or a redis:// URL", f.redis))
	}
	if f.target != "" {
		if err := checkTargetURL(f.target); err != nil {
			return usageErr(stderr, err)
		}
	}

	// With --target, a --redis URL names the Redis behind that server:
	// loadgen then reports its version and memory.
	f.redisKnown = f.target == "" || f.redis != target.RedisEmbedded
	scenarioPath := pos[0]
	sc, err := scenario.Load(scenarioPath)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	if err := sc.Apply(scenario.Overrides{Rate: f.rate, Duration: f.duration}); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	var key []byte
	if f.authKey != "" {
		if key, err = os.ReadFile(f.authKey); err != nil {
			fmt.Fprintf(stderr, "loadgen: --auth-key: %v\n", err)
			return exitUsage
		}
	}

	dir := f.out
	if dir == "" {
		dir = filepath.Join("results", sc.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := prepareDir(dir); err != nil {
		fmt.Fprintf(stderr, "loadgen: --out: %v\n", err)
		return exitUsage
	}
	ran := false
	defer func() {
		// Nothing was measured: leave no half-filled results directory
		// behind (the error message carried sessiond's log tail).
		if !ran {
			_ = os.RemoveAll(dir)
		}
	}()
	if raw, err := os.ReadFile(scenarioPath); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "scenario.yaml"), raw, 0o644)
	}

	r := &runner{f: f, sc: sc, dir: dir, key: key, stdout: stdout, stderr: stderr, ran: &ran}
	if f.driver == "store" && sc.Invalid.BadToken > 0 {
		// The store driver verifies no token: a "bad token" would test
		// nothing. Say so instead of reporting meaningless rejections.
		r.notes = append(r.notes, fmt.Sprintf("invalid.bad_token (%g%%) does not apply to --driver store (no token is verified): those operations were not sent", sc.Invalid.BadToken))
		sc.Invalid.BadToken = 0
	}
	return r.run(ctx)
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

// prepareDir creates dir, refusing to reuse a non-empty one (results are
// never overwritten).
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty; results are never overwritten: choose another --out", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return nil
}

type runner struct {
	f      runFlags
	sc     *scenario.Scenario
	dir    string
	key    []byte
	stdout io.Writer
	stderr io.Writer
	ran    *bool // set once the engine has started: results are kept
	notes  []string
}

func (r *runner) run(ctx context.Context) int {
	src, cleanupTokens, code := r.tokenSource(ctx)
	if code != exitOK {
		return code
	}
	defer cleanupTokens()

	tcfg := target.Config{
		URL:         r.f.target,
		Redis:       r.f.redis,
		StartServer: r.f.driver == "http",
		NeedRedis:   r.f.driver == "store" || (r.f.target != "" && r.f.redisKnown),
		Project:     r.f.project,
		Dir:         r.dir,
		Log:         r.stderr,
	}
	authMode := "minted"
	switch s := src.(type) {
	case *tokens.Minted:
		pub := filepath.Join(r.dir, "auth-public-key.pem")
		if err := os.WriteFile(pub, s.PublicKeyPEM(), 0o644); err != nil {
			fmt.Fprintf(r.stderr, "loadgen: write public key: %v\n", err)
			return exitFailed
		}
		tcfg.Auth, tcfg.PublicKeyFile = "local", pub
		if r.f.target != "" && r.f.authKey == "" {
			fmt.Fprintf(r.stderr, "loadgen: note: minted tokens are signed with a key made for this run; the target must verify them with %s (sessiond --auth=local --auth-public-key), or pass --auth-key with the key it trusts\n", pub)
		}
	case *tokens.Emulator:
		authMode = "emulator"
		tcfg.Auth, tcfg.EmulatorHost = "emulator", s.Host()
		tcfg.Project = s.Project()
	}
	tgt, err := target.Start(ctx, tcfg)
	if err != nil {
		fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
		var ce *target.ConfigError
		if errors.As(err, &ce) {
			return exitUsage
		}
		return exitFailed
	}
	defer func() {
		if err := tgt.Close(); err != nil {
			fmt.Fprintf(r.stderr, "loadgen: stop target: %v\n", err)
		}
	}()

	var drv driver.Driver
	ua := "sessionbench-loadgen/" + version
	if r.f.driver == "store" {
		st, err := session.New(tgt.Redis(), session.Config{})
		if err != nil {
			fmt.Fprintf(r.stderr, "loadgen: session store: %v\n", err)
			return exitFailed
		}
		if drv, err = driver.NewStore(st, driver.StoreConfig{UserAgent: ua}); err != nil {
			fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
			return exitFailed
		}
		// The store driver skips auth: tokenSource gave it bare uids.
		authMode = "none (store driver)"
	} else {
		conc := int(maxRate(r.sc)/100) + 64 // ~10 ms of arrivals in flight, plus slack
		if drv, err = driver.NewHTTP(driver.HTTPConfig{BaseURL: tgt.URL, Concurrency: conc, UserAgent: ua}); err != nil {
			fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
			return exitUsage
		}
	}
	defer drv.Close()

	memBefore, memKnown := tgt.RedisUsedMemory(ctx)
	// The log file appears with its first interval: a run cut before the
	// measured phase leaves no empty latency.hlog behind.
	hlogFile := &lazyFile{path: filepath.Join(r.dir, results.LatencyLog)}
	defer hlogFile.Close()

	ecfg := engine.Config{
		Scenario:    r.sc,
		Driver:      drv,
		Tokens:      src,
		Seed:        r.f.seed,
		IntervalLog: hlogFile,
	}
	if tgt.RedisMode == target.RedisEmbedded {
		ecfg.CPUNote = "the embedded Redis runs in loadgen's process and shares its CPU; use --redis redis://… for high rates"
	}
	prog := newProgress(r.stderr, r.f.quiet)
	if prog != nil {
		ecfg.Progress = prog.update
	}
	*r.ran = true
	rep, err := engine.Run(ctx, ecfg)
	prog.done()
	if err != nil {
		// Nothing was measured: no results directory (it would hold no
		// summary.json); the server's log tail goes into the message.
		*r.ran = false
		fmt.Fprintf(r.stderr, "loadgen: run: %v\n", err)
		if hint := r.rejectedHint(src, err.Error()); hint != "" {
			fmt.Fprintf(r.stderr, "loadgen: %s\n", hint)
		}
		if b, rerr := os.ReadFile(filepath.Join(r.dir, "sessiond.log")); rerr == nil && len(b) > 0 {
			fmt.Fprintf(r.stderr, "loadgen: sessiond.log ends with:\n%s\n", proc.Tail(string(b), 1500))
		}
		return exitFailed
	}
	if err := hlogFile.Close(); err != nil {
		fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
		return exitFailed
	}

	// After the run: a fresh context, the run's may be cancelled.
	after, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	redisMode := tgt.RedisMode
	if redisMode == "" {
		redisMode = "unknown"
	}
	sum := results.New(rep, results.Target{
		URL:    tgt.URL,
		Server: serverName(tgt, r.f.driver),
		Redis:  results.Redis{Mode: redisMode, Version: tgt.RedisVersion(after), Addr: tgt.RedisAddr},
		Auth:   authMode,
		Driver: r.f.driver,
	}, results.CollectEnv(version))
	sum.Notes = append(sum.Notes, r.notes...)
	if creates := sum.Ops["create"]; creates.Count > 0 && rep.Stats.Ops[recorder.Create].ErrorsByClass[driver.Rejected]*2 > creates.Count {
		if hint := r.rejectedHint(src, "401"); hint != "" {
			sum.Notes = append(sum.Notes, hint)
		}
	}
	if memKnown {
		if memAfter, ok := tgt.RedisUsedMemory(after); ok {
			sum.Memory.RedisUsedMemoryBefore, sum.Memory.RedisUsedMemoryAfter = memBefore, memAfter
			if rep.SessionsLiveEnd > 0 && memAfter > memBefore {
				sum.Memory.BytesPerSession = float64(memAfter-memBefore) / float64(rep.SessionsLiveEnd)
			}
		}
	}
	if err := sum.Write(r.dir); err != nil {
		fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(r.stdout, "scenario %s: %s\n", r.sc.Name, r.sc.Description)
	fmt.Fprintf(r.stdout, "target %s (%s), redis %s, auth %s, driver %s\n",
		orDash(sum.Target.URL), sum.Target.Server, redisLine(sum.Target.Redis), sum.Target.Auth, r.f.driver)
	sum.WriteTable(r.stdout)
	fmt.Fprintf(r.stdout, "results: %s\n", r.dir)
	return verdictExit(sum, r.stderr)
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

// redisLine describes the Redis for the header: "7.0.15 (url
// 127.0.0.1:6379)", "miniredis v2.40.0 (embedded)", or "unknown".
func redisLine(r results.Redis) string {
	if r.Version == "" && (r.Mode == "" || r.Mode == "unknown") {
		return "unknown"
	}
	where := r.Mode
	if r.Addr != "" {
		where += " " + r.Addr
	}
	return strings.TrimSpace(orDash(r.Version) + " (" + where + ")")
}

// rejectedHint explains creates refused with 401 when loadgen minted the
// tokens: the usual cause is a target that does not trust this run's
// key. seen is the error text that showed the 401s.
func (r *runner) rejectedHint(src tokens.Source, seen string) string {
	if _, minted := src.(*tokens.Minted); !minted || !strings.Contains(seen, "401") && !strings.Contains(seen, string(driver.Rejected)) {
		return ""
	}
	if r.f.target == "" {
		return "creates were refused (401): the sessiond loadgen started did not accept the minted tokens; see sessiond.log"
	}
	if r.f.authKey == "" {
		return "most creates were refused (401): the target does not accept this run's tokens. They are signed with a key made for this run; " +
			"either start the target with the run's public key (sessiond --auth=local --auth-public-key " + filepath.Join(r.dir, "auth-public-key.pem") + "), " +
			"or make a key pair once with `loadgen keygen --out key.pem --public-key-out pub.pem`, start sessiond with --auth-public-key pub.pem and pass --auth-key key.pem to every run"
	}
	return "most creates were refused (401): the target does not trust --auth-key " + r.f.authKey + "; start it with that key's public half (--auth-public-key) and the same --firebase-project as --project (" + r.f.project + ")"
}

// lazyFile creates path on the first Write, so that a run with nothing
// to log leaves no empty file.
type lazyFile struct {
	path string
	f    *os.File
	err  error
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil && l.err == nil {
		l.f, l.err = os.Create(l.path)
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.f.Write(p)
}

// Close closes the file if it was created; it may be called twice.
func (l *lazyFile) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f, l.err = nil, errors.New("closed")
	if err != nil {
		return fmt.Errorf("close %s: %w", l.path, err)
	}
	return nil
}

func serverName(t *target.Target, drv string) string {
	if drv == "store" {
		return "reference/session store (in process)"
	}
	if t.Server == "" {
		return "external"
	}
	return t.Server
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxRate is the highest rate the scenario schedules.
func maxRate(sc *scenario.Scenario) float64 {
	m := float64(sc.Rate)
	for _, st := range sc.Stages {
		if float64(st.Rate) > m {
			m = float64(st.Rate)
		}
		if float64(st.RampTo) > m {
			m = float64(st.RampTo)
		}
	}
	return m
}

// tokenSource builds the token pool for --auth; cleanup stops what it
// started (an emulator).
func (r *runner) tokenSource(ctx context.Context) (tokens.Source, func(), int) {
	users := r.sc.Population.Users
	nop := func() {}
	if r.f.driver == "store" {
		return tokens.UIDs{N: users}, nop, exitOK
	}
	switch r.f.auth {
	case "emulator":
		src, cleanup, err := startEmulatorSource(ctx, users, r.f.project, r.stderr)
		if err != nil {
			fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
			var ne *notInstalledError
			if errors.As(err, &ne) {
				return nil, nop, exitUsage
			}
			return nil, nop, exitFailed
		}
		return src, cleanup, exitOK
	default:
		cfg := tokens.MintedConfig{Users: users, Project: r.f.project}
		if r.key != nil {
			k, err := tokens.ParsePrivateKeyPEM(r.key, r.f.authKey)
			if err != nil {
				fmt.Fprintf(r.stderr, "loadgen: --auth-key: %v\n", err)
				return nil, nop, exitUsage
			}
			cfg.Key = k
		}
		m, err := tokens.NewMinted(cfg)
		if err != nil {
			fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
			return nil, nop, exitUsage
		}
		return m, m.Wait, exitOK
	}
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
