// Package harness runs one load run end to end: Plan → Run → Outcome. It
// assembles the Redis under test (redisenv), the system under test
// (sut: a sessiond it starts, or a server given by URL), the token pool,
// the engine and its observers (the memory sampler, and any the caller
// adds), and writes the results directory. cmd/loadgen only parses flags
// into a Plan; sweeps, shards, matrices and fault runs are several Plans.
package harness

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/scenario"
	"github.com/sessionbench/sessionbench/loadgen/sut"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// Token pools (Plan.Auth).
const (
	AuthMinted   = "minted"   // RS256 tokens signed locally; sessiond --auth=local
	AuthEmulator = "emulator" // Firebase Auth emulator users; sessiond --auth=emulator
	DefaultAuth  = AuthMinted
)

// Drivers (Plan.Driver).
const (
	DriverHTTP    = "http"  // the HTTP API of sessiond or any server speaking it
	DriverStore   = "store" // the reference session store on Redis, no HTTP, no auth
	DefaultDriver = DriverHTTP
)

// DefaultProject is the Firebase project of tokens and of the sessiond
// loadgen starts.
const DefaultProject = tokens.DefaultProject

// Plan is one run.
type Plan struct {
	// Scenario to run, overrides (--rate, --duration) applied. Required.
	Scenario *scenario.Scenario
	// ScenarioFile is the scenario's text, kept as scenario.yaml.
	ScenarioFile []byte
	// Dir is the results directory; it must not exist or be empty.
	// Default results/<scenario>-<UTC timestamp>.
	Dir string
	// Target is a running server's base URL; empty starts sessiond.
	Target string
	// Redis is the Redis under test. With Target it is used only when it
	// is a URL (the Redis behind that server: its facts and memory).
	Redis redisenv.Spec
	// Auth is AuthMinted (default) or AuthEmulator.
	Auth string
	// AuthKey signs minted tokens (nil: a key made for this run), and
	// AuthKeyFile is where it came from (for messages).
	AuthKey     *rsa.PrivateKey
	AuthKeyFile string
	// Project is the Firebase project. Default DefaultProject.
	Project string
	// Driver is DriverHTTP (default) or DriverStore.
	Driver string
	// Seed repeats a run's picks; 0 picks one (reported).
	Seed uint64
	// Label names the tier or variant in comparisons.
	Label string
	// Slowest is how many of the slowest operations of each kind the
	// summary lists with their trace IDs (default 10; negative: none).
	Slowest int
	// TraceSample is the share of measured HTTP operations sent with a
	// sampled traceparent (engine.Config.TraceSample: 0 is the default,
	// all; negative: none).
	TraceSample float64
	// Pair names the pair this run belongs to (a round of interleaved
	// trials): the gate resamples runs with the same Pair together.
	Pair string
	// Version is loadgen's version (summary env, User-Agent).
	Version string
	// Sessiond is the binary to start; empty searches.
	Sessiond string
	// Log receives one-line notes (what auto chose, a note about keys).
	// Default io.Discard.
	Log io.Writer
	// Progress is the engine's progress callback (optional).
	Progress func(engine.Progress)
	// Observers are added to the engine's (the sampler is always there).
	Observers []engine.Observer
}

// Outcome is a finished run.
type Outcome struct {
	// Dir is the results directory.
	Dir     string
	Summary *results.Summary
	Report  *engine.Report
}

// ConfigError is a bad plan (the CLI exits 2); every other error is a
// run that failed (exit 1).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is a configuration error from the
// harness or any package it assembles.
func IsConfigError(err error) bool {
	var h *ConfigError
	var r *redisenv.ConfigError
	var s *sut.ConfigError
	return errors.As(err, &h) || errors.As(err, &r) || errors.As(err, &s)
}

func configErrorf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// check validates p and fills its defaults.
func (p *Plan) check() error {
	if p.Scenario == nil {
		return configErrorf("harness: Plan.Scenario is required")
	}
	if p.Log == nil {
		p.Log = io.Discard
	}
	if p.Auth == "" {
		p.Auth = DefaultAuth
	}
	if p.Driver == "" {
		p.Driver = DefaultDriver
	}
	if p.Project == "" {
		p.Project = DefaultProject
	}
	if p.Version == "" {
		p.Version = "dev"
	}
	if p.Auth != AuthMinted && p.Auth != AuthEmulator {
		return configErrorf("--auth %q: want minted or emulator", p.Auth)
	}
	if p.Driver != DriverHTTP && p.Driver != DriverStore {
		return configErrorf("--driver %q: want http or store", p.Driver)
	}
	if p.Driver == DriverStore && p.Target != "" {
		return configErrorf("--driver store talks to Redis directly; drop --target (use --redis to choose the Redis)")
	}
	if p.Dir == "" {
		p.Dir = filepath.Join("results", p.Scenario.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	return nil
}

// prepareDir creates dir, refusing to reuse a non-empty one (results are
// never overwritten). undo removes what the run wrote there: the leaf
// directory it made (recursively) and then each parent it made, only
// while empty (another run may have put its results in a shared
// results/ meanwhile); or, when dir already existed empty, what is now
// inside it.
func prepareDir(dir string) (undo func(), err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return nil, configErrorf("--out: %s exists and is not empty; results are never overwritten: choose another --out", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, configErrorf("--out: %v", err)
	case err == nil:
		return func() {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}, nil
	}
	dir = filepath.Clean(dir)
	var made []string // parents this call creates, deepest first
	for p := filepath.Dir(dir); p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, serr := os.Stat(p); serr == nil {
			break
		}
		made = append(made, p)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, configErrorf("--out: %v", err)
	}
	// The leaf is made exclusively: another run that made it first wins.
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, configErrorf("--out: %s was just created by another run; results are never overwritten: choose another --out", dir)
		}
		return nil, configErrorf("--out: %v", err)
	}
	return func() {
		_ = os.RemoveAll(dir)
		for _, p := range made {
			if os.Remove(p) != nil { // not empty: not only ours
				return
			}
		}
	}, nil
}
