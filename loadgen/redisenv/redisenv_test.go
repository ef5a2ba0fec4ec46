package redisenv_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/redisenv"
)

// open starts spec or reports the service unavailable (fail in CI, skip
// elsewhere) when the provider cannot run on this machine.
func open(t *testing.T, spec redisenv.Spec) redisenv.Env {
	t.Helper()
	if spec.Mode == redisenv.ModeContainer {
		if err := redisenv.DockerAnswers(context.Background()); err != nil {
			testsvc.Unavailable(t, "Docker engine", err, redisenv.DockerHowTo)
		}
		if err := redisenv.ImagePresent(context.Background(), redisenv.ImageOf(spec.Image)); err != nil {
			testsvc.Unavailable(t, "Redis image "+redisenv.ImageOf(spec.Image), fmt.Errorf("%w: %v", redisenv.ErrUnavailable, err),
				"docker pull redis:7, or SESSIONBENCH_REDIS_IMAGE=$(.ci/redis-image)")
		}
	}
	e, err := redisenv.Open(context.Background(), spec)
	if err != nil {
		if testsvc.NotInstalled(err) {
			how := redisenv.RedisServerHowTo
			if spec.Mode == redisenv.ModeContainer {
				how = redisenv.DockerHowTo
			}
			testsvc.Unavailable(t, "redis ("+spec.Mode+")", err, how)
		}
		t.Fatalf("Open(%+v): %v", spec, err)
	}
	return e
}

// TestLocalProfiles: every profile starts for real as redis-server
// processes, has its property, and leaves no process behind.
func TestLocalProfiles(t *testing.T) {
	for _, p := range redisenv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			e := open(t, redisenv.Spec{Mode: redisenv.ModeLocal, Profile: p.Name})
			pids := e.PIDs()
			if len(pids) == 0 {
				t.Error("local mode reports no process")
			}
			checkProfile(t, e, p)
			if err := e.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for _, pid := range pids {
				if syscall.Kill(pid, 0) == nil {
					t.Errorf("redis-server pid %d still running after Close", pid)
				}
			}
			if ca := e.Conn().CAFile; ca != "" {
				if _, err := os.Stat(ca); !os.IsNotExist(err) {
					t.Errorf("run CA %s left behind (%v)", ca, err)
				}
			}
		})
	}
}

// TestContainerProfiles: the same profiles in containers through
// testcontainers-go (image from SESSIONBENCH_REDIS_IMAGE, else redis:7);
// every container is gone after Close.
func TestContainerProfiles(t *testing.T) {
	for _, p := range redisenv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			e := open(t, redisenv.Spec{Mode: redisenv.ModeContainer, Profile: p.Name})
			f := e.Facts()
			if f.Image == "" || f.Mode != redisenv.ModeContainer {
				t.Errorf("facts %+v", f)
			}
			checkProfile(t, e, p)
			addr := f.Addr
			if err := e.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
			defer c.Close()
			if err := c.Ping(context.Background()).Err(); err == nil {
				t.Errorf("%s still answers after Close", addr)
			}
		})
	}
}

// checkProfile asserts the property the profile promises, on the server
// itself (not only in Facts).
func checkProfile(t *testing.T, e redisenv.Env, p redisenv.Profile) {
	t.Helper()
	ctx := context.Background()
	c := e.Client()
	f := e.Facts()
	if f.Profile != p.Name || f.Version == "" || f.Addr == "" {
		t.Errorf("facts %+v", f)
	}
	if err := c.Set(ctx, "redisenv-test", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	infos, err := e.Info(ctx, "everything")
	if err != nil || len(infos) == 0 {
		t.Fatalf("Info: %v", err)
	}
	primary := redis.NewClient(&redis.Options{Addr: f.Addr, TLSConfig: tlsFor(t, e)})
	defer primary.Close()
	switch p.Name {
	case redisenv.ProfileBasic:
		if infos[0]["aof_enabled"] != "0" || f.Persistence != "none" || f.Replicas != 0 {
			t.Errorf("basic: aof_enabled=%s persistence=%q replicas=%d", infos[0]["aof_enabled"], f.Persistence, f.Replicas)
		}
	case redisenv.ProfileStandard:
		// A write on the primary reaches the replica (WAIT counts acks).
		if err := primary.Set(ctx, "replicated", "yes", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		n, err := primary.Wait(ctx, 1, 5*time.Second).Result()
		if err != nil || n != 1 || infos[0]["connected_slaves"] != "1" || f.Replicas != 1 {
			t.Errorf("standard: WAIT acked by %d (%v), connected_slaves=%s, facts replicas %d", n, err, infos[0]["connected_slaves"], f.Replicas)
		}
	case redisenv.ProfileAOF:
		before, _ := redisenv.InfoUint(infos[0], "aof_current_size")
		for i := 0; i < 500; i++ {
			if err := c.Set(ctx, fmt.Sprintf("aof-%d", i), strings.Repeat("x", 100), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		// With appendfsync everysec Redis may postpone the write(2) while
		// a background fsync runs (a busy disk): wait for the file to grow.
		var m []map[string]string
		var after uint64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if m, err = e.Info(ctx, "persistence"); err != nil {
				t.Fatal(err)
			}
			if after, _ = redisenv.InfoUint(m[0], "aof_current_size"); after > before || time.Now().After(deadline) {
				break
			}
		}
		if m[0]["aof_enabled"] != "1" || after <= before || f.Persistence != "aof" {
			t.Errorf("aof: enabled=%s size %d → %d, persistence %q", m[0]["aof_enabled"], before, after, f.Persistence)
		}
		if pol, _ := primary.ConfigGet(ctx, "appendfsync").Result(); pol["appendfsync"] != "everysec" {
			t.Errorf("appendfsync %v", pol)
		}
	case redisenv.ProfileTLS:
		if !f.TLS || !strings.HasPrefix(e.Conn().URL, "rediss://") || e.Conn().CAFile == "" {
			t.Errorf("tls facts %+v conn %+v", f, e.Conn())
		}
		// A plain connection gets no answer; a TLS client that does not
		// trust the run's CA is refused.
		plain := redis.NewClient(&redis.Options{Addr: f.Addr, MaxRetries: -1, ReadTimeout: time.Second, DialTimeout: time.Second})
		defer plain.Close()
		if err := plain.Ping(ctx).Err(); err == nil {
			t.Error("plain-text PING answered on the TLS port")
		}
		untrusting := redis.NewClient(&redis.Options{Addr: f.Addr, MaxRetries: -1, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}})
		defer untrusting.Close()
		if err := untrusting.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("TLS client without the run's CA: %v; want a certificate error", err)
		}
	case redisenv.ProfileCluster3:
		if !f.Cluster || len(f.Primaries) != 3 || len(infos) != 3 || len(e.Conn().ClusterSeeds) != 3 {
			t.Fatalf("cluster facts %+v, %d INFO replies", f, len(infos))
		}
		ci, err := primary.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(ci, "cluster_state:ok") || !strings.Contains(ci, "cluster_slots_assigned:16384") ||
			!strings.Contains(ci, "cluster_known_nodes:3") {
			t.Errorf("CLUSTER INFO: %q %v", ci, err)
		}
		// Keys in every slot range are served through the cluster client.
		for i := 0; i < 30; i++ {
			if err := c.Set(ctx, fmt.Sprintf("spread-%d", i), i, time.Minute).Err(); err != nil {
				t.Fatalf("cluster SET: %v", err)
			}
		}
		for i, m := range infos {
			if m["cluster_enabled"] != "1" {
				t.Errorf("primary %d: cluster_enabled=%s", i, m["cluster_enabled"])
			}
		}
	case redisenv.ProfileMaxmemNoeviction, redisenv.ProfileMaxmemLRU:
		cfg, err := primary.ConfigGet(ctx, "maxmemory*").Result()
		if err != nil || cfg["maxmemory-policy"] != p.Policy || cfg["maxmemory"] != "33554432" {
			t.Errorf("%s: config %v %v", p.Name, cfg, err)
		}
		if f.MaxMemoryPolicy != p.Policy || f.MaxMemory != 32<<20 {
			t.Errorf("facts policy %q maxmemory %d", f.MaxMemoryPolicy, f.MaxMemory)
		}
		if p.Policy == "noeviction" {
			// Filling it past maxmemory makes writes fail with OOM.
			var oom error
			val := strings.Repeat("x", 64<<10)
			for i := 0; i < 1000 && oom == nil; i++ {
				oom = c.Set(ctx, fmt.Sprintf("fill-%d", i), val, 0).Err()
			}
			if oom == nil || !strings.Contains(oom.Error(), "OOM") {
				t.Errorf("64 MB into a 32 MB noeviction Redis: %v; want OOM", oom)
			}
		}
	}
}

// tlsFor is a TLS config trusting the Env's run CA (nil without TLS).
func tlsFor(t *testing.T, e redisenv.Env) *tls.Config {
	t.Helper()
	if e.Conn().CAFile == "" {
		return nil
	}
	// The Env's own client already trusts it; take its config.
	if c, ok := e.Client().(*redis.Client); ok {
		return c.Options().TLSConfig
	}
	if c, ok := e.Client().(*redis.ClusterClient); ok {
		return c.Options().TLSConfig
	}
	return nil
}

// TestURLModeTouchesOnlyItsKeys: a Redis with data of its own. The run's
// keys live under a run-specific prefix and are removed at Close; every
// pre-existing key is byte-for-byte intact with its TTL, including keys
// that share the sessiond prefix "sb:". With KeepKeys the run's keys stay.
func TestURLModeTouchesOnlyItsKeys(t *testing.T) {
	ctx := context.Background()
	addr := testsvc.StartRedis(t)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	pre := map[string]func() error{
		"app:user:1":      func() error { return admin.Set(ctx, "app:user:1", "alice", 0).Err() },
		"sb:s:production": func() error { return admin.HSet(ctx, "sb:s:production", "f", "v").Err() },
		"sb:u:someone":    func() error { return admin.ZAdd(ctx, "sb:u:someone", redis.Z{Score: 1, Member: "m"}).Err() },
		"sb:run-":         func() error { return admin.Set(ctx, "sb:run-", "looks like a prefix", time.Hour).Err() },
	}
	dumps := map[string]string{}
	for k, mk := range pre {
		if err := mk(); err != nil {
			t.Fatal(err)
		}
		dumps[k] = admin.Dump(ctx, k).Val()
	}
	for _, keep := range []bool{false, true} {
		e := open(t, redisenv.Spec{Mode: "redis://" + addr + "/0", KeepKeys: keep})
		p := e.KeyPrefix()
		if !strings.HasPrefix(p, redisenv.RunKeyPrefixBase) || len(p) != len(redisenv.RunKeyPrefixBase)+9 || e.Facts().KeyPrefix != p {
			t.Fatalf("run prefix %q, facts %q", p, e.Facts().KeyPrefix)
		}
		for i := 0; i < 2500; i++ { // more than one SCAN batch
			if err := e.Client().Set(ctx, fmt.Sprintf("%ss:%d", p, i), i, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		left, _ := admin.Keys(ctx, p+"*").Result()
		if keep && len(left) != 2500 || !keep && len(left) != 0 {
			t.Errorf("keep=%v: %d of the run's 2500 keys left", keep, len(left))
		}
		for k, d := range dumps {
			if got := admin.Dump(ctx, k).Val(); got != d {
				t.Errorf("keep=%v: pre-existing key %s changed", keep, k)
			}
		}
		if ttl := admin.TTL(ctx, "sb:run-").Val(); ttl <= 0 {
			t.Errorf("pre-existing key lost its TTL: %v", ttl)
		}
	}
}

// TestURLModeWrongPassword: a refused password is a configuration error,
// not a transient failure.
func TestURLModeWrongPassword(t *testing.T) {
	addr := testsvc.StartRedis(t, "--requirepass", "right")
	_, err := redisenv.Open(context.Background(), redisenv.Spec{Mode: "redis://:wrong@" + addr + "/0"})
	var ce *redisenv.ConfigError
	if !errors.As(err, &ce) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("err = %v; want a ConfigError that does not print the password", err)
	}
}

// TestURLModeSettingsRedisRefuses: a database Redis does not have and
// --redis-cluster against a single Redis are configuration errors (the
// CLI exits 2) naming the fix, not outages.
func TestURLModeSettingsRedisRefuses(t *testing.T) {
	addr := testsvc.StartRedis(t)
	for _, c := range []struct {
		spec redisenv.Spec
		want string
	}{
		{redisenv.Spec{Mode: "redis://" + addr + "/99"}, "below its `databases` setting"},
		{redisenv.Spec{Mode: "redis://" + addr, Cluster: true}, "drop --redis-cluster"},
	} {
		_, err := redisenv.Open(context.Background(), c.spec)
		var ce *redisenv.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v; want a ConfigError saying %q", c.spec, err, c.want)
		}
	}
}

// TestURLModeCluster: --redis-cluster with seeds reaches every primary
// for INFO and removes the run's keys from all of them.
func TestURLModeCluster(t *testing.T) {
	addrs := testsvc.StartCluster(t)
	ctx := context.Background()
	e := open(t, redisenv.Spec{Mode: "redis://" + addrs[0], Cluster: true, ClusterSeeds: addrs})
	if !e.Facts().Cluster || len(e.Facts().Primaries) != 3 {
		t.Fatalf("facts %+v", e.Facts())
	}
	infos, err := e.Info(ctx, "memory")
	if err != nil || len(infos) != 3 {
		t.Fatalf("Info on a cluster: %d replies, %v", len(infos), err)
	}
	for i := 0; i < 300; i++ {
		if err := e.Client().Set(ctx, fmt.Sprintf("%ss:%d", e.KeyPrefix(), i), i, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	var left atomic.Int64 // ForEachMaster calls in parallel
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, _ := c.Keys(ctx, e.KeyPrefix()+"*").Result()
		left.Add(int64(len(keys)))
		return nil
	})
	if n := left.Load(); n != 0 {
		t.Errorf("%d keys left on the cluster", n)
	}
}

// TestEmbeddedIsBasicOnly: miniredis cannot start a tier.
func TestEmbeddedIsBasicOnly(t *testing.T) {
	e := open(t, redisenv.Spec{Mode: redisenv.ModeEmbedded})
	defer e.Close()
	if f := e.Facts(); f.Mode != redisenv.ModeEmbedded || f.NotRedis == "" || !strings.HasPrefix(f.Version, "miniredis ") {
		t.Errorf("facts %+v", f)
	}
	if _, err := e.Info(context.Background(), "memory"); !errors.Is(err, redisenv.ErrNoInfo) {
		t.Errorf("Info: %v, want ErrNoInfo", err)
	}
	_, err := redisenv.Open(context.Background(), redisenv.Spec{Mode: redisenv.ModeEmbedded, Profile: redisenv.ProfileAOF})
	var ce *redisenv.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("embedded aof: %v; want a ConfigError", err)
	}
}

// TestSpecErrors: bad combinations are configuration errors naming the
// flag and the fix.
func TestSpecErrors(t *testing.T) {
	for _, c := range []struct {
		spec redisenv.Spec
		want string
	}{
		{redisenv.Spec{Mode: "memcached"}, "--redis"},
		{redisenv.Spec{Mode: redisenv.ModeLocal, Profile: "gold"}, "--redis-profile"},
		{redisenv.Spec{Mode: "redis://127.0.0.1:1/0", Profile: redisenv.ProfileAOF}, "--label"},
		{redisenv.Spec{Mode: redisenv.ModeLocal, CAFile: "ca.pem"}, "--redis-ca-file"},
		{redisenv.Spec{Mode: redisenv.ModeLocal, KeepKeys: true}, "--keep-keys"},
		{redisenv.Spec{Mode: redisenv.ModeLocal, Profile: redisenv.ProfileMaxmemLRU, MaxMemory: "lots"}, "--redis-maxmemory"},
	} {
		_, err := redisenv.Open(context.Background(), c.spec)
		var ce *redisenv.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want a ConfigError naming %s", c.spec, err, c.want)
		}
	}
}
