package session

// This file holds what callers depend on: the API interface, the records
// it returns and the sentinel errors that decide 401 versus 503.

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors returned by Store methods. Callers test them with errors.Is.
// Any other error means the backend failed (Redis down, timeout) and the
// caller must fail closed (HTTP 503), never treat the session as valid.
var (
	// ErrMalformedID: the presented ID is not 43 chars of base64url
	// (32 bytes). Returned before any Redis call.
	ErrMalformedID = errors.New("session: malformed session id")
	// ErrNotFound: no live session has this ID (never existed, destroyed,
	// or expired by TTL).
	ErrNotFound = errors.New("session: not found")
	// ErrExpired: the record exists but its absolute expiry has passed;
	// the store deletes it before returning.
	ErrExpired = errors.New("session: expired")
	// ErrDataTooLarge: custom data exceeds Config.MaxDataBytes.
	ErrDataTooLarge = errors.New("session: data too large")
	// ErrInvalidData: custom data is not a JSON object.
	ErrInvalidData = errors.New("session: data must be a JSON object")
)

// NewSession is what Create needs to start a session.
type NewSession struct {
	UserID    string            // Firebase uid, required
	Email     string            // optional
	Tenant    string            // optional Firebase tenant id
	AuthTime  time.Time         // the token's auth_time
	UserAgent string            // request User-Agent, stored for binding
	ClientIP  string            // request client IP
	Data      json.RawMessage   // optional JSON object, ≤ Config.MaxDataBytes
	Sealed    map[string][]byte // optional secrets, encrypted with Config.Sealer
	// Replaces is the ID of a session this one replaces (the cookie a
	// browser presented when it logged in again): Create destroys it once
	// the new session exists, whoever it belonged to. Optional.
	Replaces string
}

// Session is a live session record as read back from Redis. It never
// carries the raw session ID.
type Session struct {
	UserID         string
	Email          string
	Tenant         string
	CreatedAt      time.Time
	LastSeen       time.Time // time of the last recorded touch (write)
	ExpiresAt      time.Time // min(idle expiry, absolute expiry) as of LastSeen
	AbsoluteExpiry time.Time
	AuthTime       time.Time
	UserAgent      string
	ClientIP       string
	Data           json.RawMessage   // JSON object, "{}" when none
	Sealed         map[string][]byte // decrypted; nil unless requested/present
	Touched        bool              // Validate wrote a new expiry this call
	Replaced       bool              // Create destroyed NewSession.Replaces
	// CapEnded holds the handles of the user's sessions Create ended to
	// stay within MaxSessionsPerUser (those it saw deleted), for audit.
	CapEnded []string
	// CapUncertain holds the handles of sessions Create tried to end for
	// the cap whose delete got no answer in time: they may have ended
	// (for audit; one still live counts towards the cap at the next
	// login).
	CapUncertain []string

	ua uaForm // how UserAgent compares with a request's header
}

// UserAgentMatches reports whether header (a request's User-Agent) is
// the header this session was created with. The store keeps the first
// 512 bytes for display and, for a longer header, the SHA-256 of all of
// it, and compares the same form of header: so a header longer than 512
// bytes matches itself, and only itself. (Sessions stored before record
// format 2 kept only the prefix: for them the prefixes are compared.)
func (s *Session) UserAgentMatches(header string) bool {
	return uaMatch(s.UserAgent, s.ua, header)
}

// Info is one entry of a user's session list (GET /v1/sessions). Handle
// is an opaque, non-secret reference (e.g. a prefix of the key hash) that
// identifies a session without revealing its ID.
type Info struct {
	Handle    string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	ClientIP  string    `json:"client_ip"`
	Current   bool      `json:"current"`
}

// GCReport is what `sessiond gc` prints as JSON.
type GCReport struct {
	// LiveSessions counts well-formed session records (either format).
	LiveSessions int64 `json:"live_sessions"`
	// LegacySessions counts those of them still in record format 1
	// (created before format 2); they expire by AbsoluteTimeout.
	LegacySessions int64 `json:"legacy_sessions"`
	// SealedByKey counts sessions with sealed fields by the key id they
	// are sealed under: a retired key may be removed once it is absent.
	SealedByKey map[string]int64 `json:"sealed_by_key"`
	// Users counts user indexes with entries left after pruning.
	Users int64 `json:"users"`
	// StaleIndexPruned counts index entries removed: past their absolute
	// expiry, or whose session is gone and that are older than 60 s (a
	// younger one may belong to a login still writing its session).
	StaleIndexPruned int64 `json:"stale_index_entries_pruned"`
	// KeysWithoutTTL counts session and index keys without a TTL (the
	// store never writes one: a bug or a foreign write).
	KeysWithoutTTL int64 `json:"keys_without_ttl"`
	// StrayKeys counts keys under the prefix that are neither a
	// well-formed session, a user index nor the store's eviction marker
	// (written by something else, or corrupt); StraySamples names up to
	// five of them (escaped as Go quotes them, without the quotes:
	// sb:s:x, or \xNN for raw bytes).
	StrayKeys    int64    `json:"stray_keys"`
	StraySamples []string `json:"stray_samples,omitempty"`
	ScannedKeys  int64    `json:"scanned_keys"`
	DurationMS   float64  `json:"duration_ms"`
}

// API is the behaviour the HTTP layer and loadgen's store driver rely on.
// *Store implements it. Every method returns ErrBackend (wrapped) when
// Redis fails; writes (Create, Destroy, UpdateData, DestroyAll,
// DestroyHandle) then also wrap ErrNotApplied or ErrOutcomeUnknown, and
// never take effect after ctx's deadline.
type API interface {
	// Create starts a session and returns its ID (the cookie value).
	// Errors: ErrInvalidSession, ErrInvalidData, ErrDataTooLarge,
	// ErrNoSealer (nothing written), or a backend error after which
	// nothing is left behind.
	Create(ctx context.Context, ns NewSession) (id string, s *Session, err error)
	// Validate returns the live session. Errors: ErrMalformedID (no
	// Redis call), ErrNotFound (never existed, destroyed, TTL expired),
	// ErrExpired (found past a deadline: deleted now).
	Validate(ctx context.Context, id string) (*Session, error)
	// Destroy ends the session. Errors: ErrMalformedID, ErrNotFound.
	Destroy(ctx context.Context, id string) error
	// UpdateData replaces the custom data, keeping the TTL. Errors:
	// ErrMalformedID, ErrNotFound, ErrExpired, ErrInvalidData,
	// ErrDataTooLarge.
	UpdateData(ctx context.Context, id string, data json.RawMessage) error
	// List returns userID's live sessions, oldest first (empty, not nil,
	// when none); currentID marks the caller's.
	List(ctx context.Context, userID string, currentID string) ([]Info, error)
	// DestroyAll ends every session of userID and returns how many.
	// ErrLogoutUnconfirmed (with the count) when Redis has evicted keys
	// recently: sessions of the user may remain.
	DestroyAll(ctx context.Context, userID string) (int, error)
	// DestroyHandle ends one of userID's sessions by its Info.Handle.
	// Errors: ErrNotFound when userID has no such session.
	DestroyHandle(ctx context.Context, userID, handle string) error
	// Ping checks that Redis answers.
	Ping(ctx context.Context) error
	// Backend reports Redis's eviction policy and memory state.
	Backend(ctx context.Context) (Backend, error)
}

var _ API = (*Store)(nil)
