// Package session keeps server-side login sessions in Redis (a single
// server or a Redis Cluster, through go-redis's UniversalClient).
//
// # IDs and keys
//
// A session ID is 32 bytes from crypto/rand, encoded base64url without
// padding (43 characters). Redis never sees it: the session key is
// KeyPrefix + "s:" + the first 16 bytes of SHA-256(raw id), raw (128
// bits: a dump of Redis cannot be replayed as cookies, and no two
// sessions collide). A presented ID that is not well formed (ValidID)
// is refused with ErrMalformedID before any Redis call. Info.Handle,
// which names a session in a list, is base64url of the hash's first 12
// bytes.
//
// # Record
//
// A session is one Redis string (record format 2, record.go):
//
//	version 2 | absolute expiry ms (6 bytes) | last_seen ms (6 bytes)
//	| record | data | sealed fields
//
// The record packs the immutable fields (uid, email, tenant, created_at,
// auth_time, the user agent and client IP) with length prefixes and
// flags for the optional ones; data is the custom JSON (≤
// Config.MaxDataBytes); the sealed fields, when set, are AES-256-GCM
// under Config.Sealer's primary key, tagged with the key id, with the
// key hash as AAD so a blob cannot be moved to another session. The Lua
// scripts read the two timestamps at fixed offsets (validate rewrites
// last_seen in place with SETRANGE) and the two section lengths, and
// never the rest; a write of data or sealed fields rewrites the string
// with SET KEEPTTL.
//
// One string costs less than the hash it replaced: a hash holding a
// field longer than 64 bytes (any record with a browser user agent) is
// no longer listpack-encoded, and a Redis hashtable costs several
// hundred bytes. Measured through sessiond on redis-server 7.0
// (jemalloc), 20,000 sessions, 4 per user, 16 bytes of data:
// used_memory grows by 292 bytes per session without a user agent
// (391 with the hash) and by 417 with a 111-byte browser one (775 with
// the hash), index share included (see the issue 9 note for the
// method). What remains is mostly Redis's per-key cost, which only fewer
// keys would save. The same layout built with synthetic values on the
// same Redis (scripts/session-memory-floor) costs 194 bytes per session
// before its value (key name, dict and expires entries, hash-table
// slots, object header, index share), and the value is allocated in
// jemalloc's size classes: 64 bytes for up to 60 bytes of value, 80 up
// to 76, 96 up to 92. A session holding a uid, an email, a client IP,
// its times and 16 bytes of data (more than 60 bytes in any encoding)
// therefore cannot cost less than 274 bytes; without the email (sessiond
// --omit-email) the value fits 64 and the session measured 264. Sessions
// kept as fields of one hash per user would cost about 110 (no key, TTL
// or index entry of their own), at the price of per-session expiry
// enforced by the scripts rather than by Redis (per-field TTL needs
// Redis 7.4).
//
// A user agent is kept as its first 512 bytes (for the session list)
// and, when longer, the SHA-256 of the whole header: Session.
// UserAgentMatches compares that form, so a header matches only itself.
//
// Format 1 (a hash of a, l, r, d, s under KeyPrefix + "s:" + base64url
// of the whole SHA-256) was written before format 2; the store still
// reads, updates and ends such sessions, so that a rolling upgrade keeps
// them valid until they expire. A lookup that finds no format-2 session
// tries the format-1 key (a second round trip, only for a cookie that
// names no current session). Instances not yet upgraded cannot read
// format-2 sessions, so a rolling upgrade runs in two phases: first
// every instance with Config.WriteFormat 1 (Create then writes format 1
// exactly as the older sessiond did: its create and index scripts,
// key names, fields, members and scores, with the same write fence,
// OOM order and idempotency; Validate tries the format-1 key first),
// then, once no older instance runs, WriteFormat 2. Updates and sealed
// writes rewrite a session in its own format and never create one.
//
// # Timeouts
//
// Idle (sliding, default 30m) and absolute (default 24h) timeouts are
// both enforced: the key's TTL is min(last_seen+idle, absolute expiry),
// set with PEXPIREAT from the application clock, and every read also
// checks both deadlines against that clock inside the script, deleting a
// record found past them (ErrExpired). A computed TTL ≤ 0 deletes the
// key; nothing is ever written without a TTL. Application servers'
// clocks should be NTP-synchronised: skew shifts expiry by the skew.
//
// Validate is one round trip (EVALSHA of one script on one key). It
// writes only when the new expiry would be more than
// Config.TouchThreshold (default idle/10) later than the current one;
// then it moves the TTL with PEXPIREAT ... GT, so a stale or slow
// request can never shorten a TTL, and it sets last_seen. Session.Touched
// reports that write. A missing key is never recreated: every script
// checks existence first and runs atomically, so once Destroy has
// deleted a key no Validate, touch or UpdateData can bring it back.
//
// # Per-user index and cluster safety
//
// Each user has a sorted set KeyPrefix + "u:" + uid whose members are
// key hashes scored by absolute expiry; it carries a TTL of at least its
// latest member's expiry and is pruned (ZREMRANGEBYSCORE of expired
// scores) on every write. The session key and the index key live in
// different hash slots, so no script ever touches both: every script
// touches exactly ONE key and works unchanged on Redis Cluster (a
// pipeline of single-key scripts where several keys are deleted). The
// invariant that makes this safe is:
//
//	the index is a SUPERSET of the user's live sessions.
//
// Index members are the key hashes (16 raw bytes; 43 characters for
// format-1 sessions), so an entry names its session key directly.
//
// Create writes the index entry first, then the session; Destroy deletes
// the session first, then the index entry. Readers of the index (List,
// DestroyAll, the per-user cap, GC) tolerate entries whose session is
// gone and prune them — but only entries older than createGrace, since a
// younger one may belong to a Create that has written its index entry
// and not yet its session (Create itself gives up, leaving only a stale
// entry, if more than createGrace passed between its two writes).
// An entry's creation time is read back as score − AbsoluteTimeout.
//
// A login from a browser that still holds a session (NewSession.Replaces,
// the cookie it presented) destroys that session once the new one
// exists, whoever owned it, so a page that logs in on every load leaves
// no orphans.
//
// The per-user cap (default 10) is enforced after the new session is
// written: beyond the cap, the least recently used sessions are ended
// (OBJECT IDLETIME: seconds since any read, without touching the key),
// never one read within Config.InUseWindow (1 m) while another choice
// exists. Any read counts, including the user's own GET /v1/sessions.
// Under concurrent logins of one user the cap is best effort (it may
// briefly be exceeded, never undercut below the newest session).
//
// # Eviction
//
// The index is a superset of the live sessions only as long as Redis
// keeps every key until its TTL: under an evicting maxmemory-policy
// (volatile-lru is Memorystore's default) the user index, touched only
// at login and logout, is the least recently used key and goes first;
// "log out everywhere" would then miss sessions. Run Redis with
// maxmemory-policy noeviction (Backend reports the policy; sessiond
// refuses to start otherwise). Whatever the policy, DestroyAll never
// reports success while it cannot be sure: when Redis's evicted_keys
// counter moved within the last AbsoluteTimeout (older evictions can
// only have hit indexes whose sessions all expired since), it returns
// ErrLogoutUnconfirmed. Redis does not say when it evicted, so the
// counter and the time it was first seen are kept in the key
// KeyPrefix+"m:evictions", shared by every instance.
//
// # Failed writes
//
// A write that fails must not happen later, and must say what it knows.
// Every write script (scripts.go) carries a fence: the caller's deadline
// expressed in Redis time (TIME), from a lower bound of the offset
// between the two clocks measured every 10 s (and again whenever Redis
// refuses a write as late that arrived in time: a clock step). A write
// Redis runs after its fence — queued behind a paused or busy Redis
// after its caller reported the failure — is refused and changes
// nothing. Redis checks maxmemory before a script's first write only, so
// each script's first write is the one that may be refused (ZADD before
// ZREMRANGEBYSCORE); a full noeviction Redis then refuses a Create
// whole. Scripts are idempotent, so go-redis's retry of a command whose
// connection broke does no harm.
//
// Failed writes wrap ErrBackend and either ErrNotApplied (Redis answered
// with an error, or no connection was made) or ErrOutcomeUnknown (no
// reply in time: it may have run before its deadline). A Create that
// fails after its index write removes what it may have written (at
// once when Redis answered, else in the background for up to 30 s;
// Drain waits), so a failed Create leaves nothing. A Destroy whose
// outcome is unknown may have happened; retrying it is safe. Writes
// refused for lack of memory also wrap ErrOutOfMemory, and Backend
// reports the state for readiness probes.
//
// # Errors
//
// The sentinel errors (ErrMalformedID, ErrNotFound, ErrExpired, ...) are
// tested with errors.Is. Any failure of Redis (down, timeout, context
// deadline) is wrapped with ErrBackend; callers must fail closed on it
// (HTTP 503), never treat the session as valid.
package session
