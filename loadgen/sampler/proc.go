package sampler

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// Proc reads what the sampler needs from /proc (a fake in tests).
type Proc interface {
	// Stat is the host's CPU times in clock ticks (the "cpu" line of
	// /proc/stat): busy (all but idle and iowait), steal, and the total
	// over all cores, and the number of cores.
	Stat() (busy, steal, total uint64, cores int, err error)
	// LoadAvg is the 1-minute load average.
	LoadAvg() (float64, error)
	// Process is a process's CPU time in clock ticks (utime+stime) and
	// resident set size in bytes; pid 0 is this process.
	Process(pid int) (ticks, rss uint64, err error)
}

// ticksPerSecond is USER_HZ, the unit of /proc CPU times (100 on every
// Linux architecture loadgen runs on).
const ticksPerSecond = 100

func keyspace(m map[string]string) (keys, expires uint64) { return redisenv.Keyspace(m) }

// cpuSnapshot is one reading of the CPU counters.
type cpuSnapshot struct {
	ok                       bool
	busy, steal, total, self uint64
	server, redis            uint64
}

// serverReading is what sampleServer learned (for CPU accounting).
type serverReading struct {
	ticks uint64
	ok    bool
}

// sampleServer fills the server's series from /proc (a process loadgen
// started) and /metrics.
func (s *Sampler) sampleServer(ctx context.Context, v *[results.NumSeries]float64) serverReading {
	var r serverReading
	if s.cfg.ServerPID > 0 {
		if ticks, rss, err := s.cfg.Proc.Process(s.cfg.ServerPID); err == nil {
			v[results.ServerRSS] = float64(rss)
			r = serverReading{ticks: ticks, ok: true}
		}
	}
	if s.cfg.ServerMetricsURL != "" {
		if m, err := scrape(ctx, s.cfg.HTTP, s.cfg.ServerMetricsURL); err == nil {
			if x, ok := m["go_memstats_heap_inuse_bytes"]; ok {
				v[results.ServerHeap] = x
			}
			if x, ok := m["go_goroutines"]; ok {
				v[results.ServerGoroutines] = x
			}
			if x, ok := m["process_resident_memory_bytes"]; ok && s.cfg.ServerPID == 0 {
				v[results.ServerRSS] = x
			}
		}
	}
	return r
}

// sampleCPU fills loadgen's RSS and CPU, and the host's load, busy,
// steal and "other" CPU: busy CPU of every process that is not loadgen,
// the server or a Redis loadgen started.
func (s *Sampler) sampleCPU(v *[results.NumSeries]float64, server serverReading) {
	p := s.cfg.Proc
	if l, err := p.LoadAvg(); err == nil {
		v[results.HostLoad1] = l
	}
	cur := cpuSnapshot{}
	selfTicks, rss, errSelf := p.Process(0)
	if errSelf == nil {
		v[results.LoadgenRSS] = float64(rss)
	}
	busy, steal, total, cores, errStat := p.Stat()
	cur.ok = errSelf == nil && errStat == nil
	cur.busy, cur.steal, cur.total, cur.self = busy, steal, total, selfTicks
	cur.server = server.ticks
	for _, pid := range s.cfg.RedisPIDs {
		if t, _, err := p.Process(pid); err == nil {
			cur.redis += t
		}
	}
	prev := s.prevCPU
	// Shares over less than half a second (two observations at a phase
	// change) are mostly tick rounding: keep the older snapshot and
	// leave these cells empty.
	if cur.ok && prev.ok && cur.total < prev.total+uint64(cores)*ticksPerSecond/2 {
		return
	}
	s.prevCPU = cur
	if !cur.ok || !prev.ok || cur.total <= prev.total {
		return
	}
	dt := float64(cur.total - prev.total) // ticks of all cores
	v[results.LoadgenCPUPct] = float64(cur.self-prev.self) / dt * float64(cores) * 100
	v[results.HostCPUBusyPct] = float64(cur.busy-prev.busy) / dt * 100
	v[results.HostCPUStealPct] = float64(cur.steal-prev.steal) / dt * 100
	ours := float64(cur.self-prev.self) + float64(cur.redis-prev.redis)
	if server.ok {
		ours += float64(cur.server - prev.server)
	}
	other := float64(cur.busy-prev.busy) - ours
	v[results.HostOtherCPUPct] = max(other, 0) / dt * 100
}

// scrape reads a Prometheus text endpoint into name → value for the
// unlabelled gauges and counters it holds.
func scrape(ctx context.Context, hc *http.Client, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != 0 {
				continue
			}
			switch {
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			}
		}
	}
	return out, nil
}

// realProc reads the real /proc.
type realProc struct{}

func (realProc) Stat() (busy, steal, total uint64, cores int, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, 0, 0, fmt.Errorf("/proc/stat: empty")
	}
	if busy, steal, total, err = parseCPULine(sc.Text()); err != nil {
		return 0, 0, 0, 0, err
	}
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			cores++
		}
	}
	return busy, steal, total, max(cores, 1), sc.Err()
}

// parseCPULine reads "cpu  user nice system idle iowait irq softirq
// steal guest guest_nice" (guest time is already in user).
func parseCPULine(line string) (busy, steal, total uint64, err error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var n [8]uint64
	for i := range n {
		if n[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	for _, x := range n {
		total += x
	}
	idle := n[3] + n[4]
	return total - idle, n[7], total, nil
}

func (realProc) LoadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/loadavg: empty")
	}
	return strconv.ParseFloat(f[0], 64)
}

func (realProc) Process(pid int) (ticks, rss uint64, err error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command (which may contain spaces) in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s/stat: no command field", dir)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is state (field 3); utime and stime are fields 14 and 15.
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("%s/stat: short", dir)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	pages, err3 := strconv.ParseUint(f[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("%s/stat: bad numbers", dir)
	}
	return ut + st, pages * uint64(os.Getpagesize()), nil
}
