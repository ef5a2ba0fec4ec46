// Package redisenv provides the Redis a load run measures: an in-process
// miniredis, a redis-server process started here, a container started
// through testcontainers-go, or an existing Redis given by URL
// (Memorystore, Memorystore Cluster, any redis://). Each mode is one
// Provider in one file; Open picks the provider a Spec names, and "auto"
// picks the best one this machine can run.
//
// Local and container modes start tier profiles for real (a replica, AOF,
// TLS, three cluster primaries, a small maxmemory with an eviction
// policy); URL mode starts nothing and never touches data it did not
// write: the run's keys live under a run-specific prefix and are removed
// at the end.
package redisenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/redis/go-redis/v9"
)

// Modes, as --redis names them. A redis:// or rediss:// URL is ModeURL.
const (
	ModeAuto      = "auto"
	ModeEmbedded  = "embedded"
	ModeLocal     = "local"
	ModeContainer = "container"
	ModeURL       = "url"
)

// DefaultMode is what --redis means when it is not given.
const DefaultMode = ModeAuto

// ImageEnv names the environment variable that sets the container image
// when --redis-image is not given.
const ImageEnv = "SESSIONBENCH_REDIS_IMAGE"

// DefaultImage is the container image used when neither --redis-image
// nor SESSIONBENCH_REDIS_IMAGE names one: an official Redis 7.
const DefaultImage = "redis:7"

// Spec says which Redis a run wants. Zero values take the documented
// defaults.
type Spec struct {
	// Mode is ModeAuto (default), ModeEmbedded, ModeLocal, ModeContainer,
	// or a redis:// / rediss:// URL.
	Mode string
	// Profile is a tier profile (see Profiles); default ProfileBasic.
	// Only local and container start profiles; embedded is basic only,
	// and a URL's tier is whatever it is (name it with a label).
	Profile string
	// Image is the container image; default $SESSIONBENCH_REDIS_IMAGE,
	// else DefaultImage.
	Image string
	// MaxMemory is the maxmemory of the maxmem-* profiles, in Redis
	// notation ("32mb"); default DefaultMaxMemory.
	MaxMemory string

	// URL mode: a PEM CA bundle for rediss://, a file holding the AUTH
	// password (overrides one in the URL), cluster mode with optional
	// seeds (default: the URL's host), and whether to keep the run's keys.
	CAFile       string
	PasswordFile string
	Cluster      bool
	ClusterSeeds []string
	KeepKeys     bool
	// Observe (URL mode): the Redis serves a server loadgen did not
	// start (--target); the run only reads its facts and memory, so
	// there is no run prefix and nothing to remove.
	Observe bool

	// Log receives one-line notes (what auto chose and why, a slow
	// pull). Default io.Discard.
	Log io.Writer
}

// Facts describe the Redis under test for the summary and the reports.
type Facts struct {
	// Mode is the provider that ran: embedded, local, container or url.
	Mode string `json:"mode"`
	// Profile is the tier profile started (empty for URL mode).
	Profile string `json:"profile,omitempty"`
	// Version is redis_version ("miniredis vX" for embedded).
	Version string `json:"version"`
	// Addr is the address clients use (the first seed of a cluster).
	Addr string `json:"addr,omitempty"`
	// Primaries lists the primaries' addresses of a cluster.
	Primaries []string `json:"primaries,omitempty"`
	// Replicas is the number of replicas attached to the primary.
	Replicas int `json:"replicas,omitempty"`
	// Cluster is true for Redis Cluster.
	Cluster bool `json:"cluster,omitempty"`
	// TLS is true when clients connect with TLS.
	TLS bool `json:"tls,omitempty"`
	// Persistence is "none", "aof (everysec)", "rdb" or both, from INFO.
	Persistence string `json:"persistence,omitempty"`
	// MaxMemory is maxmemory in bytes (0: no limit) and MaxMemoryPolicy
	// its eviction policy, from CONFIG GET or INFO.
	MaxMemory       uint64 `json:"maxmemory,omitempty"`
	MaxMemoryPolicy string `json:"maxmemory_policy,omitempty"`
	// Image is the container image (container mode).
	Image string `json:"image,omitempty"`
	// KeyPrefix is the run-specific key prefix (URL mode).
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Chosen says why auto picked this mode ("" when given explicitly).
	Chosen string `json:"chosen,omitempty"`
	// NotRedis is set when the numbers do not describe Redis performance
	// (embedded: an emulation in the generator's own process).
	NotRedis string `json:"not_redis,omitempty"`
}

// Conn is how a server (sessiond) reaches the Redis: its --redis-url,
// --redis-cluster seeds, --redis-ca-file and --redis-password-file.
type Conn struct {
	URL          string
	ClusterSeeds []string
	CAFile       string
	PasswordFile string
}

// Env is a Redis ready for a run. Close releases it.
type Env interface {
	// Client is a client of the Redis (a *redis.ClusterClient for a
	// cluster), owned by the Env: Close closes it.
	Client() redis.UniversalClient
	// Facts describe the Redis for the summary.
	Facts() Facts
	// Conn tells a server how to reach the Redis.
	Conn() Conn
	// KeyPrefix is where the run's keys must live ("" when the Redis is
	// the run's own and any prefix will do). In URL mode it is a
	// run-specific prefix under which Close removes keys.
	KeyPrefix() string
	// Info runs INFO section on every primary (one map per primary, in
	// Facts().Primaries order, or one map for a single server). An error
	// means some primary did not answer; embedded mode answers
	// ErrNoInfo.
	Info(ctx context.Context, section string) ([]map[string]string, error)
	// PIDs are the Redis server processes this machine runs for the Env
	// (local mode), for CPU accounting; nil when unknown.
	PIDs() []int
	// Close stops what the Env started (processes, containers) or, in
	// URL mode, removes the run's keys unless Spec.KeepKeys. It is safe
	// to call twice.
	Close() error
}

// ErrNoInfo is Info's error where the Redis does not report INFO (the
// embedded miniredis).
var ErrNoInfo = errors.New("redisenv: this Redis does not report INFO")

// ErrUnavailable wraps a provider's failure to run on this machine at
// all (no Docker engine, no redis-server in PATH): auto moves on to the
// next choice; an explicit mode reports it with the fix.
var ErrUnavailable = errors.New("not available on this machine")

// ConfigError is a bad setting (the CLI exits 2), as opposed to a
// failure to start or reach something (exit 1).
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// Provider starts, or connects to, one kind of Redis.
type Provider interface {
	// Start returns an Env for s. Errors: a *ConfigError for settings the
	// provider cannot honour (a profile it cannot start), an error
	// wrapping ErrUnavailable when it cannot run here at all, any other
	// error for a failed start. On error nothing is left running.
	Start(ctx context.Context, s Spec) (Env, error)
}

// providers is the mode → provider table: a new mode is one file with
// its Provider, plus a line here.
func providers() map[string]Provider {
	return map[string]Provider{
		ModeEmbedded:  embeddedProvider{},
		ModeLocal:     localProvider{},
		ModeContainer: containerProvider{},
		ModeURL:       urlProvider{},
	}
}

// Open starts the Redis s asks for. ModeAuto picks one (see Auto).
func Open(ctx context.Context, s Spec) (Env, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	if s.Mode == ModeAuto {
		return openAuto(ctx, s, defaultProbe{})
	}
	return providers()[ModeOf(s.Mode)].Start(ctx, s)
}

// normalize checks s and fills its defaults; a URL becomes ModeURL with
// the URL kept in urlOf.
func (s Spec) normalize() (Spec, error) {
	if s.Log == nil {
		s.Log = io.Discard
	}
	if s.Mode == "" {
		s.Mode = DefaultMode
	}
	if isURL(s.Mode) {
		if s.Profile != "" {
			return s, configErrorf("--redis-profile %q applies to local and container Redis, which loadgen starts; "+
				"a Redis given by URL is whatever tier it is: name it with --label (e.g. memorystore-standard-m2)", s.Profile)
		}
		return s, nil
	}
	switch s.Mode {
	case ModeAuto, ModeEmbedded, ModeLocal, ModeContainer:
	default:
		return s, configErrorf("--redis %q: want auto, embedded, local, container or a redis:// / rediss:// URL", s.Mode)
	}
	if s.CAFile != "" || s.PasswordFile != "" || s.Cluster || len(s.ClusterSeeds) > 0 || s.KeepKeys {
		return s, configErrorf("--redis-ca-file, --redis-password-file, --redis-cluster and --keep-keys apply to a Redis given by URL, not to --redis %s", s.Mode)
	}
	if s.Profile == "" {
		s.Profile = ProfileBasic
	}
	if _, ok := LookupProfile(s.Profile); !ok {
		return s, configErrorf("--redis-profile %q: want one of %s", s.Profile, profileNames())
	}
	if s.MaxMemory == "" {
		s.MaxMemory = DefaultMaxMemory
	}
	if s.Image == "" {
		s.Image = os.Getenv(ImageEnv)
	}
	if s.Image == "" {
		s.Image = DefaultImage
	}
	if _, err := parseMemory(s.MaxMemory); err != nil {
		return s, configErrorf("--redis-maxmemory %q: %v; write e.g. 32mb", s.MaxMemory, err)
	}
	return s, nil
}

// ModeOf is the provider mode a --redis value names.
func ModeOf(redisFlag string) string {
	if isURL(redisFlag) {
		return ModeURL
	}
	return redisFlag
}
