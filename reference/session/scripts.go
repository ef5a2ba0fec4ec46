package session

import "github.com/redis/go-redis/v9"

// Every script touches exactly one key (KEYS[1]) so it runs on Redis
// Cluster. Timestamps are unix milliseconds from the application clock;
// numbers handed back to Redis are formatted with %.0f so that neither
// Redis's Lua nor miniredis's prints them in exponent form.

// validateLua checks and, past the touch threshold, slides a session.
// ARGV: now, idle, threshold, want_sealed ("1"/"0").
// Returns false (missing), {-1} (expired: deleted), or
// {touched(0/1), last_seen, abs, record, data, sealed|false}.
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
// ARGV: expire_at, abs, last_seen, record, data [, sealed].
// Returns 1, or 0 if the key already exists (never overwritten).
const createLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[6] then
  redis.call('HSET', KEYS[1], 'a', ARGV[2], 'l', ARGV[3], 'r', ARGV[4], 'd', ARGV[5], 's', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'a', ARGV[2], 'l', ARGV[3], 'r', ARGV[4], 'd', ARGV[5])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`

// indexAddLua prunes expired entries of a user index, adds one and makes
// sure the index outlives its newest member. ARGV: now, member, score.
// Returns the index size after the add.
const indexAddLua = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[3], 'GT')
end
return redis.call('ZCARD', KEYS[1])
`

// updateLua replaces custom data of an existing, unexpired session and
// keeps its TTL (HSET never touches the TTL; a missing key is never
// created). ARGV: now, idle, data. Returns 1, 0 (missing), -1 (expired).
const updateLua = `
local v = redis.call('HMGET', KEYS[1], 'a', 'l')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
local abs = tonumber(v[1])
local cur = tonumber(v[2]) + tonumber(ARGV[2])
if abs < cur then cur = abs end
if now >= cur then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('HSET', KEYS[1], 'd', ARGV[3])
return 1
`

// destroyLua deletes a session and returns its packed record (to find
// the user index), or false if there was nothing to delete.
const destroyLua = `
local r = redis.call('HGET', KEYS[1], 'r')
if redis.call('DEL', KEYS[1]) == 0 then return false end
return r or ''
`

// scripts holds the compiled scripts; redis.Script caches the SHA and
// Run uses EVALSHA, falling back to EVAL once after a server restart.
type scripts struct {
	validate, create, indexAdd, update, destroy *redis.Script
}

func newScripts() scripts {
	return scripts{
		validate: redis.NewScript(validateLua),
		create:   redis.NewScript(createLua),
		indexAdd: redis.NewScript(indexAddLua),
		update:   redis.NewScript(updateLua),
		destroy:  redis.NewScript(destroyLua),
	}
}
