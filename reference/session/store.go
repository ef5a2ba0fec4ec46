package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
// entry first, then the session, then enforces MaxSessionsPerUser.
func (s *Store) Create(ctx context.Context, ns NewSession) (string, *Session, error) {
	if err := checkNewSession(&ns); err != nil {
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
	member := key[len(s.sessPrefix):]

	now := s.cfg.Now()
	nowMS := now.UnixMilli()
	abs := nowMS + s.absMS
	exp := min(nowMS+s.idleMS, abs)
	rec := record{
		UserID: ns.UserID, Email: ns.Email, Tenant: ns.Tenant,
		CreatedAt: nowMS, AuthTime: toMS(ns.AuthTime),
		UserAgent: ns.UserAgent, ClientIP: ns.ClientIP,
	}
	args := []any{exp, abs, nowMS, encodeRecord(&rec), data}
	if len(ns.Sealed) > 0 {
		blob, err := s.cfg.Sealer.seal(encodeSealedMap(ns.Sealed), sum[:])
		if err != nil {
			return "", nil, err
		}
		args = append(args, blob)
	}

	idx := s.indexKey(ns.UserID)
	card, err := s.scripts.indexAdd.Run(ctx, s.rdb, []string{idx}, nowMS, member, abs).Int64()
	if err != nil {
		return "", nil, backendErr("create: index", err)
	}
	if s.cfg.Now().Sub(now) > createGrace {
		return "", nil, fmt.Errorf("session: create: %w: index write took longer than %v; gave up", ErrBackend, createGrace)
	}
	ok, err := s.scripts.create.Run(ctx, s.rdb, []string{key}, args...).Int64()
	if err != nil {
		return "", nil, backendErr("create: write", err)
	}
	if ok != 1 {
		return "", nil, errors.New("session: create: session key already exists (random ID collision)")
	}
	if s.cfg.MaxSessionsPerUser > 0 && card > int64(s.cfg.MaxSessionsPerUser) {
		if err := s.enforceCap(ctx, idx, member, nowMS); err != nil {
			return "", nil, err
		}
	}
	sess := &Session{
		UserID: ns.UserID, Email: ns.Email, Tenant: ns.Tenant,
		CreatedAt: fromMS(nowMS), LastSeen: fromMS(nowMS),
		ExpiresAt: fromMS(exp), AbsoluteExpiry: fromMS(abs),
		AuthTime: fromMS(rec.AuthTime), UserAgent: ns.UserAgent, ClientIP: ns.ClientIP,
		Data: json.RawMessage(data),
	}
	if len(ns.Sealed) > 0 {
		sess.Sealed = ns.Sealed
	}
	return id, sess, nil
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

// enforceCap destroys the oldest live sessions of an index beyond
// MaxSessionsPerUser (never keep, the session just created) and prunes
// stale entries on the way.
func (s *Store) enforceCap(ctx context.Context, idx, keep string, nowMS int64) error {
	zs, exists, err := s.indexEntries(ctx, idx)
	if err != nil {
		return backendErr("create: cap", err)
	}
	var live, drop []string
	for i, z := range zs {
		m := z.Member.(string)
		switch {
		case m == keep:
		case exists[i] && int64(z.Score) > nowMS:
			live = append(live, m)
		case s.staleMissing(z.Score, nowMS):
			drop = append(drop, m)
		}
	}
	excess := len(live) + 1 - s.cfg.MaxSessionsPerUser
	if excess > 0 {
		evict := live[:excess] // oldest first: scores ascend with creation
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range evict {
				p.Del(ctx, s.sessionKeyFromHash(m))
			}
			return nil
		})
		if err != nil {
			return backendErr("create: cap: evict", err)
		}
		drop = append(drop, evict...)
	}
	return s.zrem(ctx, "create: cap: prune index", idx, drop)
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
// Session.Touched is true). One Redis round trip. Errors: ErrMalformedID
// (no Redis call made), ErrNotFound, ErrExpired, or ErrBackend-wrapped.
func (s *Store) Validate(ctx context.Context, id string) (*Session, error) {
	return s.validate(ctx, id, false)
}

// Sealed is Validate that also returns the decrypted sealed fields in
// Session.Sealed (nil when the session has none). Use it only where the
// secrets are needed: decrypting costs more than a plain Validate.
func (s *Store) Sealed(ctx context.Context, id string) (*Session, error) {
	return s.validate(ctx, id, true)
}

func (s *Store) validate(ctx context.Context, id string, wantSealed bool) (*Session, error) {
	var sum [sha256.Size]byte
	var kbuf [128]byte
	kb, ok := appendSessionKey(kbuf[:0], s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return nil, ErrMalformedID
	}
	nowMS := s.cfg.Now().UnixMilli()
	flag := "0"
	if wantSealed {
		flag = "1"
	}
	res, err := s.scripts.validate.Run(ctx, s.rdb, []string{string(kb)}, nowMS, s.idleArg, s.touchArg, flag).Slice()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, ErrNotFound
		}
		return nil, backendErr("validate", err)
	}
	sess, err := s.decodeValidate(res, nowMS)
	if err != nil {
		return nil, err
	}
	if wantSealed {
		if blob, ok := res[5].(string); ok && blob != "" {
			if s.cfg.Sealer == nil {
				return nil, ErrNoSealer
			}
			plain, err := s.cfg.Sealer.open([]byte(blob), sum[:])
			if err != nil {
				return nil, err
			}
			if sess.Sealed, err = decodeSealedMap(plain); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSealOpen, err)
			}
		}
	}
	return sess, nil
}

// decodeValidate turns validateLua's reply into a Session.
func (s *Store) decodeValidate(res []any, nowMS int64) (*Session, error) {
	if len(res) == 1 {
		return nil, ErrExpired
	}
	if len(res) < 5 {
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
	if err := decodeRecord([]byte(recStr), &rec); err != nil {
		return nil, backendErr("validate", err)
	}
	return &Session{
		UserID: rec.UserID, Email: rec.Email, Tenant: rec.Tenant,
		CreatedAt: fromMS(rec.CreatedAt), LastSeen: fromMS(last),
		ExpiresAt: fromMS(min(last+s.idleMS, abs)), AbsoluteExpiry: fromMS(abs),
		AuthTime: fromMS(rec.AuthTime), UserAgent: rec.UserAgent, ClientIP: rec.ClientIP,
		Data:    json.RawMessage(data),
		Touched: st == 1,
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
// may ignore it).
func (s *Store) Destroy(ctx context.Context, id string) error {
	var sum [sha256.Size]byte
	kb, ok := appendSessionKey(nil, s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return ErrMalformedID
	}
	return s.destroyKey(ctx, string(kb))
}

func (s *Store) destroyKey(ctx context.Context, key string) error {
	r, err := s.scripts.destroy.Run(ctx, s.rdb, []string{key}).Text()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		return backendErr("destroy", err)
	}
	var rec record
	if err := decodeRecord([]byte(r), &rec); err != nil {
		// The session is gone, which is what matters; its index entry
		// (if any) is stale and GC prunes it.
		return nil
	}
	return s.zrem(ctx, "destroy: index", s.indexKey(rec.UserID), []string{key[len(s.sessPrefix):]})
}

// DestroyHandle destroys one of userID's sessions named by its
// Info.Handle (for "log out that device"). ErrNotFound if userID has no
// such session.
func (s *Store) DestroyHandle(ctx context.Context, userID, handle string) error {
	if len(handle) != HandleLen {
		return ErrNotFound
	}
	members, err := s.rdb.ZRange(ctx, s.indexKey(userID), 0, -1).Result()
	if err != nil {
		return backendErr("destroy handle: read index", err)
	}
	for _, m := range members {
		if strings.HasPrefix(m, handle) {
			return s.destroyKey(ctx, s.sessionKeyFromHash(m))
		}
	}
	return ErrNotFound
}

// UpdateData replaces the custom data of a live session, keeping its
// TTL. It never recreates a destroyed session (ErrNotFound).
func (s *Store) UpdateData(ctx context.Context, id string, data json.RawMessage) error {
	var sum [sha256.Size]byte
	kb, ok := appendSessionKey(nil, s.cfg.KeyPrefix, id, &sum)
	if !ok {
		return ErrMalformedID
	}
	d, err := normalizeData(data, s.cfg.MaxDataBytes)
	if err != nil {
		return err
	}
	n, err := s.scripts.update.Run(ctx, s.rdb, []string{string(kb)}, s.cfg.Now().UnixMilli(), s.idleArg, d).Int64()
	if err != nil {
		return backendErr("update data", err)
	}
	switch n {
	case 1:
		return nil
	case -1:
		return ErrExpired
	}
	return ErrNotFound
}

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
	cmds := make([]*redis.SliceCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			cmds[i] = p.HMGet(ctx, s.sessionKeyFromHash(z.Member.(string)), "a", "l", "r")
		}
		return nil
	})
	if err != nil {
		return nil, backendErr("list: read sessions", err)
	}
	current, _ := KeyHash(currentID)
	nowMS := s.cfg.Now().UnixMilli()
	var drop []string
	for i, z := range zs {
		m := z.Member.(string)
		v := cmds[i].Val()
		if len(v) != 3 || v[0] == nil || v[1] == nil || v[2] == nil {
			if s.staleMissing(z.Score, nowMS) {
				drop = append(drop, m)
			}
			continue
		}
		abs, err1 := parseMS(v[0])
		last, err2 := parseMS(v[1])
		rs, _ := v[2].(string)
		var rec record
		if err1 != nil || err2 != nil || decodeRecord([]byte(rs), &rec) != nil {
			continue
		}
		exp := min(last+s.idleMS, abs)
		if exp <= nowMS {
			continue
		}
		out = append(out, Info{
			Handle:    m[:HandleLen],
			CreatedAt: fromMS(rec.CreatedAt),
			LastSeen:  fromMS(last),
			ExpiresAt: fromMS(exp),
			UserAgent: rec.UserAgent,
			ClientIP:  rec.ClientIP,
			Current:   m == current,
		})
	}
	if err := s.zrem(ctx, "list: prune index", idx, drop); err != nil {
		return nil, err
	}
	return out, nil
}

// DestroyAll destroys every session of userID ("log out everywhere")
// and returns how many live sessions it deleted.
func (s *Store) DestroyAll(ctx context.Context, userID string) (int, error) {
	idx := s.indexKey(userID)
	zs, err := s.rdb.ZRangeWithScores(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, backendErr("destroy all: read index", err)
	}
	if len(zs) == 0 {
		return 0, nil
	}
	dels := make([]*redis.IntCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			dels[i] = p.Del(ctx, s.sessionKeyFromHash(z.Member.(string)))
		}
		return nil
	})
	if err != nil {
		return 0, backendErr("destroy all: delete sessions", err)
	}
	nowMS := s.cfg.Now().UnixMilli()
	n := 0
	var drop []string
	for i, z := range zs {
		m := z.Member.(string)
		if dels[i].Val() == 1 {
			n++
			drop = append(drop, m)
		} else if s.staleMissing(z.Score, nowMS) {
			drop = append(drop, m)
		}
	}
	return n, s.zrem(ctx, "destroy all: prune index", idx, drop)
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

// checkNewSession validates and trims the fields of ns in place.
func checkNewSession(ns *NewSession) error {
	switch {
	case ns.UserID == "":
		return fmt.Errorf("%w: UserID is empty; pass the token's uid", ErrInvalidSession)
	case len(ns.UserID) > maxUserIDLen:
		return fmt.Errorf("%w: UserID is %d bytes; at most %d", ErrInvalidSession, len(ns.UserID), maxUserIDLen)
	case len(ns.Email) > maxEmailLen:
		return fmt.Errorf("%w: Email is %d bytes; at most %d", ErrInvalidSession, len(ns.Email), maxEmailLen)
	case len(ns.Tenant) > maxTenantLen:
		return fmt.Errorf("%w: Tenant is %d bytes; at most %d", ErrInvalidSession, len(ns.Tenant), maxTenantLen)
	}
	if len(ns.UserAgent) > maxUserAgentLen {
		ns.UserAgent = ns.UserAgent[:maxUserAgentLen]
	}
	if len(ns.ClientIP) > maxClientIPLen {
		ns.ClientIP = ns.ClientIP[:maxClientIPLen]
	}
	return nil
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
