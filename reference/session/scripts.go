package session

import "github.com/redis/go-redis/v9"

// Every script touches exactly one key (KEYS[1]) so it runs on Redis
// Cluster. Timestamps are unix milliseconds from the application clock;
// numbers handed back to Redis are formatted with %.0f so that neither
// Redis's Lua nor miniredis's prints them in exponent form.
//
// Write scripts follow three rules, so that a write Redis refuses or
// runs late changes nothing:
//
//   - ARGV[1] is a fence: the latest Redis time (TIME, in µs) at which
//     the write may still run, or "0" for none. A write that reaches Redis
//     after its caller gave up (Redis paused, a queue behind a slow
//     command) is refused with a LATE error and writes nothing. See
//     Store.fence for how the caller's deadline becomes Redis time.
//   - The first write is the one that may be refused for lack of memory
//     (a "denyoom" command: ZADD, HSET). Redis checks maxmemory only
//     before a script's first write and then lets every later one
//     through, so a script that started with ZREMRANGEBYSCORE would let
//     its ZADD past a full noeviction Redis.
//   - Running a script twice has the effect of running it once (go-redis
//     retries a command whose connection broke; the first try may have
//     run).

// fenceLua is the prologue of every write script.
const fenceLua = `
if ARGV[1] ~= '0' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000000 + tonumber(t[2]) > tonumber(ARGV[1]) then
    return redis.error_reply('LATE write refused: it reached Redis after its deadline')
  end
end
`

// validateLua checks and, past the touch threshold, slides a session.
// ARGV: now, idle, threshold, want_sealed ("1"/"0").
// Returns false (missing), {-1} (expired: deleted), or
// {touched(0/1), last_seen, abs, record, data, sealed|false}.
//
// It is not fenced: a late touch only moves a live session's expiry
// forward (PEXPIREAT GT, on an existing key), which the request that
// asked for it would have done anyway.
const validateLua = `
local v = redis.call('HMGET', KEYS[1], 'a', 'l', 'r', 'd')
if not v[1] or not v[2] or not v[3] then return false end
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local abs = tonumber(v[1])
local cur = tonumber(v[2]) + idle
if abs < cur then cur = abs end
if now >= cur then
  redis.call('DEL', KEYS[1])
  return {-1}
end
local st = 0
local nxt = now + idle
if abs < nxt then nxt = abs end
if nxt - cur > tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', nxt), 'GT')
  redis.call('HSET', KEYS[1], 'l', ARGV[1])
  v[2] = ARGV[1]
  st = 1
end
local s = false
if ARGV[4] == '1' then s = redis.call('HGET', KEYS[1], 's') end
return {st, v[2], v[1], v[3], v[4] or '{}', s}
`

// createLua writes a new session with its TTL in one atomic step.
// ARGV: fence, expire_at, abs, last_seen, record, data [, sealed].
// Returns 1, or 0 if another session holds the key (never overwritten).
// A second run of the same write finds its own record and returns 1.
const createLua = fenceLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'r') == ARGV[5] then return 1 end
  return 0
end
if ARGV[7] then
  redis.call('HSET', KEYS[1], 'a', ARGV[3], 'l', ARGV[4], 'r', ARGV[5], 'd', ARGV[6], 's', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'a', ARGV[3], 'l', ARGV[4], 'r', ARGV[5], 'd', ARGV[6])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`

// indexAddLua adds one entry to a user index, prunes expired entries and
// makes sure the index outlives its newest member. ARGV: fence, now,
// member, score. Returns the index size after the add. ZADD comes first:
// it is the write Redis may refuse when out of memory (see above).
const indexAddLua = fenceLua + `
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[4], 'GT')
end
return redis.call('ZCARD', KEYS[1])
`

// updateLua replaces custom data of an existing, unexpired session and
// keeps its TTL (HSET never touches the TTL; a missing key is never
// created). ARGV: fence, now, idle, data. Returns 1, 0 (missing), -1
// (expired).
const updateLua = fenceLua + `
local v = redis.call('HMGET', KEYS[1], 'a', 'l')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[2])
local abs = tonumber(v[1])
local cur = tonumber(v[2]) + tonumber(ARGV[3])
if abs < cur then cur = abs end
if now >= cur then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('HSET', KEYS[1], 'd', ARGV[4])
return 1
`

// destroyLua deletes a session and returns its packed record (to find
// the user index), or false if there was nothing to delete.
// ARGV: fence.
const destroyLua = fenceLua + `
local r = redis.call('HGET', KEYS[1], 'r')
if redis.call('DEL', KEYS[1]) == 0 then return false end
return r or ''
`

// delLua deletes a key (a session ended by logout everywhere or by the
// per-user cap) and returns 1, or 0 if it was already gone. ARGV: fence.
const delLua = fenceLua + `
return redis.call('DEL', KEYS[1])
`

// scripts holds the compiled scripts; redis.Script caches the SHA and
// Run uses EVALSHA, falling back to EVAL once after a server restart.
type scripts struct {
	validate, create, indexAdd, update, destroy, del *redis.Script
}

func newScripts() scripts {
	return scripts{
		validate: redis.NewScript(validateLua),
		create:   redis.NewScript(createLua),
		indexAdd: redis.NewScript(indexAddLua),
		update:   redis.NewScript(updateLua),
		destroy:  redis.NewScript(destroyLua),
		del:      redis.NewScript(delLua),
	}
}
