package session

// This file holds what the store can tell about the Redis behind it:
// its eviction policy, whether it refuses writes for lack of memory, and
// whether it has evicted keys (which may have cost a user index entries).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PolicyNoEviction is the only maxmemory-policy under which the user
// index is guaranteed complete (see the package doc, "Eviction").
const PolicyNoEviction = "noeviction"

// ErrLogoutUnconfirmed: DestroyAll destroyed every session in the user's
// index, but Redis has evicted keys recently enough that the index may
// have lost entries, so sessions of the user may remain. Only possible
// when Redis evicts (a maxmemory-policy other than noeviction).
var ErrLogoutUnconfirmed = errors.New("session: logout everywhere cannot be confirmed: redis has evicted keys, so the user index may be incomplete")

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

// evictedKeys sums evicted_keys of INFO stats over the masters; a server
// that does not report it (miniredis) never evicts: 0.
func (s *Store) evictedKeys(ctx context.Context) (int64, error) {
	var (
		mu  sync.Mutex
		sum int64
	)
	one := func(ctx context.Context, c redis.Cmdable) error {
		info, err := c.Info(ctx, "stats").Result()
		if err != nil {
			if isUnsupportedInfo(err) {
				return nil
			}
			return err
		}
		n, _ := strconv.ParseInt(infoFields(info)["evicted_keys"], 10, 64)
		mu.Lock()
		sum += n
		mu.Unlock()
		return nil
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	} else {
		err = one(ctx, s.rdb)
	}
	return sum, err
}

// evictionMarkerTTL keeps the marker long enough that it is not
// forgotten (which would make the next observation assume an eviction
// just happened); every key the store writes has a TTL.
const evictionMarkerTTL = 400 * 24 * time.Hour

// evictionRisk reports whether Redis may have evicted a user index entry
// of a session that can still be live: whether its evicted_keys counter
// moved within the last AbsoluteTimeout (older evictions can only have
// hit indexes whose sessions have all expired since).
//
// Redis does not say when it evicted, so the store remembers the counter
// in a marker key (KeyPrefix+"m:evictions" = "count:first_seen_ms"),
// shared by every instance: a counter different from the marker's (or a
// counter above zero with no marker) is taken as an eviction now.
func (s *Store) evictionRisk(ctx context.Context) (bool, error) {
	n, err := s.evictedKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("read evicted_keys: %w", err)
	}
	key := s.cfg.KeyPrefix + "m:evictions"
	prev, err := s.rdb.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("read eviction marker: %w", err)
	}
	nowMS := s.nowMS()
	cnt, seen, known := parseMarker(prev)
	switch {
	case known && cnt == n:
		return seen > nowMS-s.absMS, nil
	case !known && n == 0:
		return false, nil
	case known && n == 0:
		// The counter was reset (restart, failover, CONFIG RESETSTAT)
		// with no eviction since: only the evictions seen before count.
	default:
		// New evictions (or evictions before any marker): assume they
		// just happened.
		seen = nowMS
	}
	// Failing to record it only means the next call concludes the same.
	_ = s.rdb.Set(ctx, key, strconv.FormatInt(n, 10)+":"+strconv.FormatInt(seen, 10), evictionMarkerTTL).Err()
	return seen > nowMS-s.absMS, nil
}

func parseMarker(v string) (count, seenMS int64, ok bool) {
	a, b, found := strings.Cut(v, ":")
	if !found {
		return 0, 0, false
	}
	c, err1 := strconv.ParseInt(a, 10, 64)
	t, err2 := strconv.ParseInt(b, 10, 64)
	return c, t, err1 == nil && err2 == nil
}
