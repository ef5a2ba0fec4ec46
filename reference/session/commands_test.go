package session

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// diff returns how many calls of each command happened between a and b.
func diff(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestRedisCommandsPerOperation counts, with INFO commandstats on a real
// redis-server, what each operation costs: Validate must be ONE client
// command (EVALSHA) and must not write unless it touches.
func TestRedisCommandsPerOperation(t *testing.T) {
	e := realEnv(t)
	rdb := e.rdb.(*redis.Client)
	s := e.store(t, Config{})
	s.clock.every = time.Hour               // one TIME for the whole test, counted below
	id := mustCreate(t, s, newSess("warm")) // loads the scripts and reads Redis's clock
	_, _ = s.Validate(ctxT(t), id)
	e.clock.Advance(DefaultIdleTimeout / 5)
	_, _ = s.Validate(ctxT(t), id)

	before := commandStats(t, rdb)
	id = mustCreate(t, s, newSess("u"))
	create := diff(before, commandStats(t, rdb))
	create["info"]--
	t.Logf("Create: %v (client commands: %d)", create, create["evalsha"])
	if create["evalsha"] != 2 || create["eval"] != 0 {
		t.Errorf("Create = %v, want 2 EVALSHA round trips", create)
	}

	mem, err := rdb.MemoryUsage(ctxT(t), sessionKey(t, s, id)).Result()
	if err != nil || mem <= 0 {
		t.Fatalf("MEMORY USAGE: %d, %v", mem, err)
	}
	t.Logf("MEMORY USAGE of one session key: %d bytes", mem)

	before = commandStats(t, rdb)
	if got, err := s.Validate(ctxT(t), id); err != nil || got.Touched {
		t.Fatalf("Validate: %v %v", got, err)
	}
	read := diff(before, commandStats(t, rdb))
	read["info"]--
	t.Logf("Validate without touch: %v", read)
	if read["evalsha"] != 1 || read["hset"] != 0 || read["pexpireat"] != 0 || sum(read) != 2 {
		t.Errorf("Validate without touch = %v, want EVALSHA + HMGET only", read)
	}

	e.clock.Advance(DefaultIdleTimeout/10 + time.Second)
	before = commandStats(t, rdb)
	if got, err := s.Validate(ctxT(t), id); err != nil || !got.Touched {
		t.Fatalf("Validate: %v %v", got, err)
	}
	touch := diff(before, commandStats(t, rdb))
	touch["info"]--
	t.Logf("Validate with touch: %v", touch)
	if touch["evalsha"] != 1 || touch["hset"] != 1 || touch["pexpireat"] != 1 {
		t.Errorf("Validate with touch = %v, want one EVALSHA that writes HSET + PEXPIREAT", touch)
	}
}
