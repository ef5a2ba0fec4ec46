// Package redisinfo reads Redis INFO at a low rate and exports what a
// session store must watch as Prometheus gauges: memory used against
// maxmemory (sessions are lost or refused when it is full), the eviction
// policy (anything but noeviction lets Redis drop sessions and per-user
// indexes silently), evicted keys, and whether Redis answers at all.
//
// It is sessiond's small alternative to running redis_exporter: it reads
// the Redis sessiond already uses, with the same address, TLS and
// password, and costs one INFO (about 5 KB) per interval per instance.
// Memorystore blocks CONFIG but allows INFO, which is all it needs.
package redisinfo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	// DefaultInterval is how often Run reads INFO: often enough for
	// alerts with minute-long windows, rare enough to cost nothing.
	DefaultInterval = 15 * time.Second
	// DefaultTimeout bounds one INFO round trip (per node).
	DefaultTimeout = 2 * time.Second
)

// Info is what the poller uses from one node's INFO reply.
type Info struct {
	UsedMemory      int64  // used_memory, bytes
	MaxMemory       int64  // maxmemory, bytes; 0 means no limit
	MaxMemoryPolicy string // maxmemory_policy, e.g. "noeviction"
	EvictedKeys     int64  // evicted_keys since the server started
	HasMemory       bool   // the reply had used_memory, maxmemory and maxmemory_policy
	HasEvicted      bool   // the reply had evicted_keys
}

// Parse reads the fields of Info from an INFO reply ("key:value" lines
// in "# Section" blocks). Missing fields leave HasMemory or HasEvicted
// false (miniredis, for one, has no memory section); a field that is
// present but not a number is an error naming it.
func Parse(reply string) (Info, error) {
	var in Info
	var used, max, policy bool
	for _, line := range strings.Split(reply, "\n") {
		line = strings.TrimRight(line, "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		var err error
		switch k {
		case "used_memory":
			in.UsedMemory, err = strconv.ParseInt(v, 10, 64)
			used = true
		case "maxmemory":
			in.MaxMemory, err = strconv.ParseInt(v, 10, 64)
			max = true
		case "maxmemory_policy":
			in.MaxMemoryPolicy, policy = v, true
		case "evicted_keys":
			in.EvictedKeys, err = strconv.ParseInt(v, 10, 64)
			in.HasEvicted = true
		}
		if err != nil {
			return Info{}, fmt.Errorf("redisinfo: INFO field %s: %w", k, err)
		}
	}
	in.HasMemory = used && max && policy
	return in, nil
}

// Options configure a Poller. Zero values take the defaults.
type Options struct {
	// Interval between two reads in Run. Default DefaultInterval.
	Interval time.Duration
	// Timeout of one read. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives one line when Redis stops or starts answering
	// INFO, not one per failed read. Default: discard.
	Logger *slog.Logger
	// Explain, if set, may add a cause to a failed read's error before
	// it is logged (sessiond adds the last failed connection attempt,
	// which a "context deadline exceeded" does not name).
	Explain func(error) error
}

// Poller reads INFO from every node of a Redis client (each master of a
// cluster) and is a prometheus.Collector of the last reading. Safe for
// concurrent use.
type Poller struct {
	rdb      redis.UniversalClient
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	explain  func(error) error

	up, used, max, policy, evicted *prometheus.Desc

	mu      sync.Mutex
	polled  bool
	ok      bool
	nodes   map[string]Info
	noMem   bool // logged once: a node's INFO has no memory section
	lastErr string
}

// New returns a Poller of rdb (a *redis.Client or *redis.ClusterClient;
// any other UniversalClient is read through its Info method as a single
// node with an empty node label).
func New(rdb redis.UniversalClient, o Options) *Poller {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sessiond_redis_"+name, help, labels, nil)
	}
	return &Poller{
		rdb:      rdb,
		interval: o.Interval,
		timeout:  o.Timeout,
		log:      o.Logger,
		explain:  o.Explain,
		up:       d("up", "1 when every Redis node answered the last INFO read (every --redis-info-interval), else 0."),
		used:     d("used_memory_bytes", "Redis used_memory from INFO, per node.", "node"),
		max:      d("maxmemory_bytes", "Redis maxmemory from INFO, per node (0: no limit).", "node"),
		policy:   d("maxmemory_policy", "Always 1; the policy label is Redis maxmemory_policy from INFO (sessions need noeviction).", "node", "policy"),
		evicted:  d("evicted_keys_total", "Redis evicted_keys from INFO, per node (keys dropped under maxmemory).", "node"),
		nodes:    map[string]Info{},
	}
}

// Run reads INFO at once, then every interval, until ctx is done.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		_ = p.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads INFO once from every node and replaces the last reading.
// It returns the first error; nodes that answered are kept even then,
// and the up gauge reads 0.
func (p *Poller) Poll(ctx context.Context) error {
	nodes := map[string]Info{}
	var mu sync.Mutex
	read := func(ctx context.Context, node string, c interface {
		Info(context.Context, ...string) *redis.StringCmd
	}) error {
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		reply, err := c.Info(ctx).Result()
		if err != nil {
			return fmt.Errorf("redisinfo: INFO from %s: %w", node, err)
		}
		in, err := Parse(reply)
		if err != nil {
			return fmt.Errorf("redisinfo: INFO from %s: %w", node, err)
		}
		mu.Lock()
		nodes[node] = in
		mu.Unlock()
		return nil
	}
	var err error
	switch c := p.rdb.(type) {
	case *redis.Client:
		err = read(ctx, c.Options().Addr, c)
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return read(ctx, n.Options().Addr, n)
		})
		if err == nil && len(nodes) == 0 {
			err = errors.New("redisinfo: the cluster has no master")
		}
	default:
		err = read(ctx, "", c)
	}
	if err != nil && ctx.Err() != nil {
		// Stopped, not failed: a reading cut short by shutdown (or by a
		// start-up that ended on a configuration error) says nothing
		// about Redis, and is neither recorded nor logged.
		return err
	}
	p.record(nodes, err)
	return err
}

// record stores a reading and logs changes of state, not every failure.
func (p *Poller) record(nodes map[string]Info, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wasOK, first := p.ok, !p.polled
	p.polled, p.ok, p.nodes = true, err == nil, nodes
	switch {
	case err != nil && (wasOK || first):
		if p.explain != nil {
			err = p.explain(err)
		}
		p.lastErr = err.Error()
		p.log.Warn("redis INFO read failed; sessiond_redis_up is 0 until it answers", "err", err)
	case err == nil && !wasOK && !first:
		p.log.Info("redis INFO answers again; sessiond_redis_up is 1", "previous_err", p.lastErr)
	}
	if !p.noMem {
		for n, in := range nodes {
			if !in.HasMemory {
				p.noMem = true
				p.log.Info("redis INFO has no memory section (not a real Redis?); memory and policy gauges are not exported for it", "node", n)
				break
			}
		}
	}
}

// Describe implements prometheus.Collector.
func (p *Poller) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.up, p.used, p.max, p.policy, p.evicted} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the last reading, nothing
// before the first read.
func (p *Poller) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.polled {
		return
	}
	up := 0.0
	if p.ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(p.up, prometheus.GaugeValue, up)
	names := make([]string, 0, len(p.nodes))
	for n := range p.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		in := p.nodes[n]
		if in.HasMemory {
			ch <- prometheus.MustNewConstMetric(p.used, prometheus.GaugeValue, float64(in.UsedMemory), n)
			ch <- prometheus.MustNewConstMetric(p.max, prometheus.GaugeValue, float64(in.MaxMemory), n)
			ch <- prometheus.MustNewConstMetric(p.policy, prometheus.GaugeValue, 1, n, in.MaxMemoryPolicy)
		}
		if in.HasEvicted {
			ch <- prometheus.MustNewConstMetric(p.evicted, prometheus.CounterValue, float64(in.EvictedKeys), n)
		}
	}
}
