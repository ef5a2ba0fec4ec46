package tokens

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionbench/sessionbench/reference/auth"
)

// DefaultProject is the Firebase project ID tokens are minted for. The
// "demo-" prefix is Firebase's convention for a project that exists only
// locally.
const DefaultProject = "demo-sessionbench"

// Defaults for MintedConfig.
const (
	DefaultTTL        = time.Hour
	DefaultRenewAfter = 2 * time.Minute
	// DefaultMaxAge is how old a cached token may get before Token mints
	// a new one synchronously. sessiond refuses a create whose auth_time
	// is more than 5 min old, so this stays well below that.
	DefaultMaxAge = 4 * time.Minute
)

// UID is the uid of user i in every token pool: "user-<i>".
func UID(i int) string { return "user-" + strconv.Itoa(i) }

// Email is the email of user i: "user-<i>@example.test".
func Email(i int) string { return UID(i) + "@example.test" }

// MintedConfig configures a Minted source. Zero values take the
// documented defaults.
type MintedConfig struct {
	// Users is the pool size. Required (> 0).
	Users int
	// Project is the aud claim and the suffix of iss. Default
	// DefaultProject.
	Project string
	// Key signs the tokens; nil generates an RSA-2048 key for this run.
	Key *rsa.PrivateKey
	// TTL is exp - iat. Default DefaultTTL (1 h), as Firebase.
	TTL time.Duration
	// RenewAfter: a cached token older than this is still served, and a
	// fresh one is minted in the background. Default DefaultRenewAfter.
	RenewAfter time.Duration
	// MaxAge: a cached token older than this is re-minted before it is
	// served. Default DefaultMaxAge; must exceed RenewAfter.
	MaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Minted hands out RS256 Firebase-format ID tokens signed by a local key,
// for sessiond --auth=local. Signing RSA-2048 costs about a millisecond,
// so tokens are minted on first use and cached per user (a 10k-user pool
// starts instantly); a token older than RenewAfter is renewed in the
// background so that auth_time stays recent on long runs without the
// caller paying for the signature.
type Minted struct {
	cfg     MintedConfig
	key     *rsa.PrivateKey
	pubPEM  []byte
	method  jwt.SigningMethod
	cache   []atomic.Pointer[cached]
	renewal []atomic.Bool // a background renewal is running for user i
	wg      sync.WaitGroup
}

type cached struct {
	token    string
	mintedAt time.Time
}

var _ Source = (*Minted)(nil)

// NewMinted returns a minted token source.
func NewMinted(cfg MintedConfig) (*Minted, error) {
	if cfg.Users <= 0 {
		return nil, fmt.Errorf("tokens: MintedConfig.Users is %d; the pool needs at least one user", cfg.Users)
	}
	if cfg.Project == "" {
		cfg.Project = DefaultProject
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RenewAfter <= 0 {
		cfg.RenewAfter = DefaultRenewAfter
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxAge <= cfg.RenewAfter {
		return nil, fmt.Errorf("tokens: MintedConfig.MaxAge %v must exceed RenewAfter %v", cfg.MaxAge, cfg.RenewAfter)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key := cfg.Key
	if key == nil {
		var err error
		if key, err = NewKey(); err != nil {
			return nil, err
		}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("tokens: encode public key: %w", err)
	}
	return &Minted{
		cfg:     cfg,
		key:     key,
		pubPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		method:  jwt.SigningMethodRS256,
		cache:   make([]atomic.Pointer[cached], cfg.Users),
		renewal: make([]atomic.Bool, cfg.Users),
	}, nil
}

// PublicKeyPEM is the verifying key ("PUBLIC KEY" PEM), for sessiond
// --auth-public-key.
func (m *Minted) PublicKeyPEM() []byte { return append([]byte(nil), m.pubPEM...) }

// Project is the Firebase project the tokens are for.
func (m *Minted) Project() string { return m.cfg.Project }

// Users is the pool size.
func (m *Minted) Users() int { return m.cfg.Users }

// Mode is "minted".
func (m *Minted) Mode() string { return "minted" }

// Token returns user's token, minting it on first use and renewing it as
// it ages.
func (m *Minted) Token(ctx context.Context, user int) (string, error) {
	if user < 0 || user >= m.cfg.Users {
		return "", fmt.Errorf("tokens: user %d out of range [0,%d)", user, m.cfg.Users)
	}
	now := m.cfg.Now()
	c := m.cache[user].Load()
	if c != nil {
		age := now.Sub(c.mintedAt)
		if age < m.cfg.RenewAfter {
			return c.token, nil
		}
		if age < m.cfg.MaxAge {
			if m.renewal[user].CompareAndSwap(false, true) {
				m.wg.Add(1)
				go func() {
					defer m.wg.Done()
					defer m.renewal[user].Store(false)
					_, _ = m.mintCached(user)
				}()
			}
			return c.token, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("tokens: %w", err)
	}
	return m.mintCached(user)
}

func (m *Minted) mintCached(user int) (string, error) {
	now := m.cfg.Now()
	tok, err := m.Mint(user, now)
	if err != nil {
		return "", err
	}
	m.cache[user].Store(&cached{token: tok, mintedAt: now})
	return tok, nil
}

// Mint signs a fresh token for user with iat = auth_time = at.
func (m *Minted) Mint(user int, at time.Time) (string, error) {
	uid := UID(user)
	claims := jwt.MapClaims{
		"iss":            auth.IssuerPrefix + m.cfg.Project,
		"aud":            m.cfg.Project,
		"sub":            uid,
		"user_id":        uid,
		"iat":            at.Unix(),
		"exp":            at.Add(m.cfg.TTL).Unix(),
		"auth_time":      at.Unix(),
		"email":          Email(user),
		"email_verified": true,
		"firebase": map[string]any{
			"sign_in_provider": "password",
			"identities":       map[string]any{"email": []string{Email(user)}},
		},
	}
	tok, err := jwt.NewWithClaims(m.method, claims).SignedString(m.key)
	if err != nil {
		return "", fmt.Errorf("tokens: sign token for %s: %w", uid, err)
	}
	return tok, nil
}

// Warm mints every user's token up front on all CPUs (about 1 ms of CPU
// per user), so no create of the run pays for a signature. Tokens are
// dated as if minted over the past RenewAfter/2, so their background
// renewals spread over a minute instead of all falling due at once; a
// token's real auth_time is never older than its cache age.
func (m *Minted) Warm(ctx context.Context) error {
	now := m.cfg.Now()
	n := m.cfg.Users
	return warmAll(ctx, n, runtime.GOMAXPROCS(0), func(user int) error {
		if m.cache[user].Load() != nil {
			return nil
		}
		tok, err := m.Mint(user, now)
		if err != nil {
			return err
		}
		age := m.cfg.RenewAfter / 2 * time.Duration(user) / time.Duration(n)
		m.cache[user].Store(&cached{token: tok, mintedAt: now.Add(-age)})
		return nil
	})
}

var _ Warmer = (*Minted)(nil)

// Wait waits for background renewals (tests, shutdown).
func (m *Minted) Wait() { m.wg.Wait() }

// LoadPrivateKey reads an RSA private key from a PEM file ("RSA PRIVATE
// KEY" PKCS#1 or "PRIVATE KEY" PKCS#8), for --auth-key.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: --auth-key: %w", err)
	}
	return ParsePrivateKeyPEM(data, path)
}

// ParsePrivateKeyPEM parses the first PEM block of data as an RSA private
// key; name labels errors.
func ParsePrivateKeyPEM(data []byte, name string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("tokens: %s: no PEM block; want an RSA private key (openssl genrsa 2048)", name)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tokens: %s: %w", name, err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tokens: %s: %w", name, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("tokens: %s: key is %T; RS256 needs an RSA key", name, k)
		}
		return rk, nil
	default:
		return nil, errors.New("tokens: " + name + ": PEM block is " + block.Type + "; want RSA PRIVATE KEY or PRIVATE KEY")
	}
}

// UIDs is a Source whose "tokens" are bare uids ("user-<i>"), for the
// store driver, which bypasses authentication and needs only a user ID.
type UIDs struct{ N int }

var _ Source = UIDs{}

// Token returns UID(user).
func (u UIDs) Token(_ context.Context, user int) (string, error) {
	if user < 0 || user >= u.N {
		return "", fmt.Errorf("tokens: user %d out of range [0,%d)", user, u.N)
	}
	return UID(user), nil
}

// Users is the pool size.
func (u UIDs) Users() int { return u.N }

// Mode is "uid".
func (u UIDs) Mode() string { return "uid" }
