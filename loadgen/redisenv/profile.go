package redisenv

import (
	"fmt"
	"strconv"
	"strings"
)

// Tier profiles (--redis-profile). Local and container modes start each
// for real, so that a run measures the property, not a label.
const (
	// ProfileBasic: one node, no persistence (Memorystore Basic).
	ProfileBasic = "basic"
	// ProfileStandard: a primary and a replica with replication on; the
	// server talks to the primary (Memorystore Standard).
	ProfileStandard = "standard"
	// ProfileAOF: append-only file, fsync every second.
	ProfileAOF = "aof"
	// ProfileTLS: TLS only, with a CA made for the run that clients
	// verify.
	ProfileTLS = "tls"
	// ProfileCluster3: Redis Cluster with three primaries.
	ProfileCluster3 = "cluster3"
	// ProfileMaxmemNoeviction: a small maxmemory with noeviction (writes
	// fail with OOM when full).
	ProfileMaxmemNoeviction = "maxmem-noeviction"
	// ProfileMaxmemLRU: a small maxmemory with volatile-lru
	// (Memorystore's default policy).
	ProfileMaxmemLRU = "maxmem-lru"
)

// DefaultMaxMemory is the maxmemory of the maxmem-* profiles: small
// enough that a run reaches it, large enough for a few tens of thousands
// of sessions.
const DefaultMaxMemory = "32mb"

// Profile is one tier: what to start and with which redis-server
// arguments.
type Profile struct {
	Name, Description string
	// Args are extra redis-server arguments of every primary.
	Args []string
	// Replicas per primary (standard: 1).
	Replicas int
	// Primaries > 1 makes a cluster.
	Primaries int
	// TLS: serve TLS only, with a CA made for the run.
	TLS bool
	// Policy is the maxmemory-policy of a maxmem profile ("" otherwise);
	// the size comes from Spec.MaxMemory.
	Policy string
}

// Profiles lists every profile, in the order --help shows them.
func Profiles() []Profile {
	return []Profile{
		{Name: ProfileBasic, Description: "one node, no persistence (Memorystore Basic)", Primaries: 1},
		{Name: ProfileStandard, Description: "a primary and a replica, replication on; the server talks to the primary (Memorystore Standard)", Primaries: 1, Replicas: 1,
			Args: []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}},
		{Name: ProfileAOF, Description: "append-only file, fsync every second", Primaries: 1, Args: []string{"--appendonly", "yes", "--appendfsync", "everysec"}},
		{Name: ProfileTLS, Description: "TLS only, CA made for the run, verified by clients", Primaries: 1, TLS: true},
		{Name: ProfileCluster3, Description: "Redis Cluster, three primaries", Primaries: 3},
		{Name: ProfileMaxmemNoeviction, Description: "small maxmemory, noeviction: writes fail with OOM when full", Primaries: 1, Policy: "noeviction"},
		{Name: ProfileMaxmemLRU, Description: "small maxmemory, volatile-lru (Memorystore's default policy)", Primaries: 1, Policy: "volatile-lru"},
	}
}

// LookupProfile finds a profile by name.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

func profileNames() string {
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// serverArgs are the redis-server arguments of a primary of p.
func (p Profile) serverArgs(maxMemory string) []string {
	// Later arguments win in redis-server: these override the defaults
	// every node starts with (no snapshots, no AOF; see baseArgs).
	args := append(baseArgs(), p.Args...)
	if p.Policy != "" {
		args = append(args, "--maxmemory", maxMemory, "--maxmemory-policy", p.Policy)
	}
	return args
}

// baseArgs start every redis-server loadgen runs: no RDB snapshots, no
// AOF (a profile turns persistence on), no protected mode (it refuses
// clients from a container's network).
func baseArgs() []string {
	return []string{"--save", "", "--appendonly", "no", "--protected-mode", "no"}
}

// parseMemory reads a Redis memory amount: "32mb", "1gb", "1048576".
func parseMemory(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		m      uint64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a positive memory amount")
	}
	if n > (1<<50)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}
