package driver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sessionbench/sessionbench/reference/session"
)

// StoreConfig configures the store driver. Zero values take the
// documented defaults.
type StoreConfig struct {
	// UserAgent is stored with each session, as sessiond would.
	// Default "sessionbench-loadgen/dev".
	UserAgent string
	// ClientIP is stored with each session. Default "127.0.0.1".
	ClientIP string
	// Timeout bounds one operation when the caller's context has no
	// deadline of its own (the engine sets one: its OpTimeout). Default 5s.
	Timeout time.Duration
	// Now is the clock for NewSession.AuthTime; default time.Now.
	Now func() time.Time
}

// Store is the driver that calls the reference session store directly
// (no HTTP, no token verification) to isolate the cost of Redis.
//
// Create's idToken is used only for its user ID: when it looks like a
// JWT, the unverified "sub" claim (and "email") of its payload; otherwise
// the string itself is the uid (tokens.UIDs hands out "user-<i>"). An
// empty or unparsable JWT is Rejected, so deliberately bad tokens still
// count as rejections.
type Store struct {
	api     session.API
	ua      string
	ip      string
	timeout time.Duration
	now     func() time.Time
}

var _ Driver = (*Store)(nil)

// NewStore returns a store driver on api (normally a *session.Store built
// with session.New on a go-redis client).
func NewStore(api session.API, cfg StoreConfig) (*Store, error) {
	if api == nil {
		return nil, errors.New("driver: NewStore: session store is nil")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "sessionbench-loadgen/dev"
	}
	if cfg.ClientIP == "" {
		cfg.ClientIP = "127.0.0.1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{api: api, ua: cfg.UserAgent, ip: cfg.ClientIP, timeout: cfg.Timeout, now: cfg.Now}, nil
}

// Create starts a session for the token's user.
func (d *Store) Create(ctx context.Context, idToken string, data json.RawMessage) (Session, Result) {
	uid, email, err := UserFromToken(idToken)
	if err != nil {
		return Session{}, Result{Class: Rejected, Err: fmt.Errorf("create: %w", err)}
	}
	ctx, cancel := opContext(ctx, d.timeout)
	defer cancel()
	id, _, err := d.api.Create(ctx, session.NewSession{
		UserID:    uid,
		Email:     email,
		AuthTime:  d.now(),
		UserAgent: d.ua,
		ClientIP:  d.ip,
		Data:      data,
	})
	if err != nil {
		return Session{}, classifyStoreErr("create", err)
	}
	return Session{Credential: id, UserID: uid}, Result{Class: OK}
}

// Validate looks the session up (and slides its expiry, as sessiond does).
func (d *Store) Validate(ctx context.Context, s Session) Result {
	ctx, cancel := opContext(ctx, d.timeout)
	defer cancel()
	if _, err := d.api.Validate(ctx, s.Credential); err != nil {
		return classifyStoreErr("validate", err)
	}
	return Result{Class: OK}
}

// Destroy deletes the session.
func (d *Store) Destroy(ctx context.Context, s Session) Result {
	ctx, cancel := opContext(ctx, d.timeout)
	defer cancel()
	if err := d.api.Destroy(ctx, s.Credential); err != nil {
		return classifyStoreErr("destroy", err)
	}
	return Result{Class: OK}
}

// Close does nothing: the caller owns the Redis client.
func (d *Store) Close() error { return nil }

// classifyStoreErr maps store errors to the classes the http driver would
// report for the same failure: unknown/expired/malformed sessions are
// Rejected (401), bad data Unexpected4xx (400), deadlines Timeout,
// network failures Connection, any other backend failure Server5xx (503).
func classifyStoreErr(op string, err error) Result {
	werr := fmt.Errorf("%s: %w", op, err)
	var ne net.Error
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrMalformedID),
		errors.Is(err, session.ErrInvalidSession): // sessiond answers 401 invalid_token
		return Result{Class: Rejected, Err: werr}
	case errors.Is(err, session.ErrDataTooLarge), errors.Is(err, session.ErrInvalidData):
		return Result{Class: Unexpected4xx, Err: werr}
	case errors.Is(err, context.DeadlineExceeded):
		return Result{Class: Timeout, Err: werr}
	case errors.As(err, &ne) && ne.Timeout():
		return Result{Class: Timeout, Err: werr}
	case errors.Is(err, context.Canceled):
		return Result{Class: Other, Err: werr}
	case errors.As(err, &ne):
		return Result{Class: Connection, Err: werr}
	default:
		return Result{Class: Server5xx, Err: werr}
	}
}

// maxUIDLen is Firebase's limit on a uid's length.
const maxUIDLen = 128

// isPoolUID reports whether s is "user-" followed by decimal digits, the
// uid format of every loadgen token pool (tokens.UID). Being this strict
// lets a corrupted uid (invalid.bad_token) be rejected by the store driver.
func isPoolUID(s string) bool {
	d, ok := strings.CutPrefix(s, "user-")
	if !ok || d == "" || len(s) > maxUIDLen {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// UserFromToken extracts the user a token stands for WITHOUT verifying
// it: the "sub" and "email" claims of a JWT's payload, or, for a string
// that is not a JWT, the string itself as the uid when it has the pool
// form "user-<n>" (tokens.UIDs). It exists for the store
// driver, which bypasses authentication on purpose.
func UserFromToken(tok string) (uid, email string, err error) {
	if !strings.Contains(tok, ".") {
		if !isPoolUID(tok) {
			return "", "", errors.New(`token is neither a JWT nor a pool uid "user-<n>"`)
		}
		return tok, "", nil
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", "", errors.New("token is not a JWT (want 3 dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", "", fmt.Errorf("token payload: %w", err)
	}
	var claims struct {
		Sub   string `json:"sub"`
		Email string `json:"email"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", "", fmt.Errorf("token payload: %w", err)
	}
	if claims.Sub == "" || len(claims.Sub) > maxUIDLen {
		return "", "", errors.New("token sub claim must be 1..128 characters")
	}
	return claims.Sub, claims.Email, nil
}
