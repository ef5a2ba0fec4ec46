package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionbench/sessionbench/internal/proc"
	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/report"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/sampler"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/sut"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
	"github.com/sessionbench/sessionbench/reference/session"
)

// File names a run writes besides results' own.
const (
	ScenarioFile  = "scenario.yaml"
	PublicKeyFile = "auth-public-key.pem"
	SessiondLog   = "sessiond.log"
)

// afterRunTimeout bounds the reads made after the run (memory samples,
// key checks): the run's context may be cancelled by then.
const afterRunTimeout = 30 * time.Second

// run is the state of one Run, torn down in reverse by close.
type run struct {
	p       Plan
	closers []func()
	notes   []string

	// Set by prepare, used by finish.
	src      tokens.Source
	env      redisenv.Env
	target   *sut.SUT
	smp      *sampler.Sampler
	hlog     *lazyFile
	timeline *lazyFile
	measured bool   // results are kept
	undoDir  func() // removes what the run wrote under p.Dir
}

func (r *run) onClose(f func()) { r.closers = append(r.closers, f) }

// close tears the run down; without measurements it also removes the
// results directory (no half-filled one is left behind).
func (r *run) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	if !r.measured && r.undoDir != nil {
		r.undoDir()
	}
}

// Run runs p. Cancelling ctx stops the schedule, drains, and writes the
// partial results (the Outcome's summary says so). An error means nothing
// was measured: no results directory is left behind, and the error says
// why (IsConfigError tells a bad plan from a failed start).
func Run(ctx context.Context, p Plan) (*Outcome, error) {
	r, ecfg, err := prepare(ctx, p)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return nil, err
	}
	rep, err := engine.Run(ctx, ecfg)
	return r.finish(rep, err)
}

// prepare readies everything a run measures with, up to the engine's
// configuration. On error the returned run (when not nil) still needs
// close.
func prepare(ctx context.Context, p Plan) (*run, engine.Config, error) {
	if err := p.check(); err != nil {
		return nil, engine.Config{}, err
	}
	if p.Target == "" {
		if err := withinSessiondLimits(p.Scenario); err != nil {
			return nil, engine.Config{}, err
		}
	}
	undo, err := prepareDir(p.Dir)
	if err != nil {
		return nil, engine.Config{}, err
	}
	r := &run{p: p, undoDir: undo}
	if p.ScenarioFile != nil {
		if err := os.WriteFile(filepath.Join(p.Dir, ScenarioFile), p.ScenarioFile, 0o644); err != nil {
			return r, engine.Config{}, fmt.Errorf("write %s: %w", ScenarioFile, err)
		}
	}
	if p.Driver == DriverStore && p.Scenario.Invalid.BadToken > 0 {
		// The store driver verifies no token: a "bad token" would test
		// nothing. Say so instead of reporting meaningless rejections.
		sc := *p.Scenario
		r.notes = append(r.notes, fmt.Sprintf("invalid.bad_token (%g%%) does not apply to --driver store (no token is verified): those operations were not sent", sc.Invalid.BadToken))
		sc.Invalid.BadToken = 0
		r.p.Scenario = &sc
	}
	if r.src, err = r.tokens(ctx); err != nil {
		return r, engine.Config{}, err
	}
	if r.env, err = r.redis(ctx); err != nil {
		return r, engine.Config{}, err
	}
	if r.target, err = r.sut(ctx, r.src, r.env); err != nil {
		return r, engine.Config{}, err
	}
	drv, err := r.driver(r.env, r.target)
	if err != nil {
		return r, engine.Config{}, err
	}
	r.timeline = &lazyFile{path: filepath.Join(p.Dir, results.TimelineFile)}
	r.onClose(func() { _ = r.timeline.Close() })
	r.smp = sampler.Start(r.samplerConfig(r.env, r.target, r.timeline))
	r.hlog = &lazyFile{path: filepath.Join(p.Dir, results.LatencyLog)}
	r.onClose(func() { _ = r.hlog.Close() })
	ecfg := engine.Config{
		Scenario: r.p.Scenario, Driver: drv, Tokens: r.src, Seed: p.Seed, IntervalLog: r.hlog,
		Progress: p.Progress, Observers: append([]engine.Observer{r.smp}, p.Observers...),
		Trace: p.Driver == DriverHTTP, TraceSample: p.TraceSample, Slowest: p.Slowest,
	}
	if r.env != nil && r.env.Facts().Mode == redisenv.ModeEmbedded {
		ecfg.CPUNote = "the embedded Redis runs in loadgen's process and shares its CPU; use --redis local or container for high rates"
	}
	return r, ecfg, nil
}

// withinSessiondLimits refuses a scenario that the sessiond loadgen
// starts (or the store driver, same defaults) would refuse by design:
// its numbers would measure the limit, not the server. Prefilled sessions
// beyond the per-user cap are ended as they are made (80 of 100 validates
// were then "rejected" and the run passed), and data over the size cap
// makes every create fail.
func withinSessiondLimits(sc *scenario.Scenario) error {
	if pop := sc.Population; pop.Prefill > pop.Users*session.DefaultMaxSessionsPerUser {
		return configErrorf("population.prefill %d is more than users %d × sessiond's cap of %d sessions per user: the cap would end %d of them as they are made; raise population.users to at least %d or lower prefill",
			pop.Prefill, pop.Users, session.DefaultMaxSessionsPerUser, pop.Prefill-pop.Users*session.DefaultMaxSessionsPerUser,
			(pop.Prefill+session.DefaultMaxSessionsPerUser-1)/session.DefaultMaxSessionsPerUser)
	}
	if n := sc.Session.DataBytes; n > session.DefaultMaxDataBytes {
		return configErrorf("session.data_bytes %d is more than sessiond's limit of %d bytes of data per session: every create would be refused; use at most %d",
			n, session.DefaultMaxDataBytes, session.DefaultMaxDataBytes)
	}
	return nil
}

// finish turns the engine's report into the results directory.
func (r *run) finish(rep *engine.Report, runErr error) (*Outcome, error) {
	p := r.p
	rows, smpErr := r.smp.Close()
	if runErr != nil {
		return nil, r.explainStartFailure(runErr, r.src)
	}
	r.measured = true
	if err := r.hlog.Close(); err != nil {
		return nil, err
	}
	if rep.IntervalLogErr != nil {
		// A log that misses intervals would be read as a whole one with
		// fewer operations; the run keeps its summary, marked invalid.
		if err := os.Remove(r.hlog.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove the incomplete %s: %w", results.LatencyLog, err)
		}
		r.notes = append(r.notes, fmt.Sprintf("%s was removed: writing it failed (%v), and an incomplete log would read as fewer operations", results.LatencyLog, rep.IntervalLogErr))
	}
	if err := r.timeline.Close(); err != nil {
		return nil, err
	}
	if smpErr != nil {
		r.notes = append(r.notes, smpErr.Error())
	}
	after, cancel := context.WithTimeout(context.Background(), afterRunTimeout)
	defer cancel()
	sum := results.New(rep, r.targetFacts(after, r.env, r.target, r.src), results.CollectEnv(p.Version))
	sum.Label, sum.Pair = p.Label, p.Pair
	if rep.IntervalLogErr == nil {
		// Written from the snapshot the summary is made of (the
		// recorder's Close): readers may hold the two to each other.
		_, err := os.Stat(r.hlog.path)
		sum.LatencyLogWhole = err == nil
		if sum.LatencyLogWhole {
			sum.LatencyLogHistograms = rep.IntervalLogHistograms
		}
	}
	sum.Notes = append(sum.Notes, r.notes...)
	if r.env != nil && r.env.Facts().NotRedis != "" {
		sum.Notes = append(sum.Notes, r.env.Facts().NotRedis)
	}
	if creates := sum.Ops["create"]; creates.Count > 0 && rep.Stats.Ops[recorder.Create].ErrorsByClass[driver.Rejected]*2 > creates.Count {
		if hint := r.rejectedHint(r.src); hint != "" {
			sum.Notes = append(sum.Notes, hint)
		}
	}
	r.memory(after, sum, rows, r.env)
	if err := sum.Write(p.Dir); err != nil {
		return nil, err
	}
	// report.html and report.md are drawn from the directory just
	// written, as `loadgen report` would: one renderer, one input.
	written, err := results.ReadRun(p.Dir)
	if err == nil {
		err = report.WriteFiles(written)
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &Outcome{Dir: p.Dir, Summary: sum, Report: rep}, nil
}

// redis opens the Redis under test: always for the store driver and for
// a sessiond loadgen starts; with --target only a URL (observed, never
// written to).
func (r *run) redis(ctx context.Context) (redisenv.Env, error) {
	spec := r.p.Redis
	spec.Log = r.p.Log
	if r.p.Target != "" {
		if redisenv.ModeOf(spec.Mode) != redisenv.ModeURL {
			return nil, nil // the server's Redis is its own business
		}
		spec.Observe = true
	}
	env, err := redisenv.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	r.onClose(func() {
		if err := env.Close(); err != nil {
			fmt.Fprintf(r.p.Log, "loadgen: redis: %v\n", err)
		}
	})
	return env, nil
}

// sut starts sessiond on env, or probes the external target.
func (r *run) sut(ctx context.Context, src tokens.Source, env redisenv.Env) (*sut.SUT, error) {
	if r.p.Target != "" {
		return sut.Probe(ctx, r.p.Target)
	}
	if r.p.Driver != DriverHTTP {
		return nil, nil
	}
	c := sut.Sessiond{Env: env, Project: r.p.Project, Binary: r.p.Sessiond, Dir: r.p.Dir, Log: r.p.Log}
	if f := env.Facts(); f.Profile != "" && f.MaxMemoryPolicy != "" && f.MaxMemoryPolicy != "noeviction" {
		// A profile that evicts on purpose (maxmem-lru): sessiond refuses
		// an evicting Redis unless told that it is meant. A Redis given by
		// URL gets no such pass: sessiond's refusal says how to fix it.
		c.Args = append(c.Args, "--allow-evicting-redis")
	}
	switch s := src.(type) {
	case *tokens.Minted:
		c.Auth, c.PublicKeyFile = "local", filepath.Join(r.p.Dir, PublicKeyFile)
	case *tokens.Emulator:
		c.Auth, c.EmulatorHost, c.Project = "emulator", s.Host(), s.Project()
	}
	s, err := sut.Start(ctx, c)
	if err != nil {
		return nil, err
	}
	r.onClose(func() {
		if err := s.Close(); err != nil {
			fmt.Fprintf(r.p.Log, "loadgen: stop sessiond: %v\n", err)
		}
	})
	return s, nil
}

// driver builds the http driver on the target, or the store driver on
// the Redis.
func (r *run) driver(env redisenv.Env, target *sut.SUT) (driver.Driver, error) {
	ua := "sessionbench-loadgen/" + r.p.Version
	var drv driver.Driver
	if r.p.Driver == DriverStore {
		st, err := session.New(env.Client(), session.Config{KeyPrefix: env.KeyPrefix()})
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		if drv, err = driver.NewStore(st, driver.StoreConfig{UserAgent: ua}); err != nil {
			return nil, err
		}
	} else {
		conc := int(maxRate(r.p.Scenario)/100) + 64 // ~10 ms of arrivals in flight, plus slack
		var err error
		if drv, err = driver.NewHTTP(driver.HTTPConfig{BaseURL: target.URL, Concurrency: conc, UserAgent: ua}); err != nil {
			return nil, &ConfigError{Err: err}
		}
	}
	r.onClose(func() { _ = drv.Close() })
	return drv, nil
}

// samplerConfig points the memory sampler at what this run knows.
func (r *run) samplerConfig(env redisenv.Env, target *sut.SUT, out *lazyFile) sampler.Config {
	c := sampler.Config{Out: out}
	if env != nil && env.Facts().Mode != redisenv.ModeEmbedded {
		c.Redis = env
		c.RedisPIDs = env.PIDs()
	}
	if target != nil {
		c.ServerPID, c.ServerMetricsURL = target.PID, target.MetricsURL
	}
	return c
}

// targetFacts describe what was measured for the summary.
func (r *run) targetFacts(ctx context.Context, env redisenv.Env, target *sut.SUT, src tokens.Source) results.Target {
	t := results.Target{Driver: r.p.Driver, Redis: results.Redis{Mode: "unknown"}}
	switch {
	case r.p.Driver == DriverStore:
		t.Server, t.Auth = "reference/session store (in process)", "none (store driver)"
	case target != nil:
		t.URL, t.Server, t.Auth = target.URL, target.Server, src.Mode()
		t.Exited = target.Exited()
		share := r.p.TraceSample
		switch {
		case share == 0:
			share = engine.DefaultTraceSample
		case share < 0:
			share = 0
		}
		t.TraceSample = &share
	}
	if env != nil {
		f := env.Facts()
		t.Redis = results.Redis{
			Mode: f.Mode, Version: f.Version, Addr: f.Addr, Profile: f.Profile, Cluster: f.Cluster, Primaries: f.Primaries,
			Replicas: f.Replicas, TLS: f.TLS, Persistence: f.Persistence, MaxMemory: f.MaxMemory,
			MaxMemoryPolicy: f.MaxMemoryPolicy, Image: f.Image, KeyPrefix: f.KeyPrefix, Chosen: f.Chosen, NotRedis: f.NotRedis,
		}
	}
	return t
}

// explainStartFailure adds to an engine error (nothing was measured) why
// creates were refused, and the end of sessiond's log.
func (r *run) explainStartFailure(err error, src tokens.Source) error {
	msg := err.Error()
	if how := r.target.Exited(); how != "" {
		msg = fmt.Sprintf("the sessiond loadgen started exited (%s): %s", how, msg)
	}
	if strings.Contains(msg, "401") || strings.Contains(msg, string(driver.Rejected)) {
		if hint := r.rejectedHint(src); hint != "" {
			msg += "\n" + hint
		}
	}
	if b, rerr := os.ReadFile(filepath.Join(r.p.Dir, SessiondLog)); rerr == nil && len(b) > 0 {
		msg += "\n" + SessiondLog + " ends with:\n" + proc.Tail(string(b), 1500)
	}
	return errors.New(msg)
}

// rejectedHint explains creates refused with 401 when loadgen minted the
// tokens: the usual cause is a target that does not trust this run's key.
func (r *run) rejectedHint(src tokens.Source) string {
	if _, minted := src.(*tokens.Minted); !minted {
		return ""
	}
	if r.p.Target == "" {
		return "creates were refused (401): the sessiond loadgen started did not accept the minted tokens; see " + SessiondLog
	}
	keygen := "make a key pair once with `loadgen keygen --out key.pem --public-key-out pub.pem`, start sessiond with --auth-public-key pub.pem and pass --auth-key key.pem to every run"
	if r.p.AuthKey == nil || r.p.AuthKeyFile == "" {
		msg := "most creates were refused (401): the target does not accept this run's tokens. They are signed with a key made for this run; "
		if r.measured {
			// The results directory, and the public key in it, are kept.
			return msg + "either start the target with the run's public key (sessiond --auth=local --auth-public-key " +
				filepath.Join(r.p.Dir, PublicKeyFile) + "), or " + keygen
		}
		return msg + keygen
	}
	return "most creates were refused (401): the target does not trust --auth-key " + r.p.AuthKeyFile +
		"; start it with that key's public half (--auth-public-key) and the same --firebase-project as --project (" + r.p.Project + ")"
}

// maxRate is the highest rate the scenario schedules.
func maxRate(sc *scenario.Scenario) float64 {
	m := float64(sc.Rate)
	for _, st := range sc.Stages {
		m = max(m, float64(st.Rate), float64(st.RampTo))
	}
	return m
}
