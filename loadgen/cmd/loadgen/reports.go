package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/compare"
	"github.com/sessionbench/sessionbench/loadgen/report"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// readRuns reads results directories, naming the one that fails.
func readRuns(dirs []string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, d := range dirs {
		r, err := results.ReadRun(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: %w (want a results directory written by loadgen run)", d, err)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// reportCmd redraws report.html and report.md of results directories.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: loadgen report DIR...\n\nWrites report.html and report.md into each results directory (from summary.json, latency.hlog and timeline.csv).\n")
	}
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(dirs) == 0 {
		return usageErr(stderr, errors.New("report: name at least one results directory, e.g. loadgen report results/smoke-20261201T120000Z"))
	}
	runs, err := readRuns(dirs)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	for _, r := range runs {
		if m := report.LogMissing(r); m != "" {
			fmt.Fprintf(stderr, "loadgen: %s: %s\n", r.Dir, m)
		}
		if err := report.WriteFiles(r); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s\n%s\n", filepath.Join(r.Dir, report.HTMLFile), filepath.Join(r.Dir, report.MarkdownFile))
	}
	return exitOK
}

// compareCmd prints runs side by side and, with --out, writes
// compare.html and compare.md.
func compareCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compare", stderr)
	out := fs.String("out", "", "write compare.html and compare.md into this `dir` (created if needed; existing reports are never overwritten)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: loadgen compare DIR... [--out DIR]\n\nRuns side by side (Redis tiers, profiles, commits), ratios against the first; --label of each run heads its column.\n\nflags:\n")
		fs.PrintDefaults()
	}
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(dirs) < 2 {
		return usageErr(stderr, fmt.Errorf("compare: name two or more results directories (got %d)", len(dirs)))
	}
	if *out != "" {
		// Reports are never overwritten (like results directories).
		for _, name := range []string{compare.HTMLFile, compare.MarkdownFile} {
			if _, err := os.Lstat(filepath.Join(*out, name)); err == nil {
				return usageErr(stderr, fmt.Errorf("--out %s already holds %s; comparisons are never overwritten: choose another --out", *out, name))
			}
		}
	}
	runs, err := readRuns(dirs)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	compare.Text(stdout, runs)
	if *out == "" {
		return exitOK
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "loadgen: --out: %v\n", err)
		return exitUsage
	}
	var h, m bytes.Buffer
	if err := compare.HTML(&h, runs); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitFailed
	}
	compare.Markdown(&m, runs)
	var written []string
	for _, f := range []struct {
		name string
		b    []byte
	}{{compare.HTMLFile, h.Bytes()}, {compare.MarkdownFile, m.Bytes()}} {
		p := filepath.Join(*out, f.name)
		if err := writeNew(p, f.b); err != nil {
			for _, w := range written { // nothing half-written: both or neither
				os.Remove(w)
			}
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFailed
		}
		written = append(written, p)
	}
	for _, p := range written {
		fmt.Fprintln(stdout, p)
	}
	return exitOK
}

// gateCmd is the CI gate: exit 0 pass, 3 regression, 1 inconclusive,
// 2 usage error.
func gateCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("gate", stderr)
	maxReg := fs.String("max-regression", fmt.Sprintf("%g%%", compare.DefaultMaxRegression*100), "a p50/p99 slowdown can fail only above this `ratio`, e.g. 10%")
	minDelta := fs.Duration("min-delta", compare.DefaultMinDelta, "and only when it is slower by more than this `duration`")
	conf := fs.String("confidence", fmt.Sprintf("%g%%", compare.DefaultConfidence*100), "confidence of the resampled `interval`")
	maxErr := fs.String("max-error-increase", fmt.Sprintf("%g%%", compare.DefaultMaxErrorRateIncrease*100), "an error-rate rise can fail only above this many percentage `points`")
	resamples := fs.Int("resamples", compare.DefaultResamples, "bootstrap `resamples`")
	seed := fs.Uint64("seed", 1, "resampling `seed` (the same input gives the same answer)")
	junit := fs.String("junit", "", "write JUnit XML to this `file` (one test case per operation and metric)")
	md := fs.String("markdown", "", "write the decision as Markdown to this `file` (e.g. $GITHUB_STEP_SUMMARY)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: loadgen gate --baseline DIR... --current DIR... [flags]\n\n"+
			"Fails (exit 3) when a current run breaches its scenario's SLO, or when p50, p99 or the error rate of an\n"+
			"operation regressed significantly (resampling the runs' one-second interval histograms) and beyond the\n"+
			"thresholds. Exit 0 pass, 1 inconclusive (a run is not valid or too short to judge, or the sides' load\n"+
			"differs: this wins over a regression or an SLO breach, which are still listed), 2 usage error.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var base, cur, rest []string
	var into *[]string
	for _, a := range args {
		switch {
		case a == "--baseline" || a == "-baseline":
			into = &base
		case a == "--current" || a == "-current":
			into = &cur
		case strings.HasPrefix(a, "--baseline=") || strings.HasPrefix(a, "--current="):
			k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if k == "baseline" {
				base = append(base, strings.Split(v, ",")...)
			} else {
				cur = append(cur, strings.Split(v, ",")...)
			}
			into = nil
		case strings.HasPrefix(a, "-"):
			into = nil
			rest = append(rest, a)
		case into != nil:
			*into = append(*into, a)
		default:
			rest = append(rest, a)
		}
	}
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return usageErr(stderr, err)
	}
	if len(pos) > 0 {
		return usageErr(stderr, fmt.Errorf("gate: unexpected argument %q; results directories follow --baseline or --current", pos[0]))
	}
	if len(base) == 0 || len(cur) == 0 {
		return usageErr(stderr, errors.New("gate: need --baseline DIR... and --current DIR..."))
	}
	o := compare.Options{MinDelta: *minDelta, Resamples: *resamples, Seed: *seed}
	for _, p := range []struct {
		flag, text, example string
		dst                 *float64
	}{{"--max-regression", *maxReg, "10%", &o.MaxRegression}, {"--confidence", *conf, "95%", &o.Confidence}, {"--max-error-increase", *maxErr, "0.1%", &o.MaxErrorRateIncrease}} {
		v, err := parsePercent(p.text)
		if err != nil {
			return usageErr(stderr, fmt.Errorf("%s %q: %v; write e.g. %s", p.flag, p.text, err, p.example))
		}
		*p.dst = v
	}
	if o.Confidence <= 0.5 || o.Confidence >= 1 {
		return usageErr(stderr, fmt.Errorf("--confidence %s: want between 50%% and 100%%, e.g. 95%%", *conf))
	}
	if *minDelta < 0 {
		return usageErr(stderr, fmt.Errorf("--min-delta %v: want a duration ≥ 0, e.g. 0.2ms", *minDelta))
	}
	for _, out := range []struct{ flag, path string }{{"--junit", *junit}, {"--markdown", *md}} {
		// Checked before deciding: a gate that printed PASS and then
		// exited 1 (inconclusive) for an unwritable file misleads CI.
		if err := checkWritable(out.path); err != nil {
			return usageErr(stderr, fmt.Errorf("%s %s: %v", out.flag, out.path, err))
		}
	}
	baseline, err := readRuns(base)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	current, err := readRuns(cur)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	if err := distinctRuns(append(append([]*results.Run(nil), baseline...), current...)); err != nil {
		return usageErr(stderr, err)
	}
	d, err := compare.Gate(baseline, current, o)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	compare.GateText(stdout, d)
	if *junit != "" {
		if err := writeWith(*junit, func(w io.Writer) error { return compare.JUnit(w, d) }); err != nil {
			fmt.Fprintf(stderr, "loadgen: --junit: %v\n", err)
			return exitFailed
		}
	}
	if *md != "" {
		if err := writeWith(*md, func(w io.Writer) error { compare.GateMarkdown(w, d); return nil }); err != nil {
			fmt.Fprintf(stderr, "loadgen: --markdown: %v\n", err)
			return exitFailed
		}
	}
	return d.ExitCode()
}

// checkWritable says why a file cannot be written at path ("" is fine:
// the output was not asked for): its directory must exist, and the path
// must not be a directory.
func checkWritable(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a directory; give a file name")
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("directory %s does not exist; create it first", dir)
	}
	return nil
}

// writeWith writes a file with f (appending when it is
// $GITHUB_STEP_SUMMARY, which other steps share).
func writeWith(path string, f func(io.Writer) error) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if path == os.Getenv("GITHUB_STEP_SUMMARY") {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	file, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	if err := f(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// parsePercent reads a percentage, "10%", as a fraction (0.1). The % sign
// is required: a bare 0.1 could mean 10 % or 0.1 %.
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, "%") {
		return 0, errors.New("not a percentage: write it with a % sign")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if err != nil || v < 0 || v != v {
		return 0, errors.New("not a percentage")
	}
	return fromPercent(v), nil
}

// fromPercent is v % as a fraction, rounded to 15 significant digits so
// that 0.7% is 0.007, as written, not 0.006999999999999999 (summaries
// compare shares as text).
func fromPercent(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v/100, 'g', 15, 64), 64)
	return f
}

// writeNew writes b to path, which must not exist: it claims the name
// exclusively (a file that appeared meanwhile is never replaced), writes
// a temporary file beside it and renames it over its own placeholder, so
// a reader never sees half a file. No hard links: they are missing on
// some filesystems (vfat, some network and FUSE mounts).
func writeNew(path string, b []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(path) // the placeholder is ours
		}
	}()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// distinctRuns refuses the same run given twice (the same directory, or
// a copy: an identical summary.json), on one side or on both: a run
// compared with itself always passes, and one counted twice weighs
// double, so a glob mistake in CI would pass silently.
func distinctRuns(runs []*results.Run) error {
	for i, a := range runs {
		for _, b := range runs[i+1:] {
			if reflect.DeepEqual(a.Summary, b.Summary) {
				return fmt.Errorf("gate: %s and %s are the same run (identical summary.json): a run compared with itself always passes; check the --baseline and --current directories", a.Dir, b.Dir)
			}
		}
	}
	return nil
}
