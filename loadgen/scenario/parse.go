package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a scenario file: real scenarios are a few hundred
// bytes, and YAML decoding of a huge file costs gigabytes before any
// field could be refused.
const MaxFileBytes = 1 << 20

// Load reads and validates the scenario file at path.
func Load(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read scenario %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d KiB; a scenario file is a few lines of YAML (is this the right file?)", path, MaxFileBytes>>10)
	}
	return Parse(data, path)
}

var nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// parser carries the file name for messages.
type parser struct {
	file string
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
}

// fields walks a mapping node, rejecting unknown and duplicate keys, and
// returns key → value node.
func (p *parser) fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "%s must be a mapping (key: value lines)", what)
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ok := false
		for _, kn := range known {
			if k.Value == kn {
				ok = true
			}
		}
		if !ok {
			return nil, p.errf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errf(k, "duplicate key %q in %s", k.Value, what)
		}
		out[k.Value] = v
	}
	return out, nil
}

func (p *parser) scalar(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, "%s must be a single value, not a list or mapping", field)
	}
	return n.Value, nil
}

func (p *parser) duration(n *yaml.Node, field, example string) (time.Duration, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > MaxTimeline {
		return 0, p.errf(n, "%s: %q is not a positive duration up to %v; write e.g. %s", field, s, MaxTimeline, example)
	}
	return d, nil
}

// nonNegDuration is duration where zero is a normal choice (warmup: 0s).
func (p *parser) nonNegDuration(n *yaml.Node, field, example string) (time.Duration, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxTimeline {
		return 0, p.errf(n, "%s: %q is not a duration from 0s to %v; write e.g. %s", field, s, MaxTimeline, example)
	}
	return d, nil
}

func (p *parser) rate(n *yaml.Node, field string) (Rate, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	r, err := ParseRate(s)
	if err != nil {
		return 0, p.errf(n, "%s: %v", field, err)
	}
	return r, nil
}

func (p *parser) number(n *yaml.Node, field, example string) (float64, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, p.errf(n, "%s: %q is not a number; write e.g. %s", field, s, example)
	}
	return f, nil
}

func (p *parser) integer(n *yaml.Node, field string, lo, hi int) (int, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || v < lo || v > hi {
		return 0, p.errf(n, "%s: %q must be a whole number from %d to %d", field, s, lo, hi)
	}
	return v, nil
}

// percent parses "1", "0.5" or "0.5%" as a percentage in [0, 100].
func (p *parser) percent(n *yaml.Node, field string) (float64, error) {
	s, err := p.scalar(n, field)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, p.errf(n, "%s: %q is not a percentage from 0 to 100; write e.g. 1 or 0.5%%", field, s)
	}
	return f, nil
}

// Parse decodes and validates a scenario; filename prefixes error
// messages ("scenarios/x.yaml:12: ...").
func Parse(data []byte, filename string) (*Scenario, error) {
	p := &parser{file: filename}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d KiB; a scenario file is a few lines of YAML", filename, MaxFileBytes>>10)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty scenario; it needs at least name, duration, rate and mix", filename)
		}
		return nil, fmt.Errorf("%s: not valid YAML: %w", filename, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty scenario; it needs at least name, duration, rate and mix", filename)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, fmt.Errorf("%s: a second YAML document (after ---) is not allowed, and it is not valid YAML: %w", filename, err)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document (after ---) would be ignored; one scenario per file: remove it or move it to its own file", filename, line)
	}
	root := doc.Content[0]
	f, err := p.fields(root, "scenario", "name", "description", "duration", "warmup", "rate", "stages",
		"mix", "population", "session", "invalid", "slo")
	if err != nil {
		return nil, err
	}
	s := &Scenario{File: filename, Population: Population{Users: 1000, Pick: PickUniform}}
	need := func(key string) (*yaml.Node, error) {
		n, ok := f[key]
		if !ok {
			return nil, p.errf(root, "missing %q", key)
		}
		return n, nil
	}

	n, err := need("name")
	if err != nil {
		return nil, fmt.Errorf("%w; add e.g. name: steady-browse", err)
	}
	if s.Name, err = p.scalar(n, "name"); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(s.Name) {
		return nil, p.errf(n, "name: %q must match [a-z0-9-]+ (it names the results directory); write e.g. steady-browse", s.Name)
	}
	if n, ok := f["description"]; ok {
		if s.Description, err = p.scalar(n, "description"); err != nil {
			return nil, err
		}
	}
	if n, ok := f["warmup"]; ok {
		if s.Warmup, err = p.nonNegDuration(n, "warmup", "10s or 0s"); err != nil {
			return nil, err
		}
	}

	rn, hasRate := f["rate"]
	sn, hasStages := f["stages"]
	switch {
	case hasRate && hasStages:
		return nil, p.errf(sn, "give either rate or stages, not both")
	case !hasRate && !hasStages:
		return nil, p.errf(root, "missing rate; add e.g. rate: 1000/s (or stages: [...])")
	case hasRate:
		if s.Rate, err = p.rate(rn, "rate"); err != nil {
			return nil, err
		}
		if s.Rate <= 0 {
			return nil, p.errf(rn, "rate: must be positive; write e.g. 1000/s")
		}
	default:
		if err := p.stages(sn, s); err != nil {
			return nil, err
		}
	}

	if n, ok := f["duration"]; ok {
		if s.Duration, err = p.duration(n, "duration", "60s"); err != nil {
			return nil, err
		}
	} else if hasStages {
		var total time.Duration
		for _, st := range s.Stages {
			total += st.Duration
		}
		s.Duration = total - s.Warmup
		if s.Duration <= 0 {
			return nil, p.errf(sn, "stages last %v, not more than warmup %v; add duration: or longer stages", total, s.Warmup)
		}
	} else {
		return nil, p.errf(root, "missing \"duration\"; add e.g. duration: 60s")
	}

	if s.Warmup+s.Duration > MaxTimeline {
		return nil, p.errf(root, "warmup %v + duration %v is longer than %v; shorten them", s.Warmup, s.Duration, MaxTimeline)
	}
	if err := s.checkSchedulesWork(); err != nil {
		return nil, p.errf(root, "%v", err)
	}

	n, err = need("mix")
	if err != nil {
		return nil, fmt.Errorf("%w; add e.g. mix: {create: 10, validate: 85, destroy: 5}", err)
	}
	if err := p.mix(n, s); err != nil {
		return nil, err
	}
	if n, ok := f["population"]; ok {
		if err := p.population(n, s); err != nil {
			return nil, err
		}
	}
	if n, ok := f["session"]; ok {
		sf, err := p.fields(n, "session", "data_bytes")
		if err != nil {
			return nil, err
		}
		if v, ok := sf["data_bytes"]; ok {
			if s.Session.DataBytes, err = p.integer(v, "session.data_bytes", 0, MaxDataBytes); err != nil {
				return nil, err
			}
		}
	}
	if n, ok := f["invalid"]; ok {
		inf, err := p.fields(n, "invalid", "bad_token", "unknown_session")
		if err != nil {
			return nil, err
		}
		if v, ok := inf["bad_token"]; ok {
			if s.Invalid.BadToken, err = p.percent(v, "invalid.bad_token"); err != nil {
				return nil, err
			}
		}
		if v, ok := inf["unknown_session"]; ok {
			if s.Invalid.UnknownSession, err = p.percent(v, "invalid.unknown_session"); err != nil {
				return nil, err
			}
		}
		if s.Invalid.BadToken+s.Invalid.UnknownSession > 100 {
			return nil, p.errf(n, "invalid: bad_token + unknown_session = %v%%, more than 100%%", s.Invalid.BadToken+s.Invalid.UnknownSession)
		}
	}
	if n, ok := f["slo"]; ok {
		if err := p.slo(n, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) stages(n *yaml.Node, s *Scenario) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return p.errf(n, "stages must be a non-empty list; write e.g. stages: [{rate: 200/s, duration: 30s}, {ramp_to: 2000/s, duration: 60s}]")
	}
	var total time.Duration
	for i, sn := range n.Content {
		what := fmt.Sprintf("stages[%d]", i)
		f, err := p.fields(sn, what, "rate", "ramp_to", "duration")
		if err != nil {
			return err
		}
		var st Stage
		rn, hasRate := f["rate"]
		tn, hasRamp := f["ramp_to"]
		switch {
		case hasRate == hasRamp:
			return p.errf(sn, "%s needs exactly one of rate (constant) or ramp_to (linear ramp from the previous rate)", what)
		case hasRate:
			if st.Rate, err = p.rate(rn, what+".rate"); err != nil {
				return err
			}
		default:
			st.Ramp = true
			if st.RampTo, err = p.rate(tn, what+".ramp_to"); err != nil {
				return err
			}
		}
		dn, ok := f["duration"]
		if !ok {
			return p.errf(sn, "%s: missing duration; add e.g. duration: 30s", what)
		}
		if st.Duration, err = p.duration(dn, what+".duration", "30s"); err != nil {
			return err
		}
		if total += st.Duration; total > MaxTimeline {
			return p.errf(dn, "stages last more than %v in all; shorten them", MaxTimeline)
		}
		s.Stages = append(s.Stages, st)
	}
	return nil
}

func (p *parser) mix(n *yaml.Node, s *Scenario) error {
	f, err := p.fields(n, "mix", "create", "validate", "destroy")
	if err != nil {
		return err
	}
	dst := map[string]*float64{"create": &s.Mix.Create, "validate": &s.Mix.Validate, "destroy": &s.Mix.Destroy}
	for k, v := range f {
		w, err := p.number(v, "mix."+k, "10")
		if err != nil {
			return err
		}
		if w < 0 {
			return p.errf(v, "mix.%s: %v is negative; weights are ≥ 0", k, w)
		}
		*dst[k] = w
	}
	if s.Mix.Create+s.Mix.Validate+s.Mix.Destroy <= 0 {
		return p.errf(n, "mix: weights sum to 0; give at least one positive weight, e.g. {create: 10, validate: 85, destroy: 5}")
	}
	return nil
}

func (p *parser) population(n *yaml.Node, s *Scenario) error {
	f, err := p.fields(n, "population", "users", "prefill", "pick", "zipf_s")
	if err != nil {
		return err
	}
	if v, ok := f["users"]; ok {
		if s.Population.Users, err = p.integer(v, "population.users", 1, MaxUsers); err != nil {
			return err
		}
	}
	if v, ok := f["prefill"]; ok {
		if s.Population.Prefill, err = p.integer(v, "population.prefill", 0, MaxPrefill); err != nil {
			return err
		}
	}
	if v, ok := f["pick"]; ok {
		if s.Population.Pick, err = p.scalar(v, "population.pick"); err != nil {
			return err
		}
		if s.Population.Pick != PickUniform && s.Population.Pick != PickZipf {
			return p.errf(v, "population.pick: %q is not a pick mode; write uniform or zipf", s.Population.Pick)
		}
	}
	zn, hasS := f["zipf_s"]
	if hasS {
		if s.Population.ZipfS, err = p.number(zn, "population.zipf_s", "1.1"); err != nil {
			return err
		}
	}
	if s.Population.Pick == PickZipf {
		if !hasS {
			return p.errf(n, "population.zipf_s: needed with pick: zipf; add e.g. zipf_s: 1.1")
		}
		if s.Population.ZipfS <= 1 {
			return p.errf(zn, "population.zipf_s: %v must be greater than 1; write e.g. 1.1", s.Population.ZipfS)
		}
	} else if hasS {
		return p.errf(zn, "population.zipf_s only applies to pick: zipf; remove it or set pick: zipf")
	}
	return nil
}

var sloStats = []string{StatP50, StatP90, StatP99, StatP999, StatMax, StatMean}

func (p *parser) slo(n *yaml.Node, s *Scenario) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "slo must be a mapping, e.g. {validate.p99: 10ms, error_rate: 0.1%%}")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return p.errf(k, "duplicate key %q in slo", k.Value)
		}
		seen[k.Value] = true
		val, err := p.scalar(v, "slo."+k.Value)
		if err != nil {
			return err
		}
		if k.Value == "error_rate" {
			pct, err := p.percent(v, "slo.error_rate")
			if err != nil {
				return err
			}
			s.SLO = append(s.SLO, SLOTerm{Key: k.Value, ErrorRate: pct / 100})
			continue
		}
		op, stat, ok := strings.Cut(k.Value, ".")
		if !ok || (op != "create" && op != "validate" && op != "destroy") || !contains(sloStats, stat) {
			return p.errf(k, "unknown key %q in slo (known: <create|validate|destroy>.<%s>, error_rate)", k.Value, strings.Join(sloStats, "|"))
		}
		if w := map[string]float64{"create": s.Mix.Create, "validate": s.Mix.Validate, "destroy": s.Mix.Destroy}[op]; w <= 0 {
			// It could only ever be judged on nothing: a breach with no evidence.
			return p.errf(k, "slo.%s: the mix sends no %s (mix.%s is 0); drop this term or give %s a weight in mix", k.Value, op, op, op)
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return p.errf(v, "slo.%s: %q is not a positive duration; write e.g. 10ms", k.Value, val)
		}
		s.SLO = append(s.SLO, SLOTerm{Key: k.Value, Op: op, Stat: stat, Latency: d})
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
