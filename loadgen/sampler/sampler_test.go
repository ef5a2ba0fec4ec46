package sampler

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// fakeProc advances by fixed amounts on every Stat: 2 cores, 100 ticks
// each per sample; loadgen uses 30 ticks, the server 40, Redis 20, and
// the host 150 in all, 10 of them stolen.
type fakeProc struct {
	n int
}

func (f *fakeProc) Stat() (busy, steal, total uint64, cores int, err error) {
	f.n++
	return uint64(f.n) * 150, uint64(f.n) * 10, uint64(f.n) * 200, 2, nil
}
func (f *fakeProc) LoadAvg() (float64, error) { return 1.5, nil }
func (f *fakeProc) Process(pid int) (uint64, uint64, error) {
	switch pid {
	case 0:
		return uint64(f.n) * 30, 50 << 20, nil
	case 4242:
		return uint64(f.n) * 40, 30 << 20, nil
	case 777:
		return uint64(f.n) * 20, 8 << 20, nil
	}
	return 0, 0, fmt.Errorf("no pid %d", pid)
}

// fakeRedis answers INFO for two primaries whose memory grows 1000 B
// per call.
type fakeRedis struct{ calls int }

func (f *fakeRedis) Info(context.Context, string) ([]map[string]string, error) {
	f.calls++
	m := func(used int) map[string]string {
		return map[string]string{
			"used_memory": fmt.Sprint(used), "used_memory_rss": "4000000", "mem_fragmentation_ratio": "1.25",
			"expired_keys": "3", "evicted_keys": "0", "connected_clients": "5", "instantaneous_ops_per_sec": "900",
			"db0": "keys=10,expires=9,avg_ttl=1000", "mem_clients_normal": "40000",
		}
	}
	return []map[string]string{m(1_000_000 + 1000*f.calls), m(2_000_000)}, nil
}

// TestSamplerRows: observations with their own clock become rows with
// per-second rates from count deltas, the Redis series summed over
// primaries, the server from /proc and /metrics, and CPU shares; what is
// unknown stays empty in the CSV.
func TestSamplerRows(t *testing.T) {
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE go_goroutines gauge\ngo_goroutines 17\n# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes 6.5e+06\n")
	}))
	defer metrics.Close()
	var csv bytes.Buffer
	s := Start(Config{Out: &csv, Redis: &fakeRedis{}, ServerPID: 4242, RedisPIDs: []int{777},
		ServerMetricsURL: metrics.URL, Proc: &fakeProc{}})
	t0 := time.Unix(1_700_000_000, 0)
	mk := func(sec float64, phase string, live int, creates, validates, errs uint64) engine.Observation {
		o := engine.Observation{Time: t0.Add(time.Duration(sec * float64(time.Second))), Phase: phase, Live: live,
			Elapsed: time.Duration(sec * float64(time.Second)), MeasureStart: t0.Add(2 * time.Second)}
		o.Done[recorder.Create], o.Done[recorder.Validate] = creates, validates
		o.Errors[recorder.Validate] = errs
		return o
	}
	s.Observe(engine.Observation{Time: t0.Add(-time.Second), Phase: engine.PhasePrefill, Changed: true})
	s.Observe(mk(0, engine.PhaseWarmup, 100, 0, 0, 0))
	s.Observe(mk(2, engine.PhaseMeasure, 120, 20, 180, 0))
	s.Observe(mk(3, engine.PhaseMeasure, 130, 30, 280, 4))
	rows, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	pre, last := rows[0], rows[3]
	if pre.ElapsedS != 0 || pre.Phase != engine.PhasePrefill || pre.UnixMs != t0.Add(-time.Second).UnixMilli() {
		t.Errorf("prefill row %+v", pre)
	}
	if !math.IsNaN(pre.Values[results.ValidatePerS]) {
		t.Errorf("first row has a rate: %v", pre.Values[results.ValidatePerS])
	}
	want := map[results.Series]float64{
		results.SessionsLive:          130,
		results.CreatePerS:            10,  // 10 creates in 1 s
		results.ValidatePerS:          100, // 100 validates in 1 s
		results.ErrorsPerS:            4,
		results.RedisUsedMemory:       1_000_000 + 4000 + 2_000_000,
		results.RedisUsedMemoryRSS:    8_000_000,
		results.RedisDataMemory:       1_000_000 + 4000 + 2_000_000 - 2*40_000, // less 2 × mem_clients_normal
		results.RedisFragmentation:    1.25,
		results.RedisKeys:             20,
		results.RedisKeysWithoutTTL:   2,
		results.RedisConnectedClients: 10,
		results.ServerRSS:             30 << 20,
		results.ServerHeap:            6.5e6,
		results.ServerGoroutines:      17,
		results.LoadgenRSS:            50 << 20,
		results.LoadgenCPUPct:         30, // 30 ticks of 100 per core
		results.HostLoad1:             1.5,
		results.HostCPUBusyPct:        75, // 150 of 200
		results.HostCPUStealPct:       5,
		results.HostOtherCPUPct:       30, // 150 − (30 + 40 + 20) = 60 of 200
	}
	for s, w := range want {
		if got := last.Values[s]; math.Abs(got-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", s.Name(), got, w)
		}
	}
	if last.ElapsedS != 3 || last.Phase != engine.PhaseMeasure {
		t.Errorf("last row elapsed %v phase %q", last.ElapsedS, last.Phase)
	}
	// The CSV round-trips, empty cells for what was unknown.
	header := strings.SplitN(csv.String(), "\n", 2)[0]
	if !strings.HasPrefix(header, "unix_ms,elapsed_s,phase,sessions_live,") {
		t.Errorf("header %q", header)
	}
	back, err := results.ParseTimeline(&csv)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 4 || back[3].Values[results.ServerGoroutines] != 17 || !math.IsNaN(back[0].Values[results.CreatePerS]) {
		t.Errorf("round trip: %d rows %+v", len(back), back)
	}
}

// synth builds a timeline of n one-second rows: live sessions from
// live(i), Redis memory base + perSession·live + leak·i bytes, server
// heap and goroutines likewise.
func synth(n int, live func(i int) float64, perSession, leakPerSec, heapLeakPerSec, goroutinesPerSec float64) []results.TimelineRow {
	rows := make([]results.TimelineRow, n)
	for i := range rows {
		r := results.NewTimelineRow()
		r.UnixMs = 1_700_000_000_000 + int64(i)*1000
		l := live(i)
		noise := float64((i*7919)%13) * 1000 // deterministic wobble, up to 12 KB
		r.Values[results.SessionsLive] = l
		r.Values[results.RedisDataMemory] = 1e6 + perSession*l + leakPerSec*float64(i) + noise
		r.Values[results.ServerHeap] = 8e6 + 50*l + heapLeakPerSec*float64(i) + noise
		r.Values[results.ServerGoroutines] = 20 + goroutinesPerSec*float64(i)
		rows[i] = r
	}
	return rows
}

// TestBytesPerSession: 400 B per session comes out of the regression
// whether sessions grow steadily or go up and down, and a leak does not
// inflate it.
func TestBytesPerSession(t *testing.T) {
	steady := func(i int) float64 { return float64(i) * 100 }
	wave := func(i int) float64 { return 5000 + 4000*math.Sin(float64(i)/10) }
	for name, c := range map[string]struct {
		live func(int) float64
		leak float64
	}{"steady": {steady, 0}, "wave": {wave, 0}, "wave with a leak": {wave, 50_000}} {
		a := Analyze(synth(120, c.live, 400, c.leak, 0, 0), Extra{})
		if math.Abs(a.RedisBytesPerSession-400) > 2 {
			t.Errorf("%s: %v bytes per session, want 400", name, a.RedisBytesPerSession)
		}
	}
	// Sessions that barely change say nothing about bytes per session.
	a := Analyze(synth(120, func(int) float64 { return 1000 }, 400, 0, 0, 0), Extra{})
	if a.RedisBytesPerSession != 0 {
		t.Errorf("constant sessions gave %v bytes per session", a.RedisBytesPerSession)
	}
}

// TestLeakVerdict: growth that live sessions explain is not a leak;
// memory, heap or goroutines growing at a given session count are; keys
// without a TTL are; a run too short is not judged.
func TestLeakVerdict(t *testing.T) {
	wave := func(i int) float64 { return 5000 + 4000*math.Sin(float64(i)/10) }
	zero, some := uint64(0), uint64(12)
	cases := []struct {
		name    string
		rows    []results.TimelineRow
		extra   Extra
		suspect bool
		reason  string
	}{
		{"sessions explain it", synth(300, func(i int) float64 { return float64(i) * 50 }, 400, 0, 0, 0), Extra{KeysWithoutTTL: &zero}, false, ""},
		{"sessions grow in step with a leak: cannot tell", synth(300, func(i int) float64 { return float64(i) * 50 }, 400, (1<<20)/60.0, 0, 0), Extra{}, false, ""},
		{"sessions go up and down", synth(300, wave, 400, 0, 0, 0), Extra{}, false, ""},
		{"redis leaks 1 MiB/min", synth(300, wave, 400, (1<<20)/60.0, 0, 0), Extra{}, true, "Redis data memory grows"},
		{"heap leaks 4 MiB/min", synth(300, wave, 400, 0, (4<<20)/60.0, 0), Extra{}, true, "server heap grows"},
		{"goroutines leak", synth(300, wave, 400, 0, 0, 1), Extra{}, true, "server goroutines grow"},
		{"keys without TTL", synth(300, wave, 400, 0, 0, 0), Extra{KeysWithoutTTL: &some}, true, "12 of the run's Redis keys have no TTL"},
		{"too short", synth(20, wave, 400, (1<<20)/60.0, 0, 0), Extra{}, false, ""},
	}
	for _, c := range cases {
		a := Analyze(c.rows, c.extra)
		got := strings.Join(a.Leak.Reasons, "; ")
		if a.Leak.Suspected != c.suspect || !strings.Contains(got, c.reason) {
			t.Errorf("%s: suspected %v reasons %q checks %q; want %v with %q", c.name, a.Leak.Suspected, got, a.Leak.Checks, c.suspect, c.reason)
		}
	}
	short := Analyze(synth(20, wave, 400, 0, 0, 0), Extra{})
	if !strings.Contains(strings.Join(short.Leak.Checks, ";"), "too short to judge") {
		t.Errorf("short run checks %q", short.Leak.Checks)
	}
}

// TestSeriesStats: start, end, peak and the slope per minute.
func TestSeriesStats(t *testing.T) {
	rows := synth(61, func(i int) float64 { return float64(i) }, 0, 0, 0, 2) // goroutines +2/s
	a := Analyze(rows, Extra{})
	g := a.Series[results.ServerGoroutines.Name()]
	if g.Start != 20 || g.End != 140 || g.Peak != 140 || math.Abs(g.SlopePerMin-120) > 1e-6 {
		t.Errorf("goroutines %+v", g)
	}
	if _, ok := a.Series[results.RedisKeys.Name()]; ok {
		t.Error("a series never sampled has stats")
	}
}
