package harness

import (
	"context"
	"math"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/loadgen/redisenv"
	"github.com/sessionbench/sessionbench/loadgen/results"
	"github.com/sessionbench/sessionbench/loadgen/sampler"
	"github.com/sessionbench/sessionbench/reference/session"
)

// keySample bounds the keys read after a run: MEMORY USAGE of session
// and index keys, and the TTL check on a shared Redis.
const (
	memorySampleKeys = 200
	ttlCheckKeys     = 10_000
)

// memory fills the summary's memory section from the timeline and, when
// the Redis is real, from the keys themselves.
func (r *run) memory(ctx context.Context, sum *results.Summary, rows []results.TimelineRow, env redisenv.Env) {
	var x sampler.Extra
	if env != nil && env.Facts().Mode != redisenv.ModeEmbedded && r.p.Target == "" {
		prefix := env.KeyPrefix()
		if prefix == "" {
			prefix = session.DefaultKeyPrefix
		}
		x.KeysWithoutTTL = keysWithoutTTL(ctx, env, prefix, rows)
		x.Sampled = sampleSizes(ctx, env.Client(), prefix)
	}
	sum.Memory.MemoryAnalysis = sampler.Analyze(rows, x)
	first, last := math.NaN(), math.NaN()
	for _, row := range rows {
		if v := row.Values[results.RedisUsedMemory]; !math.IsNaN(v) {
			if math.IsNaN(first) {
				first = v
			}
			last = v
		}
	}
	if !math.IsNaN(first) {
		sum.Memory.RedisUsedMemoryBefore, sum.Memory.RedisUsedMemoryAfter = uint64(first), uint64(last)
		if sum.Memory.SessionsLiveEnd > 0 && last > first {
			sum.Memory.BytesPerSession = (last - first) / float64(sum.Memory.SessionsLiveEnd)
		}
	}
}

// keysWithoutTTL counts the run's keys that would never expire. On a
// Redis of the run's own the keyspace says it (keys − expires, last
// timeline row); on a shared one only the run's prefix is checked, on at
// most ttlCheckKeys keys.
func keysWithoutTTL(ctx context.Context, env redisenv.Env, prefix string, rows []results.TimelineRow) *uint64 {
	if env.Facts().Mode != redisenv.ModeURL {
		for i := len(rows) - 1; i >= 0; i-- {
			if v := rows[i].Values[results.RedisKeysWithoutTTL]; !math.IsNaN(v) {
				n := uint64(v)
				return &n
			}
		}
		return nil
	}
	keys := scanKeys(ctx, env.Client(), prefix+"*", ttlCheckKeys)
	var n uint64
	for _, batch := range chunks(keys, 500) {
		pipe := env.Client().Pipeline()
		cmds := make([]*redis.DurationCmd, len(batch))
		for i, k := range batch {
			cmds[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil
		}
		for _, c := range cmds {
			if c.Val() == -1 { // exists, no expiry (go-redis keeps -1 as is)
				n++
			}
		}
	}
	return &n
}

// sampleSizes reads MEMORY USAGE of up to memorySampleKeys session keys
// and index keys: the sampled cost of one session is a session key plus
// one entry's share of its user's index.
func sampleSizes(ctx context.Context, c redis.UniversalClient, prefix string) *results.SampledSessionSize {
	sessKeys := scanKeys(ctx, c, prefix+"s:*", memorySampleKeys)
	idxKeys := scanKeys(ctx, c, prefix+"u:*", memorySampleKeys)
	if len(sessKeys) == 0 {
		return nil
	}
	var s results.SampledSessionSize
	total := 0.0
	for _, k := range sessKeys {
		if n, err := c.MemoryUsage(ctx, k, 0).Result(); err == nil {
			total += float64(n)
			s.SessionKeys++
		}
	}
	if s.SessionKeys == 0 {
		return nil // MEMORY USAGE refused (some managed Redis)
	}
	s.SessionKeyBytes = total / float64(s.SessionKeys)
	var idxBytes, entries float64
	for _, k := range idxKeys {
		n, err1 := c.MemoryUsage(ctx, k, 0).Result()
		card, err2 := c.ZCard(ctx, k).Result()
		if err1 == nil && err2 == nil && card > 0 {
			idxBytes += float64(n)
			entries += float64(card)
			s.IndexKeys++
		}
	}
	if entries > 0 {
		s.IndexEntryBytes = idxBytes / entries
	}
	s.PerSessionBytes = s.SessionKeyBytes + s.IndexEntryBytes
	return &s
}

// scanKeys is redisenv.ScanKeys, nil on error (the figures it feeds
// are then left out).
func scanKeys(ctx context.Context, c redis.UniversalClient, pattern string, limit int) []string {
	keys, err := redisenv.ScanKeys(ctx, c, pattern, limit)
	if err != nil {
		return nil
	}
	return keys
}

func chunks(s []string, n int) [][]string {
	var out [][]string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
