package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// NewRegistry returns a Prometheus registry (never the global default one)
// holding the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metrics holds sessiond's series. Per-route children are resolved once so
// that observing a request is a map lookup, not a label hash.
type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	created    prometheus.Counter
	validated  prometheus.Counter
	destroyed  prometheus.Counter
	touches    prometheus.Counter
	uaMismatch prometheus.Counter
	refusedVec *prometheus.CounterVec
	rechecks   *prometheus.CounterVec
	evicting   prometheus.Gauge
	insecure   prometheus.Gauge
	handler    http.Handler

	mu       sync.RWMutex
	children map[routeStatus]prometheus.Counter
	latByRt  map[string]prometheus.Observer
}

type routeStatus struct {
	route  string
	status int
}

func newMetrics(reg *prometheus.Registry, pool func() *redis.PoolStats) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessiond_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_sessions_created_total", Help: "Sessions created.",
		}),
		validated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_sessions_validated_total", Help: "Successful session validations.",
		}),
		destroyed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_sessions_destroyed_total", Help: "Sessions ended through the API (logout, logout everywhere, per-device logout, rotation at login, the per-user session cap at login, user-agent enforcement, --recheck-user).",
		}),
		touches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_session_touch_writes_total", Help: "Validations that wrote a new idle expiry to Redis.",
		}),
		uaMismatch: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiond_user_agent_mismatch_total", Help: "Validations from another User-Agent than the session's creator.",
		}),
		refusedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_sessions_refused_total", Help: "Requests refused with a client error, by reason (the error code).",
		}, []string{"reason"}),
		rechecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_user_rechecks_total", Help: "Firebase Admin API user lookups for --recheck-user, by result (ok, disabled, deleted, error).",
		}, []string{"result"}),
		evicting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sessiond_allow_evicting_redis", Help: "1 when started with --allow-evicting-redis: logout everywhere may then be unconfirmed.",
		}),
		insecure: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sessiond_insecure_cookie", Help: "1 when the session cookie lacks Secure (--dev-insecure-cookie): development only.",
		}),
		children: make(map[routeStatus]prometheus.Counter),
		latByRt:  make(map[string]prometheus.Observer),
	}
	cs := []prometheus.Collector{m.requests, m.latency, m.created, m.validated, m.destroyed, m.touches, m.uaMismatch, m.refusedVec, m.rechecks, m.evicting, m.insecure}
	if pool != nil {
		cs = append(cs, newPoolCollector(pool))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: registering metrics: %w (give each Server its own Registry)", err)
		}
	}
	for _, r := range routeLabels() {
		m.latByRt[r] = m.latency.WithLabelValues(r)
	}
	m.precreateRefused()
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m, nil
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if o, ok := m.latByRt[route]; ok {
		o.Observe(d.Seconds())
	}
	k := routeStatus{route, status}
	m.mu.RLock()
	c, ok := m.children[k]
	m.mu.RUnlock()
	if !ok {
		c = m.requests.WithLabelValues(route, strconv.Itoa(status))
		m.mu.Lock()
		m.children[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}

func (m *metrics) refused(reason string) { m.refusedVec.WithLabelValues(reason).Inc() }

func (m *metrics) recheck(result string) { m.rechecks.WithLabelValues(result).Inc() }

// setConfig exports the settings that weaken a guarantee.
func (m *metrics) setConfig(allowEvicting, insecureCookie bool) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	m.evicting.Set(b(allowEvicting))
	m.insecure.Set(b(insecureCookie))
}

// poolCollector exports go-redis connection pool statistics at scrape time.
type poolCollector struct {
	stats                                func() *redis.PoolStats
	hits, misses, timeouts, stale, waits *prometheus.Desc
	total, idle, pending                 *prometheus.Desc
}

func newPoolCollector(stats func() *redis.PoolStats) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("sessiond_redis_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		stats:    stats,
		hits:     d("hits_total", "Times a free connection was found in the pool."),
		misses:   d("misses_total", "Times no free connection was found in the pool."),
		timeouts: d("timeouts_total", "Times waiting for a pool connection timed out."),
		stale:    d("stale_conns_total", "Stale connections removed from the pool."),
		waits:    d("waits_total", "Times a request waited for a pool connection."),
		total:    d("total_conns", "Connections in the pool."),
		idle:     d("idle_conns", "Idle connections in the pool."),
		pending:  d("pending_requests", "Requests waiting for a pool connection."),
	}
}

// Describe implements prometheus.Collector.
func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.hits, p.misses, p.timeouts, p.stale, p.waits, p.total, p.idle, p.pending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.stats()
	if s == nil {
		return
	}
	c := func(d *prometheus.Desc, v uint32) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g := func(d *prometheus.Desc, v uint32) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	c(p.hits, s.Hits)
	c(p.misses, s.Misses)
	c(p.timeouts, s.Timeouts)
	c(p.stale, s.StaleConns)
	c(p.waits, s.WaitCount)
	g(p.total, s.TotalConns)
	g(p.idle, s.IdleConns)
	g(p.pending, s.PendingRequests)
}
