package redisenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseInfo reads an INFO reply into field → value ("# Section" headers
// and blank lines skipped).
func ParseInfo(reply string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(reply, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// InfoUint reads an unsigned integer field of an INFO map (0, false when
// absent or not a number).
func InfoUint(m map[string]string, key string) (uint64, bool) {
	n, err := strconv.ParseUint(m[key], 10, 64)
	return n, err == nil
}

// InfoFloat reads a number field of an INFO map.
func InfoFloat(m map[string]string, key string) (float64, bool) {
	f, err := strconv.ParseFloat(m[key], 64)
	return f, err == nil
}

// Keyspace reads "db0:keys=12,expires=10,avg_ttl=…" into keys and
// expires (the keys that have a TTL), summed over every db.
func Keyspace(m map[string]string) (keys, expires uint64) {
	for k, v := range m {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(part, "=")
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "keys":
				keys += n
			case "expires":
				expires += n
			}
		}
	}
	return keys, expires
}

// infoOn runs INFO section on one node.
func infoOn(ctx context.Context, c redis.Cmdable, section string) (map[string]string, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return ParseInfo(s), nil
}

// infoAll runs INFO on each client, in order.
func infoAll(ctx context.Context, nodes []*redis.Client, section string) ([]map[string]string, error) {
	out := make([]map[string]string, 0, len(nodes))
	for _, n := range nodes {
		m, err := infoOn(ctx, n, section)
		if err != nil {
			return nil, fmt.Errorf("INFO %s on %s: %w", section, n.Options().Addr, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// describe fills the facts a server reports about itself: version,
// persistence, maxmemory and policy (from the first node).
func describe(ctx context.Context, c redis.Cmdable, f *Facts) error {
	m, err := infoOn(ctx, c, "everything")
	if err != nil {
		return fmt.Errorf("INFO: %w", err)
	}
	f.Version = m["redis_version"]
	var p []string
	if m["aof_enabled"] == "1" {
		p = append(p, "aof")
	}
	if rdbConfigured(ctx, c) {
		p = append(p, "rdb")
	}
	if len(p) == 0 {
		f.Persistence = "none"
	} else {
		f.Persistence = strings.Join(p, "+")
	}
	f.MaxMemory, _ = InfoUint(m, "maxmemory")
	f.MaxMemoryPolicy = m["maxmemory_policy"]
	return nil
}

// rdbConfigured reports whether the server snapshots (CONFIG GET save is
// not empty). Managed Redis may refuse CONFIG: then it is unknown and
// reported as not configured.
func rdbConfigured(ctx context.Context, c redis.Cmdable) bool {
	v, err := c.ConfigGet(ctx, "save").Result()
	if err != nil {
		return false
	}
	return strings.TrimSpace(v["save"]) != ""
}
