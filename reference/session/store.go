// Package session keeps server-side login sessions in Redis.
package session

// STUB written by the lead: the store owner replaces the bodies (and may
// restructure files), keeping New, Config's field names and the API.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

var errTODO = errors.New("session: not implemented yet")

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	// IdleTimeout is the sliding inactivity timeout. Default 30m.
	IdleTimeout time.Duration
	// AbsoluteTimeout caps a session's life from creation. Default 24h.
	AbsoluteTimeout time.Duration
	// TouchThreshold: Validate writes a new expiry only when the idle
	// window has shrunk by more than this. Default IdleTimeout/10.
	TouchThreshold time.Duration
	// MaxSessionsPerUser caps live sessions per user; the oldest are
	// evicted. Default 10; negative means no cap.
	MaxSessionsPerUser int
	// MaxDataBytes caps custom data size. Default 4096.
	MaxDataBytes int
	// KeyPrefix prefixes every key. Default "sb:".
	KeyPrefix string
	// Sealer encrypts NewSession.Sealed; nil means sealed fields are refused.
	Sealer *Sealer
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
}

// Store is the Redis session store. Safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
}

// Sealer encrypts sealed fields with AES-256-GCM under rotatable keys.
type Sealer struct{}

// New returns a Store on rdb (a single client, or a cluster client).
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	return &Store{rdb: rdb, cfg: cfg}, nil
}

func (s *Store) Create(ctx context.Context, ns NewSession) (string, *Session, error) {
	return "", nil, errTODO
}
func (s *Store) Validate(ctx context.Context, id string) (*Session, error) { return nil, errTODO }
func (s *Store) Destroy(ctx context.Context, id string) error              { return errTODO }
func (s *Store) UpdateData(ctx context.Context, id string, data json.RawMessage) error {
	return errTODO
}
func (s *Store) List(ctx context.Context, userID, currentID string) ([]Info, error) {
	return nil, errTODO
}
func (s *Store) DestroyAll(ctx context.Context, userID string) (int, error) { return 0, errTODO }
func (s *Store) Ping(ctx context.Context) error                             { return errTODO }

// GC scans the keyspace (SCAN, never KEYS), prunes stale index entries
// and reports. Safe while serving.
func (s *Store) GC(ctx context.Context) (GCReport, error) { return GCReport{}, errTODO }
