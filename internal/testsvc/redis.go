package testsvc

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionbench/sessionbench/loadgen/redisenv"
)

// redisHowTo is the hint shown when redis-server is missing.
const redisHowTo = redisenv.RedisServerHowTo

// StartRedis starts a real redis-server on a free loopback port (never
// 6379) with persistence off, waits until it answers PING and stops it
// when the test ends. Extra args are appended to the command line (for
// example "--maxmemory", "10mb"). It returns "127.0.0.1:PORT". It is
// loadgen's own launcher (redisenv.StartServer): one launcher for tests
// and for runs.
//
// A missing binary fails the test in CI and skips it elsewhere.
func StartRedis(tb testing.TB, args ...string) string {
	tb.Helper()
	srv, err := redisenv.StartServer(context.Background(), redisenv.ServerOptions{Args: args, Dir: tb.TempDir()})
	if err != nil {
		if NotInstalled(err) {
			Unavailable(tb, "redis-server", err, redisHowTo)
			return ""
		}
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(srv.Stop)
	return srv.Addr
}

// StartCluster starts a three-primary Redis Cluster (no replicas) on
// free loopback ports, waits until every node reports cluster_state:ok
// and stops it when the test ends. It returns the primaries' addresses,
// suitable for redis.ClusterOptions.Addrs. It is loadgen's cluster3
// profile (redisenv), formed without redis-cli.
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	env, err := redisenv.Open(context.Background(), redisenv.Spec{Mode: redisenv.ModeLocal, Profile: redisenv.ProfileCluster3})
	if err != nil {
		if NotInstalled(err) {
			Unavailable(tb, "redis-server", err, redisHowTo)
			return nil
		}
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(func() {
		if err := env.Close(); err != nil {
			tb.Logf("stop redis cluster: %v", err)
		}
	})
	return env.Facts().Primaries
}

// StartMiniredis starts an in-process miniredis (closed when the test
// ends). It is for unit tests that need Redis semantics but not a real
// server; miniredis.FastForward moves its clock.
func StartMiniredis(tb testing.TB) *miniredis.Miniredis {
	tb.Helper()
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		tb.Fatalf("miniredis: %v", err)
	}
	tb.Cleanup(func() { StopMiniredis(mr) })
	return mr
}

// StopMiniredis closes mr without a data race inside miniredis (see
// redisenv.CloseMiniredis). Use it instead of mr.Close in tests that send
// INFO; a stopped miniredis can still Restart.
func StopMiniredis(mr *miniredis.Miniredis) { redisenv.CloseMiniredis(mr) }
