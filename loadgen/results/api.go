package results

import (
	"errors"
	"io"

	"github.com/sessionbench/sessionbench/loadgen/engine"
)

// New builds the summary of rep, evaluating the scenario's SLO. t and env
// come from the caller (the CLI knows the target; CollectEnv the env).
// The CLI may fill Memory's target fields afterwards.
func New(rep *engine.Report, t Target, env Env) *Summary {
	_, _, _ = rep, t, env
	return &Summary{Schema: Schema}
}

// Write writes summary.json into dir (created if needed) atomically: a
// temporary file renamed into place, so a reader never sees half a file.
func (s *Summary) Write(dir string) error {
	_ = dir
	return errors.New("results: not implemented yet")
}

// WriteTable writes the human summary: per operation count, rate, p50 /
// p90 / p99 / p99.9 / max (ms), errors, expected rejections, then the
// validity and SLO lines.
func (s *Summary) WriteTable(w io.Writer) { _ = w }

// Read reads dir/summary.json, checking the schema.
func Read(dir string) (*Summary, error) {
	_ = dir
	return nil, errors.New("results: not implemented yet")
}

// CollectEnv describes this process and machine; version is the loadgen
// build version.
func CollectEnv(version string) Env { return Env{LoadgenVersion: version} }
