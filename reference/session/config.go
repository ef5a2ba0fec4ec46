package session

import (
	"fmt"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultIdleTimeout        = 30 * time.Minute
	DefaultAbsoluteTimeout    = 24 * time.Hour
	DefaultMaxSessionsPerUser = 10
	DefaultMaxDataBytes       = 4096
	DefaultKeyPrefix          = "sb:"
	DefaultInUseWindow        = time.Minute
)

// createGrace is how long an index entry may exist before its session:
// readers never prune an entry younger than this (its Create may still
// be writing the session), and Create gives up if its second write would
// come later than this after its first.
const createGrace = time.Minute

// Limits on NewSession fields. Longer user agents are truncated (they are
// untrusted display data); a longer uid, email or tenant is refused.
const (
	maxUserIDLen    = 256
	maxEmailLen     = 320
	maxTenantLen    = 256
	maxUserAgentLen = 512
	maxClientIPLen  = 64
)

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	// IdleTimeout is the sliding inactivity timeout. Default 30m.
	IdleTimeout time.Duration
	// AbsoluteTimeout caps a session's life from creation. Default 24h.
	AbsoluteTimeout time.Duration
	// TouchThreshold: Validate writes a new expiry only when the idle
	// window has shrunk by more than this, so most reads write nothing.
	// Default IdleTimeout/10; must be below IdleTimeout.
	TouchThreshold time.Duration
	// MaxSessionsPerUser caps live sessions per user; creating one more
	// ends the least recently used one (see InUseWindow). Default 10;
	// negative means no cap.
	MaxSessionsPerUser int
	// InUseWindow: the per-user cap never ends a session read within
	// this window while another choice exists. Default 1m.
	InUseWindow time.Duration
	// MaxDataBytes caps custom data size (compacted JSON). Default 4096.
	MaxDataBytes int
	// KeyPrefix prefixes every key. Default "sb:". Do not put a Redis
	// Cluster hash tag ("{...}") in it: that would put every session in
	// one slot.
	KeyPrefix string
	// Sealer encrypts NewSession.Sealed; nil means sealed fields are
	// refused with ErrNoSealer.
	Sealer *Sealer
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
}

// withDefaults fills zero fields and checks the rest, naming the field
// and the fix on error.
func (c Config) withDefaults() (Config, error) {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if c.IdleTimeout < time.Millisecond {
		return c, fmt.Errorf("session: Config.IdleTimeout %v: must be at least 1ms (0 means 30m)", c.IdleTimeout)
	}
	if c.AbsoluteTimeout < time.Millisecond {
		return c, fmt.Errorf("session: Config.AbsoluteTimeout %v: must be at least 1ms (0 means 24h)", c.AbsoluteTimeout)
	}
	if c.TouchThreshold == 0 {
		c.TouchThreshold = c.IdleTimeout / 10
	}
	if c.TouchThreshold < 0 || c.TouchThreshold >= c.IdleTimeout {
		return c, fmt.Errorf("session: Config.TouchThreshold %v: must be in [0, IdleTimeout=%v) (0 means IdleTimeout/10)", c.TouchThreshold, c.IdleTimeout)
	}
	if c.MaxSessionsPerUser == 0 {
		c.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if c.MaxDataBytes == 0 {
		c.MaxDataBytes = DefaultMaxDataBytes
	}
	if c.InUseWindow == 0 {
		c.InUseWindow = DefaultInUseWindow
	}
	if c.InUseWindow < 0 {
		return c, fmt.Errorf("session: Config.InUseWindow %v: must be >= 0 (0 means 1m)", c.InUseWindow)
	}
	if c.MaxDataBytes < 2 {
		return c, fmt.Errorf("session: Config.MaxDataBytes %d: must be at least 2 (room for \"{}\"; 0 means 4096)", c.MaxDataBytes)
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(c.KeyPrefix, "{}*?[]") {
		return c, fmt.Errorf("session: Config.KeyPrefix %q: must not contain hash tags or glob characters {}*?[]", c.KeyPrefix)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
