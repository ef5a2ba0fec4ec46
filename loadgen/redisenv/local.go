package redisenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// localProvider runs redis-server processes from PATH on free loopback
// ports in a temporary directory, stopped and removed by Close.
type localProvider struct{}

func (localProvider) Start(ctx context.Context, s Spec) (Env, error) {
	p, _ := LookupProfile(s.Profile)
	if _, err := FindRedisServer(); err != nil {
		return nil, err
	}
	e := &env{facts: Facts{Mode: ModeLocal, Profile: p.Name}}
	dir, err := tempDir(e)
	if err != nil {
		return nil, err
	}
	st := &processStarter{dir: dir}
	if p.TLS {
		if st.tls, err = makeTLS(dir); err != nil {
			_ = e.Close()
			return nil, err
		}
	}
	if err := build(ctx, st, p, s.MaxMemory, e); err != nil {
		return nil, fmt.Errorf("local redis (%s): %w", p.Name, err)
	}
	return e, nil
}

// processStarter starts each node as a redis-server process.
type processStarter struct {
	dir string
	tls *tlsFiles
}

func (st *processStarter) tlsFiles() *tlsFiles { return st.tls }

func (st *processStarter) start(ctx context.Context, ns nodeSpec) (*node, error) {
	args := ns.Args
	if ns.Primary != nil {
		host, port, err := net.SplitHostPort(ns.Primary.Internal)
		if err != nil {
			return nil, err
		}
		args = append(append([]string{}, args...), "--replicaof", host, port)
	}
	srv, err := StartServer(ctx, ServerOptions{
		Args: args, Dir: filepath.Join(st.dir, fmt.Sprintf("node-%d", ns.Index)), TLS: st.tls, Bus: ns.Cluster,
	})
	if err != nil {
		return nil, err
	}
	return &node{Addr: srv.Addr, Internal: srv.Addr, PID: srv.PID(), stop: func() error { srv.Stop(); return nil }}, nil
}
