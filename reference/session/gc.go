package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcScanCount is the SCAN COUNT hint: small batches keep every command
// short so GC never blocks serving.
const gcScanCount = 500

// GC scans the keyspace under KeyPrefix (SCAN, never KEYS; on a cluster
// every master), prunes stale index entries and reports what it saw.
// Safe while serving: it only removes index entries whose session is
// gone (and old enough, see the package doc) or past absolute expiry.
func (s *Store) GC(ctx context.Context) (GCReport, error) {
	start := time.Now()
	var (
		mu  sync.Mutex
		rep GCReport
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		var local GCReport
		err := s.gcNode(ctx, c, &local)
		mu.Lock()
		rep.LiveSessions += local.LiveSessions
		rep.Users += local.Users
		rep.StaleIndexPruned += local.StaleIndexPruned
		rep.KeysWithoutTTL += local.KeysWithoutTTL
		rep.ScannedKeys += local.ScannedKeys
		mu.Unlock()
		return err
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = errors.New("GC supports *redis.Client and *redis.ClusterClient")
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return rep, backendErr("gc", err)
	}
	return rep, nil
}

// gcNode scans one node in SCAN batches.
func (s *Store) gcNode(ctx context.Context, c *redis.Client, rep *GCReport) error {
	match := s.cfg.KeyPrefix + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, gcScanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			ttls := make([]*redis.DurationCmd, len(keys))
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					ttls[i] = p.PTTL(ctx, k)
				}
				return nil
			}); err != nil {
				return err
			}
			for i, k := range keys {
				rep.ScannedKeys++
				ttl := ttls[i].Val()
				if ttl == -2 { // expired or deleted since SCAN returned it
					continue
				}
				if ttl == -1 {
					rep.KeysWithoutTTL++
				}
				switch {
				case strings.HasPrefix(k, s.sessPrefix):
					rep.LiveSessions++
				case strings.HasPrefix(k, s.idxPref):
					pruned, left, err := s.pruneIndex(ctx, k)
					if err != nil {
						return err
					}
					rep.StaleIndexPruned += pruned
					if left > 0 {
						rep.Users++
					}
				}
			}
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// pruneIndex removes entries past absolute expiry and entries whose
// session is gone (older than createGrace) from one user index; it
// returns how many it removed and how many are left.
func (s *Store) pruneIndex(ctx context.Context, idx string) (pruned, left int64, err error) {
	nowMS := s.nowMS()
	zs, exists, err := s.indexEntries(ctx, idx)
	if err != nil || len(zs) == 0 {
		return 0, 0, err
	}
	var drop []string
	for i, z := range zs {
		if !exists[i] && s.staleMissing(z.Score, nowMS) {
			drop = append(drop, z.Member.(string))
		}
	}
	if err := s.zrem(ctx, "gc: prune index", idx, drop); err != nil {
		return 0, 0, err
	}
	return int64(len(drop)), int64(len(zs) - len(drop)), nil
}
