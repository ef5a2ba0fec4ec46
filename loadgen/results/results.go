// Package results builds, writes and reads a run's results directory:
// summary.json (schema sessionbench.summary/v1) and latency.hlog.
package results

import (
	"time"
)

// Schema is the value of Summary.Schema for this version of the format.
const Schema = "sessionbench.summary/v1"

// File names inside a results directory.
const (
	SummaryFile = "summary.json"
	LatencyLog  = "latency.hlog"
)

// Summary is summary.json. Field names are the v1 contract: add fields,
// never rename.
type Summary struct {
	Schema    string    `json:"schema"`
	Scenario  string    `json:"scenario"`
	StartedAt time.Time `json:"started_at"`
	// DurationS is the measured phase, in seconds.
	DurationS float64              `json:"duration_s"`
	Partial   bool                 `json:"partial"`
	Target    Target               `json:"target"`
	Load      Load                 `json:"load"`
	Ops       map[string]OpSummary `json:"ops"`
	// InvalidOps holds the deliberately invalid operations (bad_token,
	// unknown_session), kept apart from Ops.
	InvalidOps map[string]OpSummary `json:"invalid_ops,omitempty"`
	Errors     Errors               `json:"errors"`
	Memory     Memory               `json:"memory"`
	SLO        SLOResult            `json:"slo"`
	Env        Env                  `json:"env"`
	// Seed repeats the operation-kind and session picks.
	Seed uint64 `json:"seed"`
	// Skipped counts scheduled operations replaced by a create, by reason.
	Skipped map[string]uint64 `json:"skipped,omitempty"`
	// Verdict is the run's outcome in one word (Verdict* constants), and
	// VerdictReasons say why; the CLI's exit code follows Verdict.
	Verdict        string   `json:"verdict"`
	VerdictReasons []string `json:"verdict_reasons,omitempty"`
	// Notes are facts a reader of the numbers needs (e.g. a scenario
	// setting that does not apply to the driver used).
	Notes []string `json:"notes,omitempty"`
	// Label names the run's tier or variant for comparisons (--label,
	// e.g. memorystore-standard-m2).
	Label string `json:"label,omitempty"`
	// Pair is the id a baseline run shares with its current partner
	// (--pair, e.g. a round of interleaved trials): the gate resamples
	// partners together, so noise common to a round cancels. Duet is
	// true when the partners were measured at the same moments,
	// operation by operation (run --duet): their intervals are then
	// resampled together too.
	Pair string `json:"pair,omitempty"`
	Duet bool   `json:"duet,omitempty"`
	// LatencyLogWhole is true when latency.hlog was written whole, from
	// the snapshot this summary was made of: every measured operation is
	// in both, so readers refuse a log whose counts differ (cut short,
	// or from another run). Summaries written before loadgen did so lack
	// it, and their logs are read unchecked.
	LatencyLogWhole bool `json:"latency_log_whole,omitempty"`
	// LatencyLogHistograms is how many interval histograms (one line
	// each) latency.hlog holds, with LatencyLogWhole: a log missing any
	// line is refused, even one whose kinds' counts still add up (the
	// last lag line).
	LatencyLogHistograms int `json:"latency_log_histograms,omitempty"`
}

// Verdicts, in the order they take precedence, except that a sessiond
// loadgen started which exited during the run makes it failed before
// anything else is considered.
const (
	// VerdictPartial: interrupted before the schedule ended (exit 1).
	VerdictPartial = "partial"
	// VerdictFailed: the sessiond loadgen started exited during the run,
	// every recorded operation failed, or none was recorded: the target
	// is not serving (exit 1).
	VerdictFailed = "failed"
	// VerdictInvalid: the generator did not keep its schedule (exit 1).
	VerdictInvalid = "invalid"
	// VerdictSLOBreach: an SLO term of the scenario failed (exit 3).
	VerdictSLOBreach = "slo_breach"
	// VerdictPass: none of the above (exit 0).
	VerdictPass = "pass"
)

// Target describes what was measured. The CLI fills it.
type Target struct {
	URL    string `json:"url"`
	Server string `json:"server"`
	Redis  Redis  `json:"redis"`
	Auth   string `json:"auth"`
	Driver string `json:"driver,omitempty"`
	// TraceSample is the share of measured operations sent with a
	// sampled W3C traceparent (the server records those); absent when
	// no traceparent was sent (the store driver).
	TraceSample *float64 `json:"trace_sample,omitempty"`
	// Exited is how the sessiond loadgen started ended when it exited
	// before the run did (e.g. "signal: killed"); such a run failed.
	Exited string `json:"exited,omitempty"`
}

// Redis describes the Redis behind the target.
type Redis struct {
	// Mode is embedded, local, container, url, or unknown (an external
	// target without --redis).
	Mode    string `json:"mode"`
	Version string `json:"version"`
	Addr    string `json:"addr,omitempty"`
	// Profile is the tier profile loadgen started (local, container).
	Profile     string   `json:"profile,omitempty"`
	Cluster     bool     `json:"cluster,omitempty"`
	Primaries   []string `json:"primaries,omitempty"`
	Replicas    int      `json:"replicas,omitempty"`
	TLS         bool     `json:"tls,omitempty"`
	Persistence string   `json:"persistence,omitempty"`
	// MaxMemory is maxmemory in bytes (0: none) and MaxMemoryPolicy its
	// eviction policy.
	MaxMemory       uint64 `json:"maxmemory,omitempty"`
	MaxMemoryPolicy string `json:"maxmemory_policy,omitempty"`
	Image           string `json:"image,omitempty"`
	// KeyPrefix is the run's own key prefix on a shared Redis (URL mode).
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Chosen says why --redis auto picked this mode.
	Chosen string `json:"chosen,omitempty"`
	// NotRedis warns that the numbers are not Redis performance.
	NotRedis string `json:"not_redis,omitempty"`
}

// Load describes whether the generator kept its schedule.
type Load struct {
	TargetRate   float64 `json:"target_rate"`
	AchievedRate float64 `json:"achieved_rate"`
	MaxLagMs     float64 `json:"max_lag_ms"`
	// LagMs is the schedule-lag distribution of the measured phase
	// (dispatch − intended time): how precisely the generator kept its
	// schedule.
	// Its p50 is the floor under every corrected latency.
	LagMs Latency `json:"lag_ms"`
	// ScheduledOps is what the schedule intended in the measured phase;
	// Dropped is the part of it never sent (the run ended with its
	// schedule while the generator or target was behind).
	ScheduledOps   uint64   `json:"scheduled_ops"`
	Dropped        uint64   `json:"dropped"`
	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons"`
}

// OpSummary is one operation kind.
type OpSummary struct {
	Count              uint64 `json:"count"`
	Errors             uint64 `json:"errors"`
	ExpectedRejections uint64 `json:"expected_rejections"`
	// Rate is Count over the measured duration, ops/s.
	Rate float64 `json:"rate"`
	// LatencyMs is corrected (from the intended send time).
	LatencyMs Latency `json:"latency_ms"`
	// UncorrectedLatencyMs is from the actual send.
	UncorrectedLatencyMs Latency `json:"uncorrected_latency_ms"`
	// ExpectedByReason splits ExpectedRejections (e.g. raced_destroy).
	ExpectedByReason map[string]uint64 `json:"expected_by_reason,omitempty"`
	// Clamped counts latencies above the 1 min histogram maximum.
	Clamped uint64 `json:"clamped,omitempty"`
	// Slowest are the slowest operations by corrected latency, slowest
	// first, with the W3C trace ID each was sent with: look the outlier
	// up in the server's tracing backend.
	Slowest []SlowOp `json:"slowest,omitempty"`
}

// SlowOp is one of the slowest operations of a kind.
type SlowOp struct {
	// TraceID is the trace the operation was sent with ("" for drivers
	// that send none, such as the store driver).
	TraceID   string  `json:"trace_id,omitempty"`
	LatencyMs float64 `json:"latency_ms"`
	// IntendedMs is its intended send time in ms since the measured
	// phase began; At is the same moment on the wall clock.
	IntendedMs float64   `json:"intended_ms"`
	At         time.Time `json:"at"`
}

// Latency statistics in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Errors classifies errors over all operation kinds.
type Errors struct {
	ByClass map[string]uint64 `json:"by_class"`
}

// Memory of the generator (filled by New) and of the target (filled by
// the harness, zero/omitted when unknown).
type Memory struct {
	LoadgenRSSStartBytes  uint64  `json:"loadgen_rss_start_bytes,omitempty"`
	LoadgenRSSEndBytes    uint64  `json:"loadgen_rss_end_bytes,omitempty"`
	LoadgenRSSMaxBytes    uint64  `json:"loadgen_rss_max_bytes,omitempty"`
	RedisUsedMemoryBefore uint64  `json:"redis_used_memory_before,omitempty"`
	RedisUsedMemoryAfter  uint64  `json:"redis_used_memory_after,omitempty"`
	SessionsLiveEnd       uint64  `json:"sessions_live_end,omitempty"`
	BytesPerSession       float64 `json:"bytes_per_session,omitempty"`
	MemoryAnalysis
}

// MemoryAnalysis is what the timeline says about memory (see
// sampler.Analyze).
type MemoryAnalysis struct {
	// Series holds start, end, peak and slope of every timeline series
	// that was sampled, by its timeline.csv column name.
	Series map[string]SeriesStats `json:"series,omitempty"`
	// RedisBytesPerSession is Redis memory growth per live session: the
	// least-squares coefficient of the data's memory (timeline series
	// redis_data_memory: used_memory without client and script buffers)
	// on the live-session count, with time as a second regressor so that
	// a leak does not inflate it.
	RedisBytesPerSession float64 `json:"redis_bytes_per_session,omitempty"`
	// RedisBytesPerSessionSampled cross-checks it with MEMORY USAGE on a
	// sample of keys.
	RedisBytesPerSessionSampled *SampledSessionSize `json:"redis_bytes_per_session_sampled,omitempty"`
	// Leak is the leak verdict.
	Leak LeakVerdict `json:"leak"`
}

// SeriesStats summarises one timeline series.
type SeriesStats struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Peak  float64 `json:"peak"`
	// SlopePerMin is the least-squares growth per minute over the run.
	SlopePerMin float64 `json:"slope_per_min"`
}

// SampledSessionSize is MEMORY USAGE on a sample of the run's keys: a
// session key's size, an index key's size per entry (its share of each
// session), and their sum per session.
type SampledSessionSize struct {
	SessionKeys     int     `json:"session_keys_sampled"`
	SessionKeyBytes float64 `json:"session_key_bytes"`
	IndexKeys       int     `json:"index_keys_sampled"`
	IndexEntryBytes float64 `json:"index_entry_bytes"`
	PerSessionBytes float64 `json:"per_session_bytes"`
}

// LeakVerdict says whether memory grew in a way live sessions do not
// explain: keys without a TTL, Redis memory, the server's heap or its
// goroutines growing at a given session count.
type LeakVerdict struct {
	Suspected bool `json:"suspected"`
	// Reasons say what looks like a leak; Checks what was checked and
	// held (or could not be judged).
	Reasons []string `json:"reasons,omitempty"`
	Checks  []string `json:"checks,omitempty"`
}

// SLOResult is the scenario's SLO evaluated against the run.
type SLOResult struct {
	// Passed is true when every term passed (true when there are none).
	// It is false when the SLO could not be evaluated.
	Passed bool               `json:"passed"`
	Terms  map[string]SLOTerm `json:"terms"`
	// NotEvaluated says why there is no verdict (nothing was measured);
	// empty when the terms were evaluated.
	NotEvaluated string `json:"not_evaluated,omitempty"`
}

// SLOTerm is one evaluated SLO term. Latency terms use ThresholdMs and
// ObservedMs; error_rate uses Threshold and Observed (fractions).
type SLOTerm struct {
	ThresholdMs *float64 `json:"threshold_ms,omitempty"`
	ObservedMs  *float64 `json:"observed_ms,omitempty"`
	Threshold   *float64 `json:"threshold,omitempty"`
	Observed    *float64 `json:"observed,omitempty"`
	Passed      bool     `json:"passed"`
}

// Env describes the machine and build that produced the results.
type Env struct {
	GoVersion      string `json:"go_version"`
	GOMAXPROCS     int    `json:"gomaxprocs"`
	CPUModel       string `json:"cpu_model"`
	NumCPU         int    `json:"num_cpu"`
	GitSHA         string `json:"git_sha"`
	LoadgenVersion string `json:"loadgen_version"`
	OS             string `json:"os"`
	Arch           string `json:"arch"`
	// CPUPerOpUs is what one operation cost the generator, in
	// microseconds of the loadgen process's CPU time (user + system)
	// from the start of the timeline to the end of the drain, over the
	// operations sent in it (warmup included): how close the generator
	// is to its own limit on this machine. Omitted when unknown.
	CPUPerOpUs float64 `json:"cpu_per_op_us,omitempty"`
}
