package session

// This file holds the store's side of sealed fields: secrets (OAuth
// access and refresh tokens, say) kept with a session, encrypted at rest
// with Config.Sealer and never returned by Validate.

import (
	"context"
	"errors"
	"fmt"
)

// DefaultMaxSealedBytes caps a session's sealed fields (names and
// values, packed, before encryption): room for an OAuth access token,
// refresh token and ID token.
const DefaultMaxSealedBytes = 8192

// ErrSealedTooLarge: the sealed fields exceed Config.MaxSealedBytes.
var ErrSealedTooLarge = errors.New("session: sealed fields too large")

// SealedAPI is what the internal sealed-fields endpoints need. *Store
// implements it.
type SealedAPI interface {
	// Sealing reports whether sealed fields can be set and read (a
	// Sealer is configured).
	Sealing() bool
	// Sealed validates the session like Validate (sliding its expiry)
	// and returns it with Session.Sealed decrypted (nil when it has
	// none). Errors as Validate, plus ErrSealOpen (key rotated out,
	// tampered blob) and ErrNoSealer (no Sealer, the session has sealed
	// fields).
	Sealed(ctx context.Context, id string) (*Session, error)
	// SetSealed replaces the session's sealed fields with m, encrypted
	// under the primary key; an empty m removes them. The TTL is kept;
	// a destroyed session is never recreated. Errors: ErrMalformedID,
	// ErrNotFound, ErrExpired, ErrNoSealer, ErrSealedTooLarge, or a write
	// error wrapping ErrBackend with ErrNotApplied or ErrOutcomeUnknown
	// (never applied after ctx's deadline).
	SetSealed(ctx context.Context, id string, m map[string][]byte) error
}

var _ SealedAPI = (*Store)(nil)

// Sealing implements SealedAPI.
func (s *Store) Sealing() bool { return s.cfg.Sealer != nil }

// SetSealed implements SealedAPI.
func (s *Store) SetSealed(ctx context.Context, id string, m map[string][]byte) error {
	if !ValidID(id) {
		return ErrMalformedID
	}
	if s.cfg.Sealer == nil {
		return ErrNoSealer
	}
	var plain []byte
	if len(m) > 0 {
		plain = encodeSealedMap(m)
		if len(plain) > s.cfg.MaxSealedBytes {
			return fmt.Errorf("%w: %d bytes packed, limit Config.MaxSealedBytes=%d", ErrSealedTooLarge, len(plain), s.cfg.MaxSealedBytes)
		}
	}
	return s.rewrite(ctx, "set sealed", id, "s", func(aad []byte, _ bool) ([]byte, error) {
		if plain == nil {
			return nil, nil // removes them
		}
		return s.cfg.Sealer.seal(plain, aad)
	})
}

// sealMap packs and encrypts m for the session whose key hash is aad.
func (s *Store) sealMap(m map[string][]byte, aad []byte) ([]byte, error) {
	plain := encodeSealedMap(m)
	if len(plain) > s.cfg.MaxSealedBytes {
		return nil, fmt.Errorf("%w: %d bytes packed, limit Config.MaxSealedBytes=%d", ErrSealedTooLarge, len(plain), s.cfg.MaxSealedBytes)
	}
	return s.cfg.Sealer.seal(plain, aad)
}

// openMap decrypts and unpacks a sealed blob.
func (s *Store) openMap(blob, aad []byte) (map[string][]byte, error) {
	if s.cfg.Sealer == nil {
		return nil, ErrNoSealer
	}
	plain, err := s.cfg.Sealer.open(blob, aad)
	if err != nil {
		return nil, err
	}
	m, err := decodeSealedMap(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealOpen, err)
	}
	return m, nil
}
