package redisenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DockerHowTo is how to get a Docker engine for --redis container.
const DockerHowTo = "install Docker and start its engine (e.g. apt-get install -y docker.io && dockerd &); " +
	"testcontainers-go finds it through DOCKER_HOST or /var/run/docker.sock"

// containerStartTimeout bounds one container's start (the image pull
// included for an explicit --redis container).
const containerStartTimeout = 3 * time.Minute

// containerProvider starts Redis in containers with testcontainers-go
// and its Redis module: the image of Spec.Image (an official Redis 7 by
// default; any image whose entrypoint runs redis-server with the given
// arguments). A cluster runs with host networking so that the addresses
// the nodes announce are the loopback addresses clients reach; a
// replica joins its primary over a network made for the run.
type containerProvider struct{}

func (containerProvider) Start(ctx context.Context, s Spec) (Env, error) {
	p, _ := LookupProfile(s.Profile)
	// testcontainers' progress lines ("🐳 Creating container …") are not
	// loadgen's output; its failures come back as errors.
	logger := tclog.NewNoopLogger()
	if err := dockerAnswers(ctx, logger); err != nil {
		return nil, err
	}
	e := &env{facts: Facts{Mode: ModeContainer, Profile: p.Name, Image: s.Image}}
	st := &containerStarter{image: s.Image, logger: logger}
	if p.TLS {
		dir, err := tempDir(e)
		if err == nil {
			st.tls, err = makeTLS(dir)
		}
		if err != nil {
			_ = e.Close()
			return nil, err
		}
	}
	if p.Replicas > 0 && p.Primaries <= 1 {
		nw, err := network.New(ctx, network.WithLabels(map[string]string{"org.sessionbench": "redis"}))
		if err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("container network: %w", err)
		}
		e.onClose(func() error { return nw.Remove(context.Background()) })
		st.network = nw
	}
	if err := build(ctx, st, p, s.MaxMemory, e); err != nil {
		return nil, fmt.Errorf("redis container (%s, image %s): %w", p.Name, s.Image, err)
	}
	return e, nil
}

// DockerAnswers reports whether a Docker engine answers (nil), or an
// error wrapping ErrUnavailable with the fix.
func DockerAnswers(ctx context.Context) error { return dockerAnswers(ctx, tclog.NewNoopLogger()) }

// dockerAnswers checks that a Docker engine answers, wrapping
// ErrUnavailable with the fix when it does not.
func dockerAnswers(ctx context.Context, logger tclog.Logger) error {
	prov, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("docker %w: %v; %s", ErrUnavailable, err, DockerHowTo)
	}
	defer prov.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := prov.Client().Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("docker engine %w: %v; %s", ErrUnavailable, err, DockerHowTo)
	}
	return nil
}

// containerStarter starts each node as a container.
type containerStarter struct {
	image   string
	logger  tclog.Logger
	tls     *tlsFiles
	network *testcontainers.DockerNetwork
}

func (st *containerStarter) tlsFiles() *tlsFiles { return st.tls }

const redisPort = "6379/tcp"

func (st *containerStarter) start(ctx context.Context, ns nodeSpec) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, containerStartTimeout)
	defer cancel()
	if ns.Cluster {
		return st.startHostNetwork(ctx, ns)
	}
	args := append([]string{}, ns.Args...)
	opts := []testcontainers.ContainerCustomizer{testcontainers.WithLogger(st.logger)}
	alias := "primary"
	if ns.Primary != nil {
		alias = "replica-" + strconv.Itoa(ns.Index)
		host, port, _ := net.SplitHostPort(ns.Primary.Internal)
		args = append(args, "--replicaof", host, port)
	}
	if st.network != nil {
		opts = append(opts, network.WithNetwork([]string{alias}, st.network))
	}
	if st.tls != nil {
		args = append(args, "--port", "0", "--tls-port", "6379", "--tls-cert-file", "/tls/server.pem",
			"--tls-key-file", "/tls/server-key.pem", "--tls-ca-cert-file", "/tls/ca.pem", "--tls-auth-clients", "no",
			"--tls-replication", "yes")
		files, err := st.tlsContainerFiles()
		if err != nil {
			return nil, err
		}
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	opts = append(opts, testcontainers.WithCmdArgs(args...))
	c, err := tcredis.Run(ctx, st.image, opts...)
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("start container: %w", err)
	}
	ep, err := c.PortEndpoint(ctx, redisPort, "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("container port: %w", err)
	}
	n := &node{Addr: ep, Internal: ep, stop: func() error { return testcontainers.TerminateContainer(c) }}
	if st.network != nil {
		n.Internal = alias + ":6379"
	}
	return n, nil
}

// startHostNetwork runs a cluster node in the host's network namespace
// on a free loopback port, so CLUSTER SLOTS and MOVED replies name
// addresses this machine reaches (with port mapping they would name the
// container's own). Linux only: Docker Desktop has no host networking.
func (st *containerStarter) startHostNetwork(ctx context.Context, ns nodeSpec) (*node, error) {
	port, err := freePort(true)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}, ns.Args...)
	c, err := testcontainers.Run(ctx, st.image,
		testcontainers.WithLogger(st.logger),
		testcontainers.WithCmdArgs(args...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
		testcontainers.WithWaitStrategy(wait.ForLog("Ready to accept connections").WithStartupTimeout(30*time.Second)),
	)
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("start cluster node container: %w", err)
	}
	return &node{Addr: addr, Internal: addr, stop: func() error { return testcontainers.TerminateContainer(c) }}, nil
}

// tlsContainerFiles copies the run's TLS material into a container,
// readable by the image's redis user.
func (st *containerStarter) tlsContainerFiles() ([]testcontainers.ContainerFile, error) {
	var files []testcontainers.ContainerFile
	for src, dst := range map[string]string{st.tls.CA: "/tls/ca.pem", st.tls.Cert: "/tls/server.pem", st.tls.Key: "/tls/server-key.pem"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("tls file: %w", err)
		}
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader(b), ContainerFilePath: dst, FileMode: 0o644})
	}
	return files, nil
}
