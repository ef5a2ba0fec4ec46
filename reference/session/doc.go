// Package session keeps server-side login sessions in Redis (a single
// server or a Redis Cluster, through go-redis's UniversalClient).
//
// # IDs and keys
//
// A session ID is 32 bytes from crypto/rand, encoded base64url without
// padding (43 characters). Redis never sees it: the session key is
// KeyPrefix + "s:" + base64url(SHA-256(raw id)) (see KeyHash), so a dump
// of Redis cannot be replayed as cookies. A presented ID that is not well
// formed (ValidID) is refused with ErrMalformedID before any Redis call.
//
// # Record
//
// A session is one small Redis hash (listpack-encoded, so compact):
//
//	a  absolute expiry, unix ms
//	l  last_seen: time of the last touch write, unix ms (not of the last
//	   read: reads inside the touch threshold write nothing)
//	r  packed immutable fields: uid, email, tenant, created_at,
//	   auth_time, user agent, client IP (see encodeRecord)
//	d  custom data, a compact JSON object (≤ Config.MaxDataBytes)
//	s  optional sealed fields: AES-256-GCM under Config.Sealer's primary
//	   key, tagged with the key id, AAD = the session's key hash so a
//	   blob cannot be moved to another session
//
// A hash rather than one packed string lets the Lua scripts read and
// write the two timestamps and the data without decoding the rest.
// Measured on redis-server 7.0 with a 100-byte user agent: MEMORY USAGE
// of one session key is about 200 bytes; used_memory grows by about 690
// bytes per session over 100k sessions (8 per user), which adds the
// index entry, the keyspace and expires dict entries and allocator
// overhead (BenchmarkCreateRedis reports it as redis-bytes/session).
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
