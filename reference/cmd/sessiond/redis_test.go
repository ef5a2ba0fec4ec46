package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisPasswordFileOverridesURL(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb, err := newRedis(&redisConfig{URL: "redis://:old@127.0.0.1:6379/3", PasswordFile: pw, PoolSize: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	opt := rdb.(*redis.Client).Options()
	if opt.Password != "s3cret" || opt.DB != 3 || opt.PoolSize != 7 || !opt.ContextTimeoutEnabled {
		t.Fatalf("options: password %q db %d pool %d ctx-timeouts %v", opt.Password, opt.DB, opt.PoolSize, opt.ContextTimeoutEnabled)
	}
}

func TestRedisCAFileNeedsTLSURL(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newRedis(&redisConfig{URL: "redis://127.0.0.1:6379/0", CAFile: ca}, nil)
	if err == nil || !strings.Contains(err.Error(), "--redis-ca-file") {
		t.Fatalf("err = %v, want one naming --redis-ca-file", err)
	}
}

func TestRedisClusterSeeds(t *testing.T) {
	rdb, err := newRedis(&redisConfig{URL: "redis://:pw@127.0.0.1:7000", Cluster: "127.0.0.1:7001, 127.0.0.1:7002"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	opt := rdb.(*redis.ClusterClient).Options()
	if strings.Join(opt.Addrs, ",") != "127.0.0.1:7001,127.0.0.1:7002" || opt.Password != "pw" || !opt.ContextTimeoutEnabled {
		t.Fatalf("cluster options: addrs %v password %q", opt.Addrs, opt.Password)
	}
}

func TestBadRedisURLExits2(t *testing.T) {
	code, _, stderr := runSync(t, envMap(), "gc", "--redis-url", "http://:hunter2@example.com")
	if code != exitUsage || !strings.Contains(stderr, "--redis-url") || strings.Contains(stderr, "hunter2") {
		t.Fatalf("exit %d stderr %q; want 2 naming --redis-url without the password", code, stderr)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0": "redis://127.0.0.1:6379/0",
		"redis://:pw@host:1/0":     "redis://:xxxxx@host:1/0",
		"rediss://user:pw@host:1":  "rediss://user:xxxxx@host:1",
		"redis://user:p@ss@host:1": "redis://user:xxxxx@host:1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadSealingKeysExit2(t *testing.T) {
	code, _, stderr := runSync(t, envMap("SESSIOND_SEALING_KEYS", "no-colon-here"), "gc")
	if code != exitUsage || !strings.Contains(stderr, "SESSIOND_SEALING_KEYS") {
		t.Fatalf("exit %d stderr %q; want 2 naming SESSIOND_SEALING_KEYS", code, stderr)
	}
}

// --redis-cluster is documented as a flag of its own: alone it must not
// swallow the next flag as its value, and it may also carry seeds.
func TestRedisClusterFlagForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--redis-cluster", "--redis-url", "redis://127.0.0.1:7000"}, want: "url"},
		{args: []string{"--redis-cluster=127.0.0.1:7001,127.0.0.1:7002"}, want: "127.0.0.1:7001,127.0.0.1:7002"},
		{args: []string{"--redis-cluster=false"}, want: ""},
		{env: []string{"SESSIOND_REDIS_CLUSTER", "true"}, want: "url"},
		{args: nil, want: ""},
	} {
		var c serveConfig
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		registerServeFlags(fs, &c)
		if err := parseFlags(fs, tc.args, envMap(tc.env...)); err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if c.Cluster != tc.want {
			t.Errorf("%v %v: cluster = %q, want %q", tc.args, tc.env, c.Cluster, tc.want)
		}
		if len(tc.args) == 3 && c.URL != "redis://127.0.0.1:7000" {
			t.Errorf("--redis-cluster swallowed --redis-url: url = %q", c.URL)
		}
	}
}
