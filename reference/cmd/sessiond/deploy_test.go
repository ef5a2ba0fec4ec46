package main

// Tests of the alert rules and the dashboard under reference/deploy: they
// must be valid, the alerts must fire when they should and not otherwise
// (promtool), and every query must name a metric this sessiond exports,
// checked against a real scrape of its /metrics.

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/sessionbench/sessionbench/internal/testsvc"
)

const (
	alertRulesFile = "../../deploy/prometheus/sessiond-alerts.yml"
	alertTestsFile = "../../deploy/prometheus/sessiond-alerts_test.yml"
	dashboardFile  = "../../deploy/grafana/sessiond-dashboard.json"
)

// promtool returns the promtool binary, or fails (CI) / skips the test.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		testsvc.Unavailable(t, "promtool", err, "apt-get install -y prometheus")
	}
	return bin
}

func TestAlertRulesPassPromtoolCheckAndTests(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", alertRulesFile}, {"test", "rules", alertTestsFile}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// alertRules reads the rule file.
func alertRules(t *testing.T) []struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Annotations map[string]string `yaml:"annotations"`
	Labels      map[string]string `yaml:"labels"`
} {
	t.Helper()
	b, err := os.ReadFile(alertRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
				Labels      map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) != 1 {
		t.Fatalf("%d rule groups, want 1", len(f.Groups))
	}
	return f.Groups[0].Rules
}

// The alerts the issue asks for, each with a runbook line and a severity.
func TestEveryAlertHasARunbookAndSeverity(t *testing.T) {
	want := []string{"SessiondHTTP5xxRatioHigh", "SessiondRedisEvictionPolicy", "SessiondRedisMemoryHigh", "SessiondRedisUnreachable", "SessiondRefusalSpike", "SessiondValidateLatencyHigh"}
	var got []string
	for _, r := range alertRules(t) {
		got = append(got, r.Alert)
		if len(r.Annotations["runbook"]) < 40 || r.Annotations["summary"] == "" {
			t.Errorf("%s: runbook %q, summary %q; want a runbook line and a summary", r.Alert, r.Annotations["runbook"], r.Annotations["summary"])
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
}

var (
	promString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRange     = regexp.MustCompile(`\[[^\]]*\]`)
	promLabelList = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords  = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges and label lists
// are removed, that are neither functions (followed by "(") nor keywords.
// It is a small scanner for the queries in this repository, not a parser.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promLabelList.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		if loc[0] > 0 {
			if c := s[loc[0]-1]; c == '.' || c == '$' || ('0' <= c && c <= '9') || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				continue // part of a number (1e9, 5m) or a variable
			}
		}
		id := s[loc[0]:loc[1]]
		if promKeywords[strings.ToLower(id)] || strings.HasPrefix(strings.TrimSpace(s[loc[1]:]), "(") {
			continue
		}
		out = append(out, id)
	}
	return out
}

func TestMetricNamesScanner(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (job, le) (rate(a_bucket{x="y}", route!~"GET /(a|b)"}[5m])) > 0.2 unless on (job) b offset 5m`: {"a_bucket", "b"},
		`histogram_quantile(0.99, sum by (le) (rate(c[$__rate_interval]))) > 2.5e-2 and on(job) d`:             {"c", "d"},
		`max by (node) (used) / max by (node) (max > 0) > 0.8`:                                                 {"used", "max"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// exportedMetrics runs sessiond on a real Redis (for the INFO gauges),
// drives traffic that creates every labelled series the queries use
// (statuses, a refusal), and returns the metric names on its /metrics.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	addr := testsvc.StartRedis(t, "--maxmemory", "64mb")
	s := startServer(t, "redis://"+addr+"/0")
	cookie := s.create(t, "alice")
	if code, _ := s.get(t, "/v1/sessions/current", cookie); code != http.StatusOK {
		t.Fatalf("validate: %d", code)
	}
	if code, _ := s.get(t, "/v1/sessions/current", ""); code != http.StatusUnauthorized { // a refusal
		t.Fatalf("validate without a cookie: %d", code)
	}
	// The INFO poller reads at start in its own goroutine: wait for it.
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, body = s.get(t, "/metrics", "")
		if strings.Contains(body, "sessiond_redis_maxmemory_policy{") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Redis INFO gauges on /metrics after 10s:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	names := map[string]bool{}
	for name, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		names[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM":
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case "SUMMARY":
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

var labelValues = regexp.MustCompile(`^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*[A-Za-z_]+\s*\)$`)

func TestDashboardAndAlertsQueryOnlyExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	exported := exportedMetrics(t)

	type query struct{ where, expr string }
	var queries []query
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries = append(queries, query{"panel " + p.Title, tg.Expr})
		}
	}
	for _, r := range alertRules(t) {
		queries = append(queries, query{"alert " + r.Alert, r.Expr})
	}
	if len(queries) < 20 {
		t.Fatalf("only %d queries found; is the dashboard's layout what this test reads?", len(queries))
	}
	for _, q := range queries {
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: query %q names no metric", q.where, q.expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: %s is not on sessiond's /metrics (query %q)", q.where, n, q.expr)
			}
		}
	}
	var sawJob bool
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		qm, _ := v.Query.(map[string]any)
		qs, _ := qm["query"].(string)
		m := labelValues.FindStringSubmatch(qs)
		if m == nil || !exported[m[1]] {
			t.Errorf("variable %s: query %q is not label_values of an exported metric", v.Name, qs)
		}
		sawJob = sawJob || v.Name == "job"
	}
	if !sawJob {
		t.Error("the dashboard has no job variable")
	}
}
