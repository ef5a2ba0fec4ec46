package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// HandleLen is the length of Info.Handle: a prefix of the key hash
// (96 bits), enough to name a session among one user's, useless for
// forging a cookie.
const HandleLen = 16

// Store is the Redis session store. Safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	cfg     Config
	scripts scripts
	clock   redisClock     // Redis TIME offset, for fences
	oomAt   atomic.Int64   // unix ns of the last write refused with OOM; 0 after a write succeeds
	bg      sync.WaitGroup // background clean-ups (see Drain)

	idleMS, absMS       int64
	idleArg, touchArg   string // idle and threshold in ms, preformatted
	sessPrefix, idxPref string // KeyPrefix+"s:", KeyPrefix+"u:"
}

// New returns a Store on rdb (a *redis.Client, or a *redis.ClusterClient
// for Redis Cluster). Zero Config fields take their defaults; invalid
// ones are reported naming the field.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("session: New: nil Redis client")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		rdb:        rdb,
		cfg:        c,
		scripts:    newScripts(),
		idleMS:     c.IdleTimeout.Milliseconds(),
		absMS:      c.AbsoluteTimeout.Milliseconds(),
		sessPrefix: c.KeyPrefix + "s:",
		idxPref:    c.KeyPrefix + "u:",
	}
	s.clock.every = clockSyncEvery
	s.idleArg = strconv.FormatInt(s.idleMS, 10)
	s.touchArg = strconv.FormatInt(c.TouchThreshold.Milliseconds(), 10)
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Store) Config() Config { return s.cfg }

func backendErr(op string, err error) error {
	return fmt.Errorf("session: %s: %w: %w", op, ErrBackend, err)
}

func (s *Store) indexKey(uid string) string { return s.idxPref + uid }

func (s *Store) sessionKeyFromHash(hash string) string { return s.sessPrefix + hash }

// Create starts a session for ns and returns its new ID (the cookie
// value: never log it) and the stored record. It writes the user index
// entry first, then the session; then it destroys ns.Replaces (if set)
// and enforces MaxSessionsPerUser.
//
// The session write is the commit point. A Create that returns an error
// leaves nothing behind: a write Redis refused changed nothing, a write
// whose reply did not come in time cannot run after ctx's deadline (see
// the fence in scripts.go) and is undone in the background if it ran
// before (Drain waits for that). The error wraps ErrBackend and
// ErrNotApplied or ErrOutcomeUnknown; ErrOutOfMemory when Redis is full.
// Destroying ns.Replaces and the cap are best effort once the session
// exists: Session.Replaced says whether the replaced session was ended,
// and the cap is enforced again by the next Create.
func (s *Store) Create(ctx context.Context, ns NewSession) (string, *Session, error) {
	ua, err := checkNewSession(&ns)
	if err != nil {
		return "", nil, err
	}
	data, err := normalizeData(ns.Data, s.cfg.MaxDataBytes)
	if err != nil {
		return "", nil, err
	}
	if len(ns.Sealed) > 0 && s.cfg.Sealer == nil {
		return "", nil, ErrNoSealer
	}
	id, err := newID()
	if err != nil {
		return "", nil, err
	}
	var sum [sha256.Size]byte
	kb, _ := appendSessionKey(make([]byte, 0, len(s.sessPrefix)+keyHashLen), s.cfg.KeyPrefix, id, &sum)
	key := string(kb)
	v1 := s.cfg.WriteFormat == 1
	if v1 {
		key = legacyKey(s.cfg.KeyPrefix, &sum)
	}
	member := key[len(s.sessPrefix):]

	// The session write must land within createGrace of the index
	// write (readers prune older index entries whose session is
	// missing), and never after the caller gave up.
	fence, err := s.fence(ctx, time.Now().Add(createGrace))
	if err != nil {
		return "", nil, fmt.Errorf("session: create: %w", err)
	}
	now := s.cfg.Now()
	nowMS := now.UnixMilli()
	abs := nowMS + s.absMS
	exp := min(nowMS+s.idleMS, abs)
	rec := record{
		UserID: ns.UserID, Email: ns.Email, Tenant: ns.Tenant,
		CreatedAt: nowMS, AuthTime: toMS(ns.AuthTime),
		UserAgent: ns.UserAgent, ClientIP: ns.ClientIP, UA: ua,
	}
	script, args, err := s.createArgs(&ns, &rec, &sum, v1, exp, abs, nowMS, data)
	if err != nil {
		return "", nil, err
	}

	idx := s.indexKey(ns.UserID)
	card, err := s.runWrite(ctx, s.scripts.indexAdd, fence, []string{idx}, nowMS, member, abs).Int64()
	if err != nil {
		werr := s.writeErr("create: index", err)
		if !errors.Is(werr, ErrNotApplied) {
			s.undoCreate(ctx, idx, member, "", false)
		}
		return "", nil, werr
	}
	if s.cfg.Now().Sub(now) > createGrace {
		s.undoCreate(ctx, idx, member, "", true)
		return "", nil, fmt.Errorf("session: create: %w: %w: index write took longer than %v; gave up", ErrBackend, ErrNotApplied, createGrace)
	}
	ok, err := s.runWrite(ctx, script, fence, []string{key}, args...).Int64()
	if err != nil {
		werr := s.writeErr("create: write", err)
		answered := errors.Is(werr, ErrNotApplied)
		sessKey := key
		if answered {
			sessKey = ""
		}
		s.undoCreate(ctx, idx, member, sessKey, answered)
		return "", nil, werr
	}
	if ok != 1 {
		s.undoCreate(ctx, idx, member, "", true)
		return "", nil, errors.New("session: create: session key already exists (random ID collision)")
	}
	s.wrote()
	sess := &Session{
		UserID: ns.UserID, Email: ns.Email, Tenant: ns.Tenant,
		CreatedAt: fromMS(nowMS), LastSeen: fromMS(nowMS),
		ExpiresAt: fromMS(exp), AbsoluteExpiry: fromMS(abs),
		AuthTime: fromMS(rec.AuthTime), UserAgent: ns.UserAgent, ClientIP: ns.ClientIP,
		Data: json.RawMessage(data), ua: rec.UA,
	}
	if len(ns.Sealed) > 0 {
		sess.Sealed = ns.Sealed
	}
	if ns.Replaces != "" && ns.Replaces != id {
		// The cap below re-reads the index, so it sees this one gone.
		sess.Replaced = s.Destroy(ctx, ns.Replaces) == nil
	}
	if s.cfg.MaxSessionsPerUser > 0 && card > int64(s.cfg.MaxSessionsPerUser) {
		// The new session exists whatever the cap does: its failure is
		// not the login's, and what it may have ended is reported.
		sess.CapEnded, sess.CapUncertain, _ = s.enforceCap(ctx, idx, member, nowMS)
	}
	return id, sess, nil
}

// createArgs returns the script and its arguments (after the fence)
// that write a new session in the configured format. Format 1 (v1) is
// what sessiond wrote before format 2, field for field: the packed
// format-1 record (a user agent longer than 512 bytes is kept as its
// prefix, and compared by it, as then; rec.UA says so), sealed fields
// under the whole SHA-256 as AAD.
func (s *Store) createArgs(ns *NewSession, rec *record, sum *[sha256.Size]byte, v1 bool, exp, abs, nowMS int64, data string) (*redis.Script, []any, error) {
	var aad []byte
	if v1 {
		rec.UA = uaForm{legacy: true}
		aad = sum[:]
	} else {
		aad = sum[:keyHashLen]
	}
	var blob []byte
	if len(ns.Sealed) > 0 {
		var err error
		if blob, err = s.sealMap(ns.Sealed, aad); err != nil {
			return nil, nil, err
		}
	}
	if !v1 {
		return s.scripts.create, []any{exp, encodeV2(abs, nowMS, rec, data, blob)}, nil
	}
	args := []any{exp, abs, nowMS, encodeRecordV1(rec), data}
	if blob != nil {
		args = append(args, blob)
	}
	return s.scripts.createV1, args, nil
}

// undoCreate removes what a failed Create may have written: its session
// key (when sessKey is set: the write's outcome is unknown) and its
// index entry. Both are always safe to remove: the caller never got the
// ID. When Redis answered (answered: it is up) it tries at once, within
// ctx's time; what remains is retried in the background for up to
// cleanupTimeout (a paused Redis runs it when it resumes).
func (s *Store) undoCreate(ctx context.Context, idx, member, sessKey string, answered bool) {
	undo := func(ctx context.Context) error {
		if sessKey != "" {
			if err := s.rdb.Del(ctx, sessKey).Err(); err != nil {
				return err
			}
		}
		return s.rdb.ZRem(ctx, idx, member).Err()
	}
	if answered && ctx.Err() == nil && undo(context.WithoutCancel(ctx)) == nil {
		return
	}
	s.background(undo)
}

// createdMS recovers an index entry's creation time from its score.
func (s *Store) createdMS(score float64) int64 { return int64(score) - s.absMS }

// staleMissing reports whether an index entry whose session is missing
// may be pruned: it is old enough that no Create can still be writing it.
func (s *Store) staleMissing(score float64, nowMS int64) bool {
	return s.createdMS(score) < nowMS-createGrace.Milliseconds() || int64(score) <= nowMS
}

// indexEntries reads a user index, oldest first, and whether each
// entry's session key still exists (one pipelined round trip of EXISTS).
func (s *Store) indexEntries(ctx context.Context, idx string) ([]redis.Z, []bool, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil || len(zs) == 0 {
		if err != nil {
			err = fmt.Errorf("read index: %w", err)
		}
		return nil, nil, err
	}
	cmds := make([]*redis.IntCmd, len(zs))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			cmds[i] = p.Exists(ctx, s.sessionKeyFromHash(z.Member.(string)))
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("check sessions: %w", err)
	}
	exists := make([]bool, len(zs))
	for i, c := range cmds {
		exists[i] = c.Val() == 1
	}
	return zs, exists, nil
}

// enforceCap ends sessions of an index beyond MaxSessionsPerUser, never
// keep (the session just created), and prunes stale entries on the way.
// It ends the least recently used sessions first, and one used within
// Config.InUseWindow only when no other is left: OBJECT IDLETIME tells
// the seconds since any command read a session (including GET
// /v1/sessions, which reads them all), without itself touching the key.
// Where Redis does not track idle time (an LFU policy) it ends the
// oldest sessions first. It returns the handles of the sessions it ended
// and of those whose delete may or may not have run (Redis did not
// answer in time).
func (s *Store) enforceCap(ctx context.Context, idx, keep string, nowMS int64) (ended, uncertain []string, err error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, nil, backendErr("create: cap: read index", err)
	}
	idle := make([]*redis.DurationCmd, len(zs))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			idle[i] = p.ObjectIdleTime(ctx, s.sessionKeyFromHash(z.Member.(string)))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) && !isReplyErr(err) {
		return nil, nil, backendErr("create: cap: idle times", err)
	}
	type cand struct {
		member string
		score  float64
		idle   time.Duration
	}
	var live []cand
	var drop []string
	for i, z := range zs {
		m := z.Member.(string)
		if m == keep {
			continue
		}
		d, err := idle[i].Result()
		switch {
		case errors.Is(err, redis.Nil): // the session is gone
			if s.staleMissing(z.Score, nowMS) {
				drop = append(drop, m)
			}
		case int64(z.Score) <= nowMS:
			drop = append(drop, m) // past absolute expiry
		case err != nil: // idle time not tracked: creation order decides
			live = append(live, cand{m, z.Score, 0})
		default:
			live = append(live, cand{m, z.Score, d})
		}
	}
	excess := len(live) + 1 - s.cfg.MaxSessionsPerUser
	if excess > 0 {
		window := s.cfg.InUseWindow
		sort.SliceStable(live, func(a, b int) bool {
			ia, ib := live[a].idle >= window, live[b].idle >= window
			if ia != ib {
				return ia // sessions not in use first
			}
			if live[a].idle != live[b].idle {
				return live[a].idle > live[b].idle
			}
			return live[a].score < live[b].score // then the oldest
		})
		keys := make([]string, excess)
		for i := range keys {
			keys[i] = s.sessionKeyFromHash(live[i].member)
			drop = append(drop, live[i].member)
		}
		fence, err := s.fence(ctx, time.Time{})
		if err != nil {
			return nil, nil, fmt.Errorf("session: create: cap: %w", err)
		}
		outcomes, err := s.delKeys(ctx, "create: cap", fence, keys)
		for i, o := range outcomes {
			switch o {
			case delDone:
				ended = append(ended, memberHandle(live[i].member))
			case delUnknown: // it may have run: an audit must not lose it
				uncertain = append(uncertain, memberHandle(live[i].member))
			}
		}
		if err != nil {
			return ended, uncertain, err
		}
	}
	return ended, uncertain, s.zrem(ctx, "create: cap: prune index", idx, drop)
}

// isReplyErr reports an error answer of Redis (not a transport failure).
func isReplyErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// delOutcome is what became of one key delKeys was asked to delete.
type delOutcome uint8

const (
	delNotDone delOutcome = iota // not deleted: already gone, or Redis refused the script
	delDone                      // Redis answered that it deleted the key
	delUnknown                   // no answer: the script may have run
)

// delKeys deletes keys with delLua under one fence, pipelined (one EVAL
// per key, so each touches one key and the pipeline works on a cluster),
// and reports each key's outcome, also on error; the error says whether
// any delete may have happened (ErrOutcomeUnknown) or none did.
func (s *Store) delKeys(ctx context.Context, op string, fence *fenced, keys []string) ([]delOutcome, error) {
	out := make([]delOutcome, len(keys))
	run := func() error {
		cmds := make([]*redis.Cmd, len(keys))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = s.scripts.del.Eval(ctx, p, []string{k}, fence.arg)
			}
			return nil
		})
		for i, c := range cmds {
			n, cerr := c.Int64()
			switch {
			case out[i] == delDone: // a retry finds it gone: it was this call's
			case cerr == nil && n == 1:
				out[i] = delDone
			case cerr == nil || isReplyErr(cerr): // gone, or refused: not run
				if out[i] != delUnknown {
					out[i] = delNotDone
				}
			default: // no reply (timeout, broken connection): it may have run
				out[i] = delUnknown
			}
		}
		return err
	}
	err := run()
	if err != nil && s.refreshable(ctx, fence, err) {
		err = run()
	}
	if err != nil {
		some := false
		for _, o := range out {
			some = some || o != delNotDone
		}
		werr := s.writeErr(op, err)
		if some && errors.Is(werr, ErrNotApplied) {
			// Some deletes ran, some were refused: not "not applied".
			werr = fmt.Errorf("session: %s: %w: %w: some deletes ran, some failed: %w", op, ErrBackend, ErrOutcomeUnknown, err)
		}
		return out, werr
	}
	return out, nil
}

func (s *Store) zrem(ctx context.Context, op, idx string, members []string) error {
	if len(members) == 0 {
		return nil
	}
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	if err := s.rdb.ZRem(ctx, idx, args...).Err(); err != nil {
		return backendErr(op, err)
	}
	return nil
}

// Validate returns the live session for id, sliding its idle expiry when
// more than TouchThreshold has passed since the last write (then
// Session.Touched is true). One Redis round trip (two when id names no
// session: then the key of the other record format is tried too). Errors:
// ErrMalformedID (no Redis call made), ErrNotFound, ErrExpired, or
// ErrBackend-wrapped.
func (s *Store) Validate(ctx context.Context, id string) (*Session, error) {
	return s.validate(ctx, id, false)
}

// Sealed is Validate that also returns the decrypted sealed fields in
// Session.Sealed (nil when the session has none). Use it only where the
// secrets are needed: decrypting costs more than a plain Validate.
// Errors as Validate, and ErrSealOpen when the fields cannot be
// decrypted (key rotated out, tampered), ErrNoSealer when the session
// has sealed fields but the store no Sealer.
func (s *Store) Sealed(ctx context.Context, id string) (*Session, error) {
	return s.validate(ctx, id, true)
}

func (s *Store) validate(ctx context.Context, id string, wantSealed bool) (*Session, error) {
	var sum [sha256.Size]byte
	var kbuf [64]byte
	kb, ok := appendSessionKey(kbuf[:0], s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return nil, ErrMalformedID
	}
	nowMS := s.cfg.Now().UnixMilli()
	flag := "0"
	if wantSealed {
		flag = "1"
	}
	// Look first where this store writes: with WriteFormat 1 (a rolling
	// upgrade) nearly every session is format 1.
	v1First := s.cfg.WriteFormat == 1
	if v1First {
		if sess, err := s.validateV1(ctx, &sum, nowMS, flag); !errors.Is(err, ErrNotFound) {
			return sess, err
		}
	}
	var now6 [6]byte
	append48(now6[:0], nowMS)
	res, err := s.scripts.validate.Run(ctx, s.rdb, []string{string(kb)}, nowMS, s.idleArg, s.touchArg, flag, now6[:]).Slice()
	if errors.Is(err, redis.Nil) {
		if v1First {
			return nil, ErrNotFound
		}
		return s.validateV1(ctx, &sum, nowMS, flag)
	}
	if err != nil {
		return nil, backendErr("validate", err)
	}
	if len(res) == 1 {
		return nil, ErrExpired
	}
	if len(res) != 2 {
		return nil, backendErr("validate", fmt.Errorf("unexpected reply of %d elements", len(res)))
	}
	st, _ := res[0].(int64)
	val, _ := res[1].(string)
	v, err := splitV2([]byte(val))
	if err != nil || !v.complete {
		return nil, backendErr("validate", fmt.Errorf("corrupt session record: %w", err))
	}
	last := v.last
	if st == 1 {
		last = nowMS
	}
	sess, err := s.sessionOf(v.abs, last, v.rec, v.data, st == 1)
	if err != nil {
		return nil, backendErr("validate", err)
	}
	if wantSealed && len(v.sealed) > 0 {
		if sess.Sealed, err = s.openMap(v.sealed, sum[:keyHashLen]); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// sessionOf builds a Session from the parts of a format-2 value.
func (s *Store) sessionOf(abs, last int64, recb, data []byte, touched bool) (*Session, error) {
	var rec record
	if err := decodeRecordV2(abs, recb, &rec); err != nil {
		return nil, err
	}
	d := json.RawMessage("{}")
	if len(data) > 0 {
		d = json.RawMessage(data)
	}
	return &Session{
		UserID: rec.UserID, Email: rec.Email, Tenant: rec.Tenant,
		CreatedAt: fromMS(rec.CreatedAt), LastSeen: fromMS(last),
		ExpiresAt: fromMS(min(last+s.idleMS, abs)), AbsoluteExpiry: fromMS(abs),
		AuthTime: fromMS(rec.AuthTime), UserAgent: rec.UserAgent, ClientIP: rec.ClientIP,
		Data: d, Touched: touched, ua: rec.UA,
	}, nil
}

// validateV1 validates a format-1 session (created before format 2).
func (s *Store) validateV1(ctx context.Context, sum *[sha256.Size]byte, nowMS int64, flag string) (*Session, error) {
	res, err := s.scripts.validateV1.Run(ctx, s.rdb, []string{legacyKey(s.cfg.KeyPrefix, sum)}, nowMS, s.idleArg, s.touchArg, flag).Slice()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, ErrNotFound
		}
		return nil, backendErr("validate", err)
	}
	sess, err := s.decodeValidateV1(res)
	if err != nil {
		return nil, err
	}
	if flag == "1" {
		if blob, ok := res[5].(string); ok && blob != "" {
			if sess.Sealed, err = s.openMap([]byte(blob), sum[:]); err != nil {
				return nil, err
			}
		}
	}
	return sess, nil
}

// decodeValidateV1 turns validateV1Lua's reply into a Session.
func (s *Store) decodeValidateV1(res []any) (*Session, error) {
	if len(res) == 1 {
		return nil, ErrExpired
	}
	if len(res) < 6 {
		return nil, backendErr("validate", fmt.Errorf("unexpected reply of %d elements", len(res)))
	}
	st, _ := res[0].(int64)
	last, err1 := parseMS(res[1])
	abs, err2 := parseMS(res[2])
	recStr, _ := res[3].(string)
	data, _ := res[4].(string)
	if err1 != nil || err2 != nil {
		return nil, backendErr("validate", errors.New("corrupt timestamps in session record"))
	}
	var rec record
	if err := decodeRecordV1([]byte(recStr), &rec); err != nil {
		return nil, backendErr("validate", err)
	}
	return &Session{
		UserID: rec.UserID, Email: rec.Email, Tenant: rec.Tenant,
		CreatedAt: fromMS(rec.CreatedAt), LastSeen: fromMS(last),
		ExpiresAt: fromMS(min(last+s.idleMS, abs)), AbsoluteExpiry: fromMS(abs),
		AuthTime: fromMS(rec.AuthTime), UserAgent: rec.UserAgent, ClientIP: rec.ClientIP,
		Data:    json.RawMessage(data),
		Touched: st == 1,
		ua:      rec.UA,
	}, nil
}

func parseMS(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseInt(x, 10, 64)
	case int64:
		return x, nil
	}
	return 0, fmt.Errorf("not a timestamp: %T", v)
}

// Destroy deletes the session for id, then its user-index entry. After
// Destroy returns nil no concurrent or later call can revive it. A
// session that does not exist gives ErrNotFound (callers logging out
// may ignore it). A Redis failure wraps ErrBackend with ErrNotApplied or
// ErrOutcomeUnknown; either way the delete never runs after ctx's
// deadline.
func (s *Store) Destroy(ctx context.Context, id string) error {
	var sum [sha256.Size]byte
	kb, ok := appendSessionKey(nil, s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return ErrMalformedID
	}
	fence, err := s.fence(ctx, time.Time{})
	if err != nil {
		return fmt.Errorf("session: destroy: %w", err)
	}
	err = s.destroyKey(ctx, string(kb), fence)
	if errors.Is(err, ErrNotFound) {
		return s.destroyKey(ctx, legacyKey(s.cfg.KeyPrefix, &sum), fence)
	}
	return err
}

func (s *Store) destroyKey(ctx context.Context, key string, fence *fenced) error {
	r, err := s.runWrite(ctx, s.scripts.destroy, fence, []string{key}).Text()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		return s.writeErr("destroy", err)
	}
	uid, ok := recordUID([]byte(r))
	if !ok {
		// The session is gone, which is what matters; its index entry
		// (if any) is stale and GC prunes it.
		return nil
	}
	// The session is gone: a stale index entry left by a failed ZREM is
	// tolerated by every reader and pruned later, so it is no failure.
	_ = s.zrem(ctx, "destroy: index", s.indexKey(uid), []string{key[len(s.sessPrefix):]})
	return nil
}

// recordUID reads the uid of a format-2 value or a format-1 record.
func recordUID(b []byte) (string, bool) {
	var rec record
	if len(b) > 0 && b[0] == recordV2 {
		v, err := splitV2(b)
		if err != nil || decodeRecordV2(v.abs, v.rec, &rec) != nil {
			return "", false
		}
		return rec.UserID, true
	}
	if decodeRecordV1(b, &rec) != nil {
		return "", false
	}
	return rec.UserID, true
}

// DestroyHandle destroys one of userID's sessions named by its
// Info.Handle (for "log out that device"). ErrNotFound if userID has no
// such session: another user's handle is never looked up, so it cannot
// be probed. Redis failures as for Destroy.
func (s *Store) DestroyHandle(ctx context.Context, userID, handle string) error {
	if len(handle) != HandleLen {
		return ErrNotFound
	}
	fence, err := s.fence(ctx, time.Time{})
	if err != nil {
		return fmt.Errorf("session: destroy handle: %w", err)
	}
	members, err := s.rdb.ZRange(ctx, s.indexKey(userID), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("session: destroy handle: read index: %w: %w: %w", ErrBackend, ErrNotApplied, err)
	}
	for _, m := range members {
		if memberHandle(m) == handle {
			return s.destroyKey(ctx, s.sessionKeyFromHash(m), fence)
		}
	}
	return ErrNotFound
}

// UpdateData replaces the custom data of a live session, keeping its
// TTL. It never recreates a destroyed session (ErrNotFound), and never
// runs after ctx's deadline (so a late update cannot overwrite a newer
// one).
func (s *Store) UpdateData(ctx context.Context, id string, data json.RawMessage) error {
	if !ValidID(id) {
		return ErrMalformedID
	}
	d, err := normalizeData(data, s.cfg.MaxDataBytes)
	if err != nil {
		return err
	}
	return s.rewrite(ctx, "update data", id, "d", func(_ []byte, legacy bool) ([]byte, error) {
		if legacy {
			return []byte(d), nil // the "d" field
		}
		return appendData(nil, d), nil // the data section
	})
}

// rewrite replaces one part of a live session of either format: its data
// ("d") or its sealed blob ("s"). value returns the new bytes for a
// format-2 session (legacy false) or the new field of a format-1 one,
// given the session's key hash (the AAD of a sealed blob). Errors:
// ErrMalformedID, ErrNotFound, ErrExpired, value's error, or a write
// error (see Destroy).
func (s *Store) rewrite(ctx context.Context, op, id, what string, value func(aad []byte, legacy bool) ([]byte, error)) error {
	var sum [sha256.Size]byte
	kb, ok := appendSessionKey(nil, s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return ErrMalformedID
	}
	fence, err := s.fence(ctx, time.Time{})
	if err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	nowMS := s.cfg.Now().UnixMilli()
	b, err := value(sum[:keyHashLen], false)
	if err != nil {
		return err
	}
	n, err := s.runWrite(ctx, s.scripts.rewrite, fence, []string{string(kb)}, nowMS, s.idleArg, what, b).Int64()
	if err == nil && n == 0 {
		if b, err = value(sum[:], true); err != nil {
			return err
		}
		n, err = s.runWrite(ctx, s.scripts.rewriteV1, fence, []string{legacyKey(s.cfg.KeyPrefix, &sum)}, nowMS, s.idleArg, what, b).Int64()
	}
	if err != nil {
		return s.writeErr(op, err)
	}
	switch n {
	case 1:
		s.wrote()
		return nil
	case -1:
		return ErrExpired
	}
	return ErrNotFound
}

// listPrefix is how much of a format-2 value List reads: enough for the
// header and the longest record, never the data or sealed fields beyond.
const listPrefix = v2HeaderLen + 2*binary.MaxVarintLen32 + 1 + 3*binary.MaxVarintLen64 +
	4*binary.MaxVarintLen16 + maxUserIDLen + maxEmailLen + maxTenantLen + maxUserAgentLen + sha256.Size + maxClientIPLen

// List returns userID's live sessions, oldest first. currentID (may be
// empty) marks the caller's own session with Current. Stale index
// entries met on the way are pruned.
func (s *Store) List(ctx context.Context, userID, currentID string) ([]Info, error) {
	idx := s.indexKey(userID)
	zs, err := s.rdb.ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, backendErr("list: read index", err)
	}
	out := []Info{}
	if len(zs) == 0 {
		return out, nil
	}
	v2 := make([]*redis.StringCmd, len(zs))
	v1 := make([]*redis.SliceCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			m := z.Member.(string)
			key := s.sessionKeyFromHash(m)
			if len(m) == legacyHashLen {
				v1[i] = p.HMGet(ctx, key, "a", "l", "r")
			} else {
				v2[i] = p.GetRange(ctx, key, 0, listPrefix-1)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !isReplyErr(err) {
		return nil, backendErr("list: read sessions", err)
	}
	current, _ := Handle(currentID)
	nowMS := s.cfg.Now().UnixMilli()
	var drop []string
	for i, z := range zs {
		m := z.Member.(string)
		abs, last, rec, found := s.listEntry(v1[i], v2[i])
		if !found {
			if s.staleMissing(z.Score, nowMS) {
				drop = append(drop, m)
			}
			continue
		}
		if rec == nil {
			continue // corrupt: GC reports it
		}
		exp := min(last+s.idleMS, abs)
		if exp <= nowMS {
			continue
		}
		h := memberHandle(m)
		out = append(out, Info{
			Handle:    h,
			CreatedAt: fromMS(rec.CreatedAt),
			LastSeen:  fromMS(last),
			ExpiresAt: fromMS(exp),
			UserAgent: rec.UserAgent,
			ClientIP:  rec.ClientIP,
			Current:   h == current && current != "",
		})
	}
	if err := s.zrem(ctx, "list: prune index", idx, drop); err != nil {
		return nil, err
	}
	return out, nil
}

// listEntry decodes one session List read: found is false when the key
// is missing; rec is nil when it exists but does not decode.
func (s *Store) listEntry(v1 *redis.SliceCmd, v2 *redis.StringCmd) (abs, last int64, rec *record, found bool) {
	rec = new(record)
	if v2 != nil {
		b, err := v2.Bytes()
		if err != nil || len(b) == 0 { // GETRANGE of a missing key is ""
			return 0, 0, nil, err != nil && !errors.Is(err, redis.Nil)
		}
		v, err := splitV2(b)
		if err != nil || decodeRecordV2(v.abs, v.rec, rec) != nil {
			return 0, 0, nil, true
		}
		return v.abs, v.last, rec, true
	}
	vals := v1.Val()
	if len(vals) != 3 || vals[0] == nil || vals[1] == nil || vals[2] == nil {
		return 0, 0, nil, v1.Err() != nil
	}
	abs, err1 := parseMS(vals[0])
	last, err2 := parseMS(vals[1])
	rs, _ := vals[2].(string)
	if err1 != nil || err2 != nil || decodeRecordV1([]byte(rs), rec) != nil {
		return 0, 0, nil, true
	}
	return abs, last, rec, true
}

// DestroyAll destroys every session of userID ("log out everywhere")
// and returns how many live sessions it deleted. It reports success only
// when no session of the user can remain: if Redis has evicted keys in
// the last AbsoluteTimeout (possible only under an evicting
// maxmemory-policy), the index may have lost entries and it returns the
// count with ErrLogoutUnconfirmed. Redis failures as for Destroy; no
// delete runs after ctx's deadline.
func (s *Store) DestroyAll(ctx context.Context, userID string) (int, error) {
	fence, err := s.fence(ctx, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("session: destroy all: %w", err)
	}
	idx := s.indexKey(userID)
	zs, err := s.rdb.ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("session: destroy all: read index: %w: %w: %w", ErrBackend, ErrNotApplied, err)
	}
	n := 0
	if len(zs) > 0 {
		keys := make([]string, len(zs))
		for i, z := range zs {
			keys[i] = s.sessionKeyFromHash(z.Member.(string))
		}
		outcomes, err := s.delKeys(ctx, "destroy all", fence, keys)
		if err != nil {
			return 0, err
		}
		nowMS := s.cfg.Now().UnixMilli()
		var drop []string
		for i, z := range zs {
			m := z.Member.(string)
			if outcomes[i] == delDone {
				n++
				drop = append(drop, m)
			} else if s.staleMissing(z.Score, nowMS) {
				drop = append(drop, m)
			}
		}
		// The sessions are gone; entries a failed ZREM leaves are stale
		// and tolerated.
		_ = s.zrem(ctx, "destroy all: prune index", idx, drop)
	}
	risk, err := s.evictionRisk(ctx)
	if err != nil {
		return n, fmt.Errorf("%w (%w: %w)", ErrLogoutUnconfirmed, ErrBackend, err)
	}
	if risk {
		return n, ErrLogoutUnconfirmed
	}
	return n, nil
}

// Ping checks that Redis answers (every master on a cluster), for
// /readyz.
func (s *Store) Ping(ctx context.Context) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
		if err != nil {
			return backendErr("ping", err)
		}
		return nil
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return backendErr("ping", err)
	}
	return nil
}

// checkNewSession validates and trims the fields of ns in place, and
// returns how the user agent it keeps compares with later requests.
func checkNewSession(ns *NewSession) (uaForm, error) {
	switch {
	case ns.UserID == "":
		return uaForm{}, fmt.Errorf("%w: UserID is empty; pass the token's uid", ErrInvalidSession)
	case len(ns.UserID) > maxUserIDLen:
		return uaForm{}, fmt.Errorf("%w: UserID is %d bytes; at most %d", ErrInvalidSession, len(ns.UserID), maxUserIDLen)
	case len(ns.Email) > maxEmailLen:
		return uaForm{}, fmt.Errorf("%w: Email is %d bytes; at most %d", ErrInvalidSession, len(ns.Email), maxEmailLen)
	case len(ns.Tenant) > maxTenantLen:
		return uaForm{}, fmt.Errorf("%w: Tenant is %d bytes; at most %d", ErrInvalidSession, len(ns.Tenant), maxTenantLen)
	}
	var ua uaForm
	ns.UserAgent, ua = uaFormOf(ns.UserAgent)
	if len(ns.ClientIP) > maxClientIPLen {
		ns.ClientIP = ns.ClientIP[:maxClientIPLen]
	}
	return ua, nil
}

// normalizeData checks that d is a JSON object of at most max bytes once
// compacted, and returns it compacted ("{}" for empty input).
func normalizeData(d json.RawMessage, max int) (string, error) {
	t := bytes.TrimSpace(d)
	if len(t) == 0 {
		return "{}", nil
	}
	if len(t) > 4*max+1024 {
		return "", fmt.Errorf("%w: %d bytes, limit Config.MaxDataBytes=%d", ErrDataTooLarge, len(t), max)
	}
	if t[0] != '{' || !json.Valid(t) {
		return "", fmt.Errorf("%w: got %.20q", ErrInvalidData, t)
	}
	// json.Valid accepts invalid UTF-8 inside strings and Compact copies
	// it through; RFC 8259 requires UTF-8, and clients reading the data
	// back would choke on it (or silently get U+FFFD).
	if !utf8.Valid(t) {
		return "", fmt.Errorf("%w: not valid UTF-8 (RFC 8259 requires it)", ErrInvalidData)
	}
	var buf bytes.Buffer
	buf.Grow(len(t))
	if err := json.Compact(&buf, t); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	if buf.Len() > max {
		return "", fmt.Errorf("%w: %d bytes, limit Config.MaxDataBytes=%d", ErrDataTooLarge, buf.Len(), max)
	}
	return buf.String(), nil
}

// nowMS is the store's clock in unix ms.
func (s *Store) nowMS() int64 { return s.cfg.Now().UnixMilli() }
