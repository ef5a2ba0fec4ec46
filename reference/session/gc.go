package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcScanCount is the SCAN COUNT hint: small batches keep every command
// short so GC never blocks serving.
const gcScanCount = 500

// maxStraySamples bounds GCReport.StraySamples.
const maxStraySamples = 5

// GC scans the keyspace under KeyPrefix (SCAN, never KEYS; on a cluster
// every master), prunes stale index entries and reports what it saw.
// Safe while serving: it only removes index entries whose session is
// gone and that are older than 60 s (createGrace: a younger one may
// belong to a Create still writing its session), or past absolute
// expiry. It reads every session record, to count only well-formed ones
// (and the key ids their sealed fields use); keys under the prefix that
// are not the store's are reported as strays, never touched.
func (s *Store) GC(ctx context.Context) (GCReport, error) {
	start := time.Now()
	var (
		mu  sync.Mutex
		rep = GCReport{SealedByKey: map[string]int64{}}
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		local := GCReport{SealedByKey: map[string]int64{}}
		err := s.gcNode(ctx, c, &local)
		mu.Lock()
		rep.LiveSessions += local.LiveSessions
		rep.LegacySessions += local.LegacySessions
		for k, n := range local.SealedByKey {
			rep.SealedByKey[k] += n
		}
		rep.Users += local.Users
		rep.StaleIndexPruned += local.StaleIndexPruned
		rep.KeysWithoutTTL += local.KeysWithoutTTL
		rep.StrayKeys += local.StrayKeys
		for _, k := range local.StraySamples {
			if len(rep.StraySamples) < maxStraySamples {
				rep.StraySamples = append(rep.StraySamples, k)
			}
		}
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

// gcKey is what GC read of one key in a batch.
type gcKey struct {
	key  string
	ttl  *redis.DurationCmd
	typ  *redis.StatusCmd
	v2   *redis.StringCmd // GET of a format-2 session key
	v1   *redis.SliceCmd  // HMGET a l r s of a format-1 session key
	kind byte             // 's' session (v2), 'l' legacy session, 'u' index, 'm' marker, 'x' other
}

// gcNode scans one node in SCAN batches.
func (s *Store) gcNode(ctx context.Context, c *redis.Client, rep *GCReport) error {
	match := s.cfg.KeyPrefix + "*"
	marker := s.evictionMarkerKey()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, gcScanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			batch := make([]gcKey, len(keys))
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					b := &batch[i]
					b.key = k
					b.ttl = p.PTTL(ctx, k)
					b.typ = p.Type(ctx, k)
					switch {
					case k == marker:
						b.kind = 'm'
					case strings.HasPrefix(k, s.idxPref):
						b.kind = 'u'
					case strings.HasPrefix(k, s.sessPrefix) && len(k) == len(s.sessPrefix)+keyHashLen:
						b.kind = 's'
						b.v2 = p.Get(ctx, k)
					case strings.HasPrefix(k, s.sessPrefix) && len(k) == len(s.sessPrefix)+legacyHashLen:
						b.kind = 'l'
						b.v1 = p.HMGet(ctx, k, "a", "l", "r", "s")
					default:
						b.kind = 'x'
					}
				}
				return nil
			}); err != nil && !isReplyErr(err) && !errors.Is(err, redis.Nil) {
				return err
			}
			for i := range batch {
				if err := s.gcOne(ctx, &batch[i], rep); err != nil {
					return err
				}
			}
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// gcOne classifies one scanned key and prunes it if it is an index.
func (s *Store) gcOne(ctx context.Context, b *gcKey, rep *GCReport) error {
	rep.ScannedKeys++
	ttl, err := b.ttl.Result()
	if err != nil {
		return err
	}
	typ := b.typ.Val()
	if ttl == -2 || typ == "none" { // expired or deleted since SCAN returned it
		return nil
	}
	ok := false
	switch b.kind {
	case 'm':
		ok = typ == "string"
	case 'u':
		if typ == "zset" {
			ok = true
			pruned, left, err := s.pruneIndex(ctx, b.key)
			if err != nil {
				return err
			}
			rep.StaleIndexPruned += pruned
			if left > 0 {
				rep.Users++
			}
		}
	case 's':
		if typ == "string" {
			ok = s.gcSessionV2(b, rep)
		}
	case 'l':
		if typ == "hash" {
			ok = s.gcSessionV1(b, rep)
		}
	}
	if !ok {
		rep.StrayKeys++
		if len(rep.StraySamples) < maxStraySamples {
			rep.StraySamples = append(rep.StraySamples, escapeKey(b.key))
		}
		return nil
	}
	if ttl == -1 {
		rep.KeysWithoutTTL++
	}
	return nil
}

func (s *Store) gcSessionV2(b *gcKey, rep *GCReport) bool {
	val, err := b.v2.Bytes()
	if err != nil {
		return false
	}
	v, err := splitV2(val)
	var rec record
	if err != nil || !v.complete || decodeRecordV2(v.abs, v.rec, &rec) != nil {
		return false
	}
	rep.LiveSessions++
	if kid, ok := blobKID(v.sealed); ok {
		rep.SealedByKey[kid]++
	}
	return true
}

func (s *Store) gcSessionV1(b *gcKey, rep *GCReport) bool {
	vals, err := b.v1.Result()
	if err != nil || len(vals) != 4 || vals[0] == nil || vals[1] == nil || vals[2] == nil {
		return false
	}
	_, err1 := parseMS(vals[0])
	_, err2 := parseMS(vals[1])
	r, _ := vals[2].(string)
	var rec record
	if err1 != nil || err2 != nil || decodeRecordV1([]byte(r), &rec) != nil {
		return false
	}
	rep.LiveSessions++
	rep.LegacySessions++
	if blob, _ := vals[3].(string); blob != "" {
		if kid, ok := blobKID([]byte(blob)); ok {
			rep.SealedByKey[kid]++
		}
	}
	return true
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

// escapeKey shows a key name as Go would quote it, without the quotes:
// printable names as they are (sb:s:x), raw bytes as \xNN, so that a
// JSON report neither mangles binary names nor double-quotes text.
func escapeKey(k string) string {
	q := strconv.Quote(k)
	return q[1 : len(q)-1]
}
