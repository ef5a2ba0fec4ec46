// Package sampler puts the memory of the Redis, of the server and of the
// generator itself on one timeline beside the load: an engine.Observer
// that, every second and at each phase change, reads Redis INFO, the
// server's RSS, Go heap and goroutines, loadgen's own RSS and CPU, the
// host's load (what else competed for the cores), and the generator's
// live sessions and per-operation rates, and writes one row of
// timeline.csv. Analyze turns the rows into the summary's memory verdict.
package sampler

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/recorder"
	"github.com/sessionbench/sessionbench/loadgen/results"
)

// DefaultSampleTimeout bounds one sample's reads (INFO, a /metrics
// scrape): a slow source leaves its cells empty instead of delaying the
// next row.
const DefaultSampleTimeout = 500 * time.Millisecond

// queueLen is how many observations may wait for the sampler goroutine;
// when it is behind by more, observations are skipped (and counted).
const queueLen = 64

// RedisInfo reads INFO from every primary (redisenv.Env does).
type RedisInfo interface {
	Info(ctx context.Context, section string) ([]map[string]string, error)
}

// Config says what to sample. Every source is optional: what is not
// known stays empty in the timeline.
type Config struct {
	// Out receives timeline.csv; nil keeps the rows in memory only.
	Out io.Writer
	// Redis is the Redis under test.
	Redis RedisInfo
	// ServerPID is a server process on this machine (a sessiond loadgen
	// started): its RSS and CPU come from /proc.
	ServerPID int
	// ServerMetricsURL is the server's Prometheus endpoint, for its Go
	// heap and goroutines (and RSS when there is no ServerPID).
	ServerMetricsURL string
	// RedisPIDs are Redis processes on this machine, counted apart from
	// "other" CPU.
	RedisPIDs []int
	// Proc is the /proc reader; default the real /proc.
	Proc Proc
	// HTTP scrapes ServerMetricsURL; default a client with
	// SampleTimeout.
	HTTP *http.Client
	// SampleTimeout: default DefaultSampleTimeout.
	SampleTimeout time.Duration
}

// Sampler is an engine.Observer that writes timeline rows. Start it,
// pass it to the engine, Close it after the run.
type Sampler struct {
	cfg  Config
	tw   *results.TimelineWriter
	ch   chan engine.Observation
	done chan struct{}

	mu      sync.Mutex
	rows    []results.TimelineRow
	err     error
	skipped int

	prev     *engine.Observation
	prevCPU  cpuSnapshot
	havePrev bool
}

var _ engine.Observer = (*Sampler)(nil)

// Start starts the sampler's goroutine.
func Start(cfg Config) *Sampler {
	if cfg.Proc == nil {
		cfg.Proc = realProc{}
	}
	if cfg.SampleTimeout <= 0 {
		cfg.SampleTimeout = DefaultSampleTimeout
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: cfg.SampleTimeout}
	}
	s := &Sampler{cfg: cfg, ch: make(chan engine.Observation, queueLen), done: make(chan struct{})}
	if cfg.Out != nil {
		s.tw = results.NewTimelineWriter(cfg.Out)
	}
	go s.loop()
	return s
}

// Observe implements engine.Observer: it queues the observation and
// returns at once.
func (s *Sampler) Observe(o engine.Observation) {
	select {
	case s.ch <- o:
	default:
		s.mu.Lock()
		s.skipped++
		s.mu.Unlock()
	}
}

func (s *Sampler) loop() {
	defer close(s.done)
	for o := range s.ch {
		row := s.sample(o)
		s.mu.Lock()
		s.rows = append(s.rows, row)
		if s.tw != nil && s.err == nil {
			s.err = s.tw.Write(row)
		}
		s.mu.Unlock()
	}
}

// Close waits for the queued observations and returns every row; the
// error is the first write error, or a note that observations were
// skipped because sampling was slower than the observations.
func (s *Sampler) Close() ([]results.TimelineRow, error) {
	close(s.ch)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	if err == nil && s.skipped > 0 {
		err = fmt.Errorf("sampler: %d observations skipped: sampling was slower than the observation interval", s.skipped)
	}
	return s.rows, err
}

// sample reads every source for o and builds its row.
func (s *Sampler) sample(o engine.Observation) results.TimelineRow {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SampleTimeout)
	defer cancel()
	row := results.NewTimelineRow()
	row.UnixMs = o.Time.UnixMilli()
	row.Phase = o.Phase
	if !o.MeasureStart.IsZero() {
		row.ElapsedS = o.Elapsed.Seconds()
	}
	v := &row.Values
	v[results.SessionsLive] = float64(o.Live)
	if s.havePrev {
		if dt := o.Time.Sub(s.prev.Time).Seconds(); dt > 0.05 {
			rate := func(ops ...recorder.Op) float64 {
				var n uint64
				for _, op := range ops {
					n += o.Done[op] - s.prev.Done[op]
				}
				return float64(n) / dt
			}
			v[results.CreatePerS] = rate(recorder.Create, recorder.BadToken)
			v[results.ValidatePerS] = rate(recorder.Validate, recorder.UnknownSession)
			v[results.DestroyPerS] = rate(recorder.Destroy)
			var e uint64
			for op := range o.Errors {
				e += o.Errors[op] - s.prev.Errors[op]
			}
			v[results.ErrorsPerS] = float64(e) / dt
		}
	}
	if s.cfg.Redis != nil {
		s.sampleRedis(ctx, v)
	}
	server := s.sampleServer(ctx, v)
	s.sampleCPU(v, server)
	prev := o
	s.prev, s.havePrev = &prev, true
	return row
}

// sampleRedis fills the Redis series: sums over cluster primaries for
// sizes and counters, the first primary's fragmentation ratio.
func (s *Sampler) sampleRedis(ctx context.Context, v *[results.NumSeries]float64) {
	infos, err := s.cfg.Redis.Info(ctx, "everything")
	if err != nil || len(infos) == 0 {
		return
	}
	sum := func(key string) float64 {
		total, any := 0.0, false
		for _, m := range infos {
			var f float64
			if _, err := fmt.Sscan(m[key], &f); err == nil {
				total, any = total+f, true
			}
		}
		if !any {
			return math.NaN()
		}
		return total
	}
	v[results.RedisUsedMemory] = sum("used_memory")
	v[results.RedisUsedMemoryRSS] = sum("used_memory_rss")
	data := v[results.RedisUsedMemory]
	for _, k := range []string{"mem_clients_normal", "mem_clients_slaves", "mem_replication_backlog", "mem_aof_buffer", "used_memory_scripts", "mem_cluster_links"} {
		if x := sum(k); !math.IsNaN(x) {
			data -= x
		}
	}
	v[results.RedisDataMemory] = data
	v[results.RedisExpiredKeys] = sum("expired_keys")
	v[results.RedisEvictedKeys] = sum("evicted_keys")
	v[results.RedisConnectedClients] = sum("connected_clients")
	v[results.RedisOpsPerSec] = sum("instantaneous_ops_per_sec")
	var f float64
	if _, err := fmt.Sscan(infos[0]["mem_fragmentation_ratio"], &f); err == nil {
		v[results.RedisFragmentation] = f
	}
	var keys, expires uint64
	for _, m := range infos {
		k, e := keyspace(m)
		keys += k
		expires += e
	}
	v[results.RedisKeys] = float64(keys)
	v[results.RedisKeysWithoutTTL] = float64(keys - min(expires, keys))
}
