package redisenv_test

import (
	"context"
	"fmt"

	"github.com/sessionbench/sessionbench/loadgen/redisenv"
)

// The tier profiles local and container modes start for real.
func ExampleProfiles() {
	for _, p := range redisenv.Profiles() {
		fmt.Printf("%-18s %s\n", p.Name, p.Description)
	}
	// Output:
	// basic              one node, no persistence (Memorystore Basic)
	// standard           a primary and a replica, replication on; the server talks to the primary (Memorystore Standard)
	// aof                append-only file, fsync every second
	// tls                TLS only, CA made for the run, verified by clients
	// cluster3           Redis Cluster, three primaries
	// maxmem-noeviction  small maxmemory, noeviction: writes fail with OOM when full
	// maxmem-lru         small maxmemory, volatile-lru (Memorystore's default policy)
}

// Open starts the Redis a Spec names; Close stops it. The embedded mode
// needs nothing installed but is not Redis (its facts say so).
func ExampleOpen() {
	env, err := redisenv.Open(context.Background(), redisenv.Spec{Mode: redisenv.ModeEmbedded})
	if err != nil {
		panic(err)
	}
	defer env.Close()
	f := env.Facts()
	fmt.Println(f.Mode, f.Profile, f.NotRedis != "")
	fmt.Println(env.Client().Set(context.Background(), "k", "v", 0).Err())
	// Output:
	// embedded basic true
	// <nil>
}
