package session

// This file holds what the store can tell about the Redis behind it:
// its eviction policy and whether it refuses writes for lack of memory.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PolicyNoEviction is the maxmemory-policy that never drops keys.
const PolicyNoEviction = "noeviction"

// Backend is what Redis reports about itself, for readiness checks.
type Backend struct {
	// MaxmemoryPolicy is Redis's maxmemory-policy; on a cluster the first
	// master's that is not noeviction, if any. "" when the server does not
	// report one (miniredis, which never evicts).
	MaxmemoryPolicy string
	// OutOfMemory: Redis refuses writes for lack of memory. Under
	// noeviction that is used_memory (less what maxmemory does not count)
	// over maxmemory; under any policy, a write refused with OOM in the
	// last 10 s that no successful write has followed.
	OutOfMemory bool
	// UsedMemory and MaxMemory are in bytes (summed over a cluster's
	// masters); MaxMemory 0 means no limit.
	UsedMemory, MaxMemory int64
}

// Evicting reports whether the policy lets Redis drop keys to make room.
func (b Backend) Evicting() bool {
	return b.MaxmemoryPolicy != "" && b.MaxmemoryPolicy != PolicyNoEviction
}

// Backend reads INFO memory (of every master on a cluster): one cheap
// command per node; callers that poll (readiness) should not do it more
// than about once a second.
func (s *Store) Backend(ctx context.Context) (Backend, error) {
	var (
		mu sync.Mutex
		b  Backend
	)
	one := func(ctx context.Context, c redis.Cmdable) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			if isUnsupportedInfo(err) {
				return nil // the server reports nothing about memory
			}
			return err
		}
		f := infoFields(info)
		used, _ := strconv.ParseInt(f["used_memory"], 10, 64)
		maxm, _ := strconv.ParseInt(f["maxmemory"], 10, 64)
		notCounted, _ := strconv.ParseInt(f["mem_not_counted_for_evict"], 10, 64)
		policy := f["maxmemory_policy"]
		mu.Lock()
		defer mu.Unlock()
		b.UsedMemory += used
		b.MaxMemory += maxm
		if b.MaxmemoryPolicy == "" || b.MaxmemoryPolicy == PolicyNoEviction {
			b.MaxmemoryPolicy = policy
		}
		// Redis refuses a write when used_memory minus replication and
		// AOF buffers exceeds maxmemory and nothing can be evicted.
		if maxm > 0 && policy == PolicyNoEviction && used-notCounted > maxm {
			b.OutOfMemory = true
		}
		return nil
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	} else {
		err = one(ctx, s.rdb)
	}
	if err != nil {
		return Backend{}, backendErr("info memory", err)
	}
	if at := s.oomAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < oomHold {
		b.OutOfMemory = true
	}
	return b, nil
}

// isUnsupportedInfo reports an INFO section the server does not have
// (miniredis answers "section (memory) is not supported").
func isUnsupportedInfo(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(err.Error(), "not supported")
}

// infoFields parses "key:value" lines of an INFO reply.
func infoFields(info string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
