package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `name: steady-browse
description: Logged-in users browsing.
duration: 60s
warmup: 10s
rate: 1000/s
mix: {create: 10, validate: 85, destroy: 5}
population:
  users: 10000
  prefill: 5000
  pick: zipf
  zipf_s: 1.1
session:
  data_bytes: 256
invalid:
  bad_token: 1
  unknown_session: 0.5%
slo:
  validate.p99: 10ms
  create.p99: 50ms
  error_rate: 0.1%
`

func TestParseGood(t *testing.T) {
	s, err := Parse([]byte(good), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "steady-browse" || s.Duration != time.Minute || s.Warmup != 10*time.Second || s.Rate != 1000 {
		t.Errorf("basic fields: %+v", s)
	}
	if s.Mix != (Mix{Create: 10, Validate: 85, Destroy: 5}) {
		t.Errorf("mix = %+v", s.Mix)
	}
	if s.Population != (Population{Users: 10000, Prefill: 5000, Pick: PickZipf, ZipfS: 1.1}) {
		t.Errorf("population = %+v", s.Population)
	}
	if s.Session.DataBytes != 256 || s.Invalid.BadToken != 1 || s.Invalid.UnknownSession != 0.5 {
		t.Errorf("session/invalid = %+v %+v", s.Session, s.Invalid)
	}
	if len(s.SLO) != 3 || s.SLO[0].Op != "validate" || s.SLO[0].Stat != StatP99 || s.SLO[0].Latency != 10*time.Millisecond ||
		!s.SLO[2].IsErrorRate() || s.SLO[2].ErrorRate != 0.001 {
		t.Errorf("slo = %+v", s.SLO)
	}
}

func TestParseStagesDurationDefaultsToStagesMinusWarmup(t *testing.T) {
	s, err := Parse([]byte("name: ramp\nwarmup: 10s\nstages: [{rate: 200/s, duration: 30s}, {ramp_to: 2k/s, duration: 60s}]\nmix: {create: 1}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Duration != 80*time.Second || len(s.Stages) != 2 || !s.Stages[1].Ramp || s.Stages[1].RampTo != 2000 || s.Stages[0].Rate != 200 {
		t.Errorf("got %+v", s)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"1000/s": 1000, "60/m": 1, "2k/s": 2000, "1.5k/s": 1500, "3600/h": 1, "1/ms": 1000, " 10 / s ": 10} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"fast", "1000", "/s", "-1/s", "NaN/s", "1e3/s", "10/d", "inf/s", "99999999/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

// base is a valid scenario that each bad case breaks one line of.
const base = "name: x\nduration: 10s\nrate: 100/s\nmix: {create: 1, validate: 1}\n"

func TestParseBadFiles(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown top key", base + "ratee: 5/s\n", []string{"bad.yaml:5:", `unknown key "ratee" in scenario`, "known:"}},
		{"bad rate", "name: x\nduration: 10s\nrate: fast\nmix: {create: 1}\n", []string{"bad.yaml:3:", `rate: "fast" is not a rate; write e.g. 1000/s`}},
		{"zero rate", "name: x\nduration: 10s\nrate: 0/s\nmix: {create: 1}\n", []string{"bad.yaml:3:", "rate: must be positive"}},
		{"bad name", "name: Steady_Browse\nduration: 10s\nrate: 1/s\nmix: {create: 1}\n", []string{"bad.yaml:1:", "name:", "[a-z0-9-]+"}},
		{"missing name", "duration: 10s\nrate: 1/s\nmix: {create: 1}\n", []string{`missing "name"`, "name: steady-browse"}},
		{"bad duration", "name: x\nduration: 10\nrate: 1/s\nmix: {create: 1}\n", []string{"bad.yaml:2:", "duration:", "write e.g. 60s"}},
		{"negative warmup", base + "warmup: -1s\n", []string{"bad.yaml:5:", "warmup:"}},
		{"missing duration", "name: x\nrate: 1/s\nmix: {create: 1}\n", []string{`missing "duration"`}},
		{"rate and stages", base + "stages: [{rate: 1/s, duration: 1s}]\n", []string{"bad.yaml:5:", "either rate or stages"}},
		{"neither rate nor stages", "name: x\nduration: 1s\nmix: {create: 1}\n", []string{"missing rate"}},
		{"stage both", "name: x\nduration: 1s\nstages: [{rate: 1/s, ramp_to: 2/s, duration: 1s}]\nmix: {create: 1}\n", []string{"stages[0]", "exactly one of rate"}},
		{"stage no duration", "name: x\nduration: 1s\nstages:\n  - rate: 1/s\nmix: {create: 1}\n", []string{"bad.yaml:4:", "stages[0]: missing duration"}},
		{"stage unknown key", "name: x\nduration: 1s\nstages:\n  - rate: 1/s\n    durtion: 1s\nmix: {create: 1}\n", []string{"bad.yaml:5:", `unknown key "durtion" in stages[0]`}},
		{"stages not list", "name: x\nduration: 1s\nstages: 5\nmix: {create: 1}\n", []string{"bad.yaml:3:", "stages must be a non-empty list"}},
		{"mix negative", "name: x\nduration: 1s\nrate: 1/s\nmix: {create: -1, validate: 2}\n", []string{"bad.yaml:4:", "mix.create", "negative"}},
		{"mix zero sum", "name: x\nduration: 1s\nrate: 1/s\nmix: {create: 0}\n", []string{"mix: weights sum to 0"}},
		{"mix unknown op", "name: x\nduration: 1s\nrate: 1/s\nmix: {login: 1}\n", []string{`unknown key "login" in mix`}},
		{"mix not number", "name: x\nduration: 1s\nrate: 1/s\nmix: {create: lots}\n", []string{"mix.create", "not a number"}},
		{"missing mix", "name: x\nduration: 1s\nrate: 1/s\n", []string{`missing "mix"`}},
		{"users zero", base + "population: {users: 0}\n", []string{"bad.yaml:5:", "population.users"}},
		{"prefill huge", base + "population: {prefill: 999999999}\n", []string{"population.prefill", "10000000"}},
		{"pick bad", base + "population: {pick: random}\n", []string{"population.pick", "uniform or zipf"}},
		{"zipf s too small", base + "population: {pick: zipf, zipf_s: 1}\n", []string{"population.zipf_s", "greater than 1"}},
		{"zipf without s", base + "population: {pick: zipf}\n", []string{"population.zipf_s", "needed with pick: zipf"}},
		{"s without zipf", base + "population: {zipf_s: 1.2}\n", []string{"population.zipf_s only applies"}},
		{"data bytes", base + "session: {data_bytes: -5}\n", []string{"session.data_bytes"}},
		{"invalid pct", base + "invalid: {bad_token: 150}\n", []string{"invalid.bad_token", "percentage"}},
		{"invalid sum", base + "invalid: {bad_token: 60, unknown_session: 50}\n", []string{"more than 100%"}},
		{"slo unknown stat", base + "slo: {validate.p95: 5ms}\n", []string{"bad.yaml:5:", `unknown key "validate.p95" in slo`}},
		{"slo unknown op", base + "slo: {login.p99: 5ms}\n", []string{`unknown key "login.p99" in slo`}},
		{"slo bad latency", base + "slo: {validate.p99: fast}\n", []string{"slo.validate.p99", "write e.g. 10ms"}},
		// It was accepted and reported "destroy.p99 0.000ms ≤ 5ms BREACH".
		{"slo on an operation the mix never sends", base + "slo: {destroy.p99: 5ms}\n", []string{"bad.yaml:5:", "slo.destroy.p99: the mix sends no destroy"}},
		{"slo bad error rate", base + "slo: {error_rate: lots}\n", []string{"slo.error_rate", "percentage"}},
		{"duplicate key", base + "name: y\n", []string{"bad.yaml:5:", `duplicate key "name"`}},
		{"not yaml", "name: [\n", []string{"bad.yaml: not valid YAML"}},
		{"empty", "", []string{"empty scenario"}},
		{"top is list", "- a\n", []string{"scenario must be a mapping"}},
		{"second document", base + "---\nname: y\n", []string{"bad.yaml:5:", "second YAML document"}},
		{"only zero-rate stage", "name: x\nduration: 1s\nstages: [{rate: 0/s, duration: 1s}]\nmix: {create: 1}\n", []string{"schedule no operation in the measured phase"}},
		{"zero rate after warmup", "name: x\nwarmup: 1s\nduration: 2s\nstages: [{rate: 5/s, duration: 1s}, {rate: 0/s, duration: 2s}]\nmix: {create: 1}\n", []string{"schedule no operation"}},
		{"warmup overflow", base + "warmup: 2000000h\n", []string{"bad.yaml:5:", "warmup:", "720h"}},
		{"duration overflow", "name: x\nduration: 2562047h\nrate: 1/s\nmix: {create: 1}\n", []string{"bad.yaml:2:", "duration:"}},
		{"timeline too long", "name: x\nduration: 500h\nwarmup: 500h\nrate: 1/s\nmix: {create: 1}\n", []string{"longer than 720h"}},
		{"stages too long", "name: x\nstages: [{rate: 1/s, duration: 700h}, {rate: 1/s, duration: 700h}]\nmix: {create: 1}\n", []string{"stages last more than"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "bad.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestParseZeroWarmup: warmup: 0s is a normal choice, the same as no
// warmup line (it was refused as "not a positive duration").
func TestParseZeroWarmup(t *testing.T) {
	s, err := Parse([]byte(base+"warmup: 0s\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Warmup != 0 {
		t.Errorf("warmup = %v", s.Warmup)
	}
}

// TestParseRampFromZeroAccepted: a schedule that ramps up from 0/s, or
// pauses at 0/s between busy stages, is a real schedule.
func TestParseRampFromZeroAccepted(t *testing.T) {
	for _, y := range []string{
		"name: x\nstages: [{ramp_to: 50/s, duration: 2s}]\nmix: {create: 1}\n",
		"name: x\nduration: 3s\nstages: [{rate: 0/s, duration: 1s}, {ramp_to: 5/s, duration: 2s}]\nmix: {create: 1}\n",
		"name: x\nwarmup: 1s\nduration: 3s\nstages: [{rate: 5/s, duration: 1s}]\nmix: {create: 1}\n", // last rate holds
	} {
		if _, err := Parse([]byte(y), "z.yaml"); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}

// TestLoadSizeCap: a scenario file over MaxFileBytes is refused before
// it is decoded (50 MB once took 5 GB and 29 s).
func TestLoadSizeCap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.yaml")
	big := []byte(base + "description: \"" + strings.Repeat("x", MaxFileBytes) + "\"\n")
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("Load of a %d-byte file: %v", len(big), err)
	}
}

func TestApplyOverrides(t *testing.T) {
	s, err := Parse([]byte("name: x\nduration: 1s\nstages: [{rate: 1/s, duration: 5s}]\nmix: {create: 1}\n"), "o.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Overrides{Rate: "2k/s", Duration: "3s"}); err != nil {
		t.Fatal(err)
	}
	if s.Rate != 2000 || s.Stages != nil || s.Duration != 3*time.Second {
		t.Errorf("after overrides: %+v", s)
	}
	for _, o := range []Overrides{{Rate: "fast"}, {Rate: "0/s"}, {Duration: "soon"}, {Duration: "-1s"}, {Duration: "2562047h"}, {Duration: "721h"}} {
		if err := s.Apply(o); err == nil {
			t.Errorf("Apply(%+v) accepted", o)
		} else if !strings.Contains(err.Error(), "--") {
			t.Errorf("Apply(%+v) error %q does not name the flag", o, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(base))
	f.Add([]byte("name: x\nduration: 1s\nstages: [{rate: 1/s, duration: 1s}, {ramp_to: 5/s, duration: 2s}]\nmix: {create: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if s != nil {
				t.Fatal("non-nil scenario with error")
			}
			return
		}
		if s.Duration <= 0 || s.Warmup < 0 || s.Timeline() > MaxTimeline || (s.Rate <= 0 && len(s.Stages) == 0) ||
			s.checkSchedulesWork() != nil || s.Mix.Create+s.Mix.Validate+s.Mix.Destroy <= 0 {
			t.Fatalf("accepted an unusable scenario: %+v", s)
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1000/s", "2k/s", "60/m", "1/ms", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err == nil && (r < 0 || r > MaxRate || r != r) {
			t.Fatalf("ParseRate(%q) = %v", s, r)
		}
	})
}
