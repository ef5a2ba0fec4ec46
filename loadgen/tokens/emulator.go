package tokens

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth/emulator"
)

// DefaultEmulatorPassword is the password every emulator pool user gets.
const DefaultEmulatorPassword = "sessionbench-password"

// EmulatorConfig configures an Emulator source. Zero values take the
// documented defaults.
type EmulatorConfig struct {
	// Host is the emulator's host:port (FIREBASE_AUTH_EMULATOR_HOST).
	// Required.
	Host string
	// Project is the emulator project. Default DefaultProject.
	Project string
	// Users is the pool size. Required (> 0).
	Users int
	// Password of every user. Default DefaultEmulatorPassword.
	Password string
	// RenewAfter: a token older than this is replaced by a new sign-in
	// before it is served, so auth_time stays recent. Default
	// DefaultRenewAfter.
	RenewAfter time.Duration
	// HTTPClient talks to the emulator. Default: 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Emulator hands out real emulator ID tokens (for sessiond
// --auth=emulator). NewEmulator bulk-creates the users user-<i> (email
// user-<i>@example.test) with accounts:batchCreate, 1000 per call; a
// user's token comes from accounts:signInWithPassword on first use and is
// cached, and re-signed-in when older than RenewAfter, since sessiond
// wants a recent auth_time. Signing in per user (rather than forging
// unsigned emulator-format tokens) keeps the tokens exactly what the
// emulator issues to a browser.
type Emulator struct {
	cfg    EmulatorConfig
	client *emulator.Client
	cache  []atomic.Pointer[cached]
}

var _ Source = (*Emulator)(nil)

// NewEmulator creates the pool's users in the emulator.
func NewEmulator(ctx context.Context, cfg EmulatorConfig) (*Emulator, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("tokens: EmulatorConfig.Host is empty; set FIREBASE_AUTH_EMULATOR_HOST (e.g. 127.0.0.1:9099)")
	}
	if cfg.Users <= 0 {
		return nil, fmt.Errorf("tokens: EmulatorConfig.Users is %d; the pool needs at least one user", cfg.Users)
	}
	if cfg.Project == "" {
		cfg.Project = DefaultProject
	}
	if cfg.Password == "" {
		cfg.Password = DefaultEmulatorPassword
	}
	if cfg.RenewAfter <= 0 {
		cfg.RenewAfter = DefaultRenewAfter
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c, err := emulator.New(cfg.Host, cfg.Project, cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	e := &Emulator{cfg: cfg, client: c, cache: make([]atomic.Pointer[cached], cfg.Users)}
	const batch = 1000
	for lo := 0; lo < cfg.Users; lo += batch {
		hi := min(lo+batch, cfg.Users)
		users := make([]emulator.User, 0, hi-lo)
		for i := lo; i < hi; i++ {
			users = append(users, emulator.User{UID: UID(i), Email: Email(i), Password: cfg.Password})
		}
		if err := c.BatchCreate(ctx, users); err != nil {
			return nil, fmt.Errorf("tokens: create emulator users %d..%d: %w", lo, hi-1, err)
		}
	}
	return e, nil
}

// Host is the emulator's host:port.
func (e *Emulator) Host() string { return e.cfg.Host }

// Project is the emulator project.
func (e *Emulator) Project() string { return e.cfg.Project }

// Users is the pool size.
func (e *Emulator) Users() int { return e.cfg.Users }

// Mode is "emulator".
func (e *Emulator) Mode() string { return "emulator" }

// Warm signs every user in up front (8 sign-ins at a time: the emulator
// is single-threaded), so no create of the run waits for a sign-in.
func (e *Emulator) Warm(ctx context.Context) error {
	return warmAll(ctx, e.cfg.Users, 8, func(user int) error {
		if e.cache[user].Load() != nil {
			return nil
		}
		now := e.cfg.Now()
		s, err := e.client.SignIn(ctx, Email(user), e.cfg.Password)
		if err != nil {
			return fmt.Errorf("sign in %s: %w", UID(user), err)
		}
		e.cache[user].Store(&cached{token: s.IDToken, mintedAt: now})
		return nil
	})
}

var _ Warmer = (*Emulator)(nil)

// Token returns user's ID token, signing in when none is cached or the
// cached one is older than RenewAfter.
func (e *Emulator) Token(ctx context.Context, user int) (string, error) {
	if user < 0 || user >= e.cfg.Users {
		return "", fmt.Errorf("tokens: user %d out of range [0,%d)", user, e.cfg.Users)
	}
	now := e.cfg.Now()
	if c := e.cache[user].Load(); c != nil && now.Sub(c.mintedAt) < e.cfg.RenewAfter {
		return c.token, nil
	}
	s, err := e.client.SignIn(ctx, Email(user), e.cfg.Password)
	if err != nil {
		return "", fmt.Errorf("tokens: sign in %s: %w", UID(user), err)
	}
	e.cache[user].Store(&cached{token: s.IDToken, mintedAt: now})
	return s.IDToken, nil
}
