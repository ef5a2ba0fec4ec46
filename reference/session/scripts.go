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
//     (a "denyoom" command: ZADD, SET, HSET). Redis checks maxmemory only
//     before a script's first write and then lets every later one
//     through, so a script that started with ZREMRANGEBYSCORE would let
//     its ZADD past a full noeviction Redis.
//   - Running a script twice has the effect of running it once (go-redis
//     retries a command whose connection broke; the first try may have
//     run).
//
// Format-2 sessions (record.go) are strings: the scripts read the two
// timestamps at fixed offsets and the two section lengths (uvarints),
// and never decode the record itself.

// fenceLua is the prologue of every write script.
const fenceLua = `
if ARGV[1] ~= '0' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000000 + tonumber(t[2]) > tonumber(ARGV[1]) then
    return redis.error_reply('LATE write refused: it reached Redis after its deadline')
  end
end
`

// v2Lua is the prologue of the format-2 scripts: readers of the header
// and of the section lengths. Lua numbers are doubles: exact for the
// 48-bit timestamps.
const v2Lua = `
local function u48(v, i)
  local a, b, c, d, e, f = string.byte(v, i, i + 5)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end
local function uvarint(v, i)
  local x, m = 0, 1
  while true do
    local b = string.byte(v, i)
    if not b or m > 2^28 then return nil end
    i = i + 1
    if b < 128 then return x + b * m, i end
    x = x + (b - 128) * m
    m = m * 128
  end
end
-- the value's record end, data start and data end (1-based, inclusive),
-- or nil for a value that is not format 2
local function sections(v)
  if #v < 14 or string.byte(v, 1) ~= 2 then return nil end
  local r, i = uvarint(v, 14)
  if not r then return nil end
  local recEnd = i + r - 1
  local d, j = uvarint(v, recEnd + 1)
  if not d or j + d - 1 > #v then return nil end
  return recEnd, j, j + d - 1
end
local function badRecord()
  return redis.error_reply('BADREC the session record is not in a format this sessiond reads')
end
`

// validateLua checks a format-2 session and, past the touch threshold,
// slides it. ARGV: now, idle, threshold, want_sealed ("1"/"0"), now as
// 6 bytes. Returns false (missing), {-1} (expired: deleted), or
// {touched(0/1), value} where value holds no sealed part unless asked
// for (and last_seen as before the touch: the caller knows it is now).
//
// It is not fenced: a late touch only moves a live session's expiry
// forward (PEXPIREAT GT, on an existing key), which the request that
// asked for it would have done anyway.
const validateLua = v2Lua + `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local recEnd, dStart, dEnd = sections(v)
if not recEnd then return badRecord() end
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local abs = u48(v, 2)
local cur = u48(v, 8) + idle
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
  redis.call('SETRANGE', KEYS[1], 7, ARGV[5])
  st = 1
end
if ARGV[4] ~= '1' and dEnd < #v then v = string.sub(v, 1, dEnd) end
return {st, v}
`

// createLua writes a new format-2 session with its TTL in one atomic
// step. ARGV: fence, expire_at, value. Returns 1, or 0 if another
// session holds the key (never overwritten). A second run of the same
// write finds its own value and returns 1.
const createLua = fenceLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.pcall('GET', KEYS[1]) == ARGV[3] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`

// rewriteLua replaces a section of a live format-2 session, keeping its
// TTL (SET KEEPTTL; a missing key is never created). ARGV: fence, now,
// idle, what ("d": the data section, uvarint length and bytes; "s": the
// sealed blob), the new bytes. Returns 1, 0 (missing), -1 (expired:
// deleted).
const rewriteLua = fenceLua + v2Lua + `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local recEnd, dStart, dEnd = sections(v)
if not recEnd then return badRecord() end
local abs = u48(v, 2)
local cur = u48(v, 8) + tonumber(ARGV[3])
if abs < cur then cur = abs end
if tonumber(ARGV[2]) >= cur then
  redis.call('DEL', KEYS[1])
  return -1
end
if ARGV[4] == 's' then
  redis.call('SET', KEYS[1], string.sub(v, 1, dEnd) .. ARGV[5], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], string.sub(v, 1, recEnd) .. ARGV[5] .. string.sub(v, dEnd + 1), 'KEEPTTL')
end
return 1
`

// destroyLua deletes a session of either format and returns its record
// (the value of a format-2 session, the "r" field of a format-1 one) to
// find the user index, or false if there was nothing to delete.
// ARGV: fence.
const destroyLua = fenceLua + `
local t = redis.call('TYPE', KEYS[1])
if type(t) == 'table' then t = t.ok or t['ok'] end
local r = ''
if t == 'string' then
  r = redis.call('GET', KEYS[1])
elseif t == 'hash' then
  r = redis.call('HGET', KEYS[1], 'r') or ''
end
if redis.call('DEL', KEYS[1]) == 0 then return false end
return r
`

// delLua deletes a key (a session ended by logout everywhere or by the
// per-user cap) and returns 1, or 0 if it was already gone. ARGV: fence.
const delLua = fenceLua + `
return redis.call('DEL', KEYS[1])
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

// The format-1 scripts, for sessions created before format 2 (hashes:
// a = absolute expiry, l = last_seen, r = record, d = data, s = sealed).
// They are only ever run on a legacy key (legacyKey); only createV1Lua
// creates one, and only when Config.WriteFormat is 1.

// validateV1Lua is validateLua for a format-1 session. ARGV: now, idle,
// threshold, want_sealed. Returns false, {-1}, or {touched, last_seen,
// abs, record, data, sealed|false}.
const validateV1Lua = `
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

// rewriteV1Lua sets the data ("d") or sealed ("s") field of a live
// format-1 session, keeping its TTL. ARGV: fence, now, idle, field,
// value ("" with "s" removes the sealed field). Returns 1, 0 (missing),
// -1 (expired: deleted).
const rewriteV1Lua = fenceLua + `
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
if ARGV[4] == 's' and ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], 's')
else
  redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
end
return 1
`

// createV1Lua is main's createLua before format 2, unchanged: it writes
// a format-1 session (Config.WriteFormat 1) exactly as the older
// sessiond did, so that sessiond reads it during a rolling upgrade.
// ARGV: fence, expire_at, abs, last_seen, record, data [, sealed].
// Returns 1, or 0 if another session holds the key (never overwritten).
// HSET is its first write (the one Redis may refuse when out of
// memory); a second run of the same write finds its own record and
// returns 1.
const createV1Lua = fenceLua + `
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

// scripts holds the compiled scripts; redis.Script caches the SHA and
// Run uses EVALSHA, falling back to EVAL once after a server restart.
type scripts struct {
	validate, create, rewrite, destroy, del, indexAdd *redis.Script
	validateV1, rewriteV1, createV1                   *redis.Script
}

func newScripts() scripts {
	return scripts{
		validate:   redis.NewScript(validateLua),
		create:     redis.NewScript(createLua),
		rewrite:    redis.NewScript(rewriteLua),
		destroy:    redis.NewScript(destroyLua),
		del:        redis.NewScript(delLua),
		indexAdd:   redis.NewScript(indexAddLua),
		validateV1: redis.NewScript(validateV1Lua),
		rewriteV1:  redis.NewScript(rewriteV1Lua),
		createV1:   redis.NewScript(createV1Lua),
	}
}
