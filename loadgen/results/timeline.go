package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// TimelineFile is the per-second memory and load timeline of a run.
const TimelineFile = "timeline.csv"

// TimelineRow is one sample of timeline.csv. A value that was not known
// (no Redis INFO for the embedded Redis, no /metrics on an external
// target) is NaN in memory and an empty cell in the file.
type TimelineRow struct {
	UnixMs   int64
	ElapsedS float64
	Phase    string
	Values   [NumSeries]float64
}

// Series indexes TimelineRow.Values.
type Series int

// The series of timeline.csv, in column order after unix_ms, elapsed_s
// and phase. Add new series at the end: columns are a contract.
const (
	SessionsLive Series = iota
	CreatePerS
	ValidatePerS
	DestroyPerS
	ErrorsPerS
	RedisUsedMemory
	RedisUsedMemoryRSS
	RedisDataMemory
	RedisFragmentation
	RedisKeys
	RedisKeysWithoutTTL
	RedisExpiredKeys
	RedisEvictedKeys
	RedisConnectedClients
	RedisOpsPerSec
	ServerRSS
	ServerHeap
	ServerGoroutines
	LoadgenRSS
	LoadgenCPUPct
	HostLoad1
	HostCPUBusyPct
	HostCPUStealPct
	HostOtherCPUPct
	NumSeries
)

// seriesDefs names each series (its CSV column) and says what it is; the
// results README's table is this list.
var seriesDefs = [NumSeries]struct{ name, doc string }{
	{"sessions_live", "sessions the generator holds (created, not destroyed)"},
	{"create_per_s", "creates finished per second over the last interval"},
	{"validate_per_s", "validates finished per second"},
	{"destroy_per_s", "destroys finished per second"},
	{"errors_per_s", "operations that failed, per second"},
	{"redis_used_memory", "Redis INFO used_memory, bytes (summed over cluster primaries)"},
	{"redis_used_memory_rss", "Redis used_memory_rss, bytes"},
	{"redis_data_memory", "used_memory less the buffers that come and go with connections and scripts (mem_clients_normal, mem_clients_slaves, mem_replication_backlog, mem_aof_buffer, used_memory_scripts, mem_cluster_links): the memory the data itself costs, which bytes per session is fitted on"},
	{"redis_mem_fragmentation_ratio", "Redis mem_fragmentation_ratio (of the first primary)"},
	{"redis_keys", "keys in the Redis (INFO keyspace)"},
	{"redis_keys_without_ttl", "keys without a TTL (keys − expires): a session store should have none"},
	{"redis_expired_keys", "expired_keys counter since the Redis started"},
	{"redis_evicted_keys", "evicted_keys counter since the Redis started"},
	{"redis_connected_clients", "connected_clients"},
	{"redis_ops_per_sec", "instantaneous_ops_per_sec"},
	{"server_rss_bytes", "the server's resident memory (/proc for a sessiond loadgen started, else process_resident_memory_bytes from /metrics)"},
	{"server_heap_bytes", "the server's Go heap in use (go_memstats_heap_inuse_bytes from /metrics)"},
	{"server_goroutines", "the server's goroutines (go_goroutines from /metrics)"},
	{"loadgen_rss_bytes", "loadgen's own resident memory"},
	{"loadgen_cpu_pct", "loadgen's CPU over the interval, % of one core"},
	{"host_load1", "the host's 1-minute load average"},
	{"host_cpu_busy_pct", "the host's busy CPU over the interval, % of all cores"},
	{"host_cpu_steal_pct", "CPU stolen by the hypervisor, % of all cores"},
	{"host_other_cpu_pct", "busy CPU of processes other than loadgen, the server and a Redis loadgen started, % of all cores: what else competed"},
}

// Name is the series' CSV column.
func (s Series) Name() string { return seriesDefs[s].name }

// Doc says what the series measures.
func (s Series) Doc() string { return seriesDefs[s].doc }

// NewTimelineRow returns a row with every value unknown (NaN).
func NewTimelineRow() TimelineRow {
	var r TimelineRow
	for i := range r.Values {
		r.Values[i] = math.NaN()
	}
	return r
}

// TimelineHeader is the CSV header row.
func TimelineHeader() []string {
	h := []string{"unix_ms", "elapsed_s", "phase"}
	for s := Series(0); s < NumSeries; s++ {
		h = append(h, s.Name())
	}
	return h
}

// TimelineWriter writes timeline.csv one row at a time, flushing each,
// so a partial run leaves the rows it had.
type TimelineWriter struct {
	w      *csv.Writer
	header bool
}

// NewTimelineWriter writes to w (the header with the first row).
func NewTimelineWriter(w io.Writer) *TimelineWriter { return &TimelineWriter{w: csv.NewWriter(w)} }

// Write appends a row.
func (t *TimelineWriter) Write(r TimelineRow) error {
	if !t.header {
		if err := t.w.Write(TimelineHeader()); err != nil {
			return fmt.Errorf("write timeline: %w", err)
		}
		t.header = true
	}
	rec := []string{strconv.FormatInt(r.UnixMs, 10), strconv.FormatFloat(r.ElapsedS, 'f', 3, 64), r.Phase}
	for _, v := range r.Values {
		rec = append(rec, formatValue(v))
	}
	if err := t.w.Write(rec); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return ""
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// ReadTimeline reads dir/timeline.csv. Columns it does not know (from a
// newer loadgen) are ignored; missing ones read as unknown.
func ReadTimeline(dir string) ([]TimelineRow, error) {
	f, err := os.Open(filepath.Join(dir, TimelineFile))
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	defer f.Close()
	return ParseTimeline(f)
}

// ParseTimeline reads timeline.csv from r.
func ParseTimeline(r io.Reader) ([]TimelineRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("timeline header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"unix_ms", "elapsed_s", "phase"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("timeline: no %s column (header %v)", need, header)
		}
	}
	var rows []TimelineRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("timeline line %d: %w", line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		row := NewTimelineRow()
		if row.UnixMs, err = strconv.ParseInt(get("unix_ms"), 10, 64); err != nil {
			return nil, fmt.Errorf("timeline line %d: unix_ms: %w", line, err)
		}
		if row.ElapsedS, err = strconv.ParseFloat(get("elapsed_s"), 64); err != nil {
			return nil, fmt.Errorf("timeline line %d: elapsed_s: %w", line, err)
		}
		row.Phase = get("phase")
		for s := Series(0); s < NumSeries; s++ {
			v := get(s.Name())
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("timeline line %d: %s: %w", line, s.Name(), err)
			}
			row.Values[s] = f
		}
		rows = append(rows, row)
	}
}
