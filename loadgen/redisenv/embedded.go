package redisenv

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// NotRedisNote is what summaries and reports say of embedded runs.
const NotRedisNote = "embedded miniredis: an emulation inside loadgen's own process; its numbers are not Redis performance (use --redis local or container)"

// embeddedProvider runs miniredis inside this process: no install, no
// Docker, but not Redis (no INFO, no memory figures, and it shares the
// generator's CPU).
type embeddedProvider struct{}

func (embeddedProvider) Start(_ context.Context, s Spec) (Env, error) {
	if s.Profile != ProfileBasic {
		return nil, configErrorf("--redis-profile %s needs a real Redis; miniredis is basic only: use --redis local or --redis container", s.Profile)
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	e := &env{
		client: c,
		noInfo: true,
		facts: Facts{
			Mode: ModeEmbedded, Profile: ProfileBasic, Addr: mr.Addr(),
			Version: "miniredis " + moduleVersion("github.com/alicebob/miniredis/v2"), Persistence: "none", NotRedis: NotRedisNote,
		},
		conn: Conn{URL: "redis://" + mr.Addr() + "/0"},
	}
	e.onClose(func() error { CloseMiniredis(mr); return nil })
	e.onClose(c.Close)
	return e, nil
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// CloseMiniredis closes mr so that the race detector sees no race inside
// miniredis (v2.40.0): its INFO handler reads the server field without
// the lock that Close takes to clear it, and sessiond's INFO poller does
// send INFO. Closing the server first waits for every connection's
// goroutine to end, which orders those reads before Close's write.
func CloseMiniredis(mr *miniredis.Miniredis) {
	if srv := mr.Server(); srv != nil {
		srv.Close()
	}
	mr.Close()
}
