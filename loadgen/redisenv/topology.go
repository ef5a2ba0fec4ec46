package redisenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// formTimeout bounds forming a cluster and a replica's initial sync.
const formTimeout = 60 * time.Second

// node is one started redis-server, however it was started.
type node struct {
	// Addr is host:port as clients on this machine reach it.
	Addr string
	// Internal is host:port as the other nodes reach it (a container
	// network alias, or Addr).
	Internal string
	// PID is the process on this machine (0 when in a container).
	PID  int
	stop func() error
}

// nodeSpec is what to start.
type nodeSpec struct {
	Index   int
	Args    []string
	Cluster bool
	// Primary is set for a replica: the node it replicates.
	Primary *node
}

// starter starts nodes one way (processes, containers).
type starter interface {
	start(ctx context.Context, ns nodeSpec) (*node, error)
	// tls is the run's TLS material when the profile asks for it.
	tlsFiles() *tlsFiles
}

// env is the Env of every provider that starts or reaches a real Redis.
type env struct {
	client  redis.UniversalClient
	facts   Facts
	conn    Conn
	prefix  string
	nodes   []*redis.Client // one per primary, for INFO
	pids    []int
	closers []func() error // run in reverse order by Close
	noInfo  bool

	closeOnce sync.Once
	closeErr  error
}

func (e *env) Client() redis.UniversalClient { return e.client }
func (e *env) Facts() Facts                  { return e.facts }
func (e *env) Conn() Conn                    { return e.conn }
func (e *env) KeyPrefix() string             { return e.prefix }
func (e *env) PIDs() []int                   { return append([]int(nil), e.pids...) }

func (e *env) Info(ctx context.Context, section string) ([]map[string]string, error) {
	if e.noInfo {
		return nil, ErrNoInfo
	}
	return infoAll(ctx, e.nodes, section)
}

func (e *env) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		for i := len(e.closers) - 1; i >= 0; i-- {
			if err := e.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// onClose registers f to run (in reverse order of registration) by Close.
func (e *env) onClose(f func() error) { e.closers = append(e.closers, f) }

// build starts the topology of profile p with st: its primaries (a
// cluster when more than one), their replicas, then the clients and the
// facts. On error everything started is stopped.
func build(ctx context.Context, st starter, p Profile, maxMemory string, e *env) (err error) {
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	args := p.serverArgs(maxMemory)
	cluster := p.Primaries > 1
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
	}
	var primaries []*node
	for i := 0; i < max(p.Primaries, 1); i++ {
		n, err := st.start(ctx, nodeSpec{Index: i, Args: args, Cluster: cluster})
		if err != nil {
			return err
		}
		e.onClose(n.stop)
		primaries = append(primaries, n)
		if n.PID > 0 {
			e.pids = append(e.pids, n.PID)
		}
	}
	var replicas []*node
	for _, prim := range primaries {
		for r := 0; r < p.Replicas; r++ {
			n, err := st.start(ctx, nodeSpec{Index: len(primaries) + len(replicas), Args: args, Cluster: cluster, Primary: prim})
			if err != nil {
				return err
			}
			e.onClose(n.stop)
			replicas = append(replicas, n)
			if n.PID > 0 {
				e.pids = append(e.pids, n.PID)
			}
		}
	}

	var tlsConf *tls.Config
	scheme := "redis"
	if tf := st.tlsFiles(); tf != nil {
		tlsConf = tf.clientConfig("127.0.0.1")
		scheme = "rediss"
		e.conn.CAFile = tf.CA
		e.facts.TLS = true
	}
	for _, n := range primaries {
		c := redis.NewClient(&redis.Options{Addr: n.Addr, TLSConfig: tlsConf, ContextTimeoutEnabled: true})
		e.nodes = append(e.nodes, c)
		e.onClose(c.Close)
	}
	if cluster {
		if err := formCluster(ctx, e.nodes, formTimeout); err != nil {
			return err
		}
		var addrs []string
		for _, n := range primaries {
			addrs = append(addrs, n.Addr)
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, TLSConfig: tlsConf, ContextTimeoutEnabled: true})
		e.onClose(cc.Close)
		e.client = cc
		e.facts.Cluster, e.facts.Primaries = true, addrs
		e.conn.ClusterSeeds = addrs
	} else {
		sc := redis.NewClient(&redis.Options{Addr: primaries[0].Addr, TLSConfig: tlsConf, ContextTimeoutEnabled: true})
		e.onClose(sc.Close)
		e.client = sc
	}
	for _, r := range replicas {
		rc := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: tlsConf, ContextTimeoutEnabled: true})
		err := waitReplica(ctx, rc, formTimeout)
		rc.Close()
		if err != nil {
			return err
		}
	}
	e.facts.Replicas = len(replicas)
	e.facts.Addr = primaries[0].Addr
	e.conn.URL = fmt.Sprintf("%s://%s/0", scheme, primaries[0].Addr)
	if cluster {
		e.conn.URL = fmt.Sprintf("%s://%s", scheme, primaries[0].Addr)
	}
	if err := describe(ctx, e.nodes[0], &e.facts); err != nil {
		return err
	}
	return nil
}

// tempDir makes a directory for one Env's files, removed by Close.
func tempDir(e *env) (string, error) {
	dir, err := os.MkdirTemp("", "sessionbench-redis-")
	if err != nil {
		return "", fmt.Errorf("redis temp dir: %w", err)
	}
	e.onClose(func() error { return os.RemoveAll(dir) })
	return dir, nil
}
