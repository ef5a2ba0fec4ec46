package auth

// This file holds the Admin API's view of users, for the revocation
// checks of live sessions (--recheck-user) and `sessiond revoke`.

import (
	"context"
	"errors"
	"fmt"
	"time"

	fbauth "firebase.google.com/go/v4/auth"
	"google.golang.org/api/iterator"
)

// ErrUserNotFound means Firebase has no such user: it was deleted.
var ErrUserNotFound = errors.New("auth: user not found")

// UserState is a user as the Firebase Admin API reports it.
type UserState struct {
	UID      string
	Disabled bool
	// TokensValidAfter is when the user's tokens were last revoked
	// (RevokeRefreshTokens; whole seconds); zero if never. A session whose
	// sign-in (auth_time) is earlier was revoked.
	TokensValidAfter time.Time
}

// RevokedAt reports whether a sign-in at authTime is revoked by this
// state, with the Admin SDK's rule (auth_time before tokensValidAfter,
// compared in milliseconds).
func (u UserState) RevokedAt(authTime time.Time) bool {
	return !u.TokensValidAfter.IsZero() && authTime.UnixMilli() < u.TokensValidAfter.UnixMilli()
}

// Users looks users up with the Firebase Admin API (firebase and
// emulator modes). Safe for concurrent use.
type Users interface {
	// User returns uid's state. ErrUserNotFound when the user does not
	// exist (deleted); any other error means Firebase could not answer
	// (network, quota, credentials) and decides nothing.
	User(ctx context.Context, uid string) (UserState, error)
	// EachUser calls f for every user of the project, a page (up to 1000
	// users) per Admin API call, and stops at f's first error.
	EachUser(ctx context.Context, f func(UserState) error) error
}

// UsersOf returns the Admin API client behind a verifier, or an error
// naming why there is none: the local verifier has no Admin API, and in
// firebase mode without Google credentials the lookups cannot
// authenticate.
func UsersOf(v Verifier) (Users, error) {
	sv, ok := v.(*sdkVerifier)
	if !ok {
		return nil, fmt.Errorf("auth: --auth=%s has no Firebase Admin API to look users up; use --auth=firebase or --auth=emulator", v.Mode())
	}
	if sv.noRevocation != nil {
		return nil, fmt.Errorf("auth: %s: %w", sv.mode, sv.noRevocation)
	}
	return sv, nil
}

// User implements Users.
func (v *sdkVerifier) User(ctx context.Context, uid string) (UserState, error) {
	u, err := v.client.GetUser(ctx, uid)
	if err != nil {
		if fbauth.IsUserNotFound(err) {
			return UserState{}, fmt.Errorf("%w: %s: %w", ErrUserNotFound, uid, err)
		}
		return UserState{}, fmt.Errorf("auth: %s: look up user: %w", v.mode, err)
	}
	return userState(u), nil
}

// EachUser implements Users.
func (v *sdkVerifier) EachUser(ctx context.Context, f func(UserState) error) error {
	it := v.client.Users(ctx, "")
	for {
		u, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("auth: %s: list users: %w", v.mode, err)
		}
		if err := f(userState(u.UserRecord)); err != nil {
			return err
		}
	}
}

func userState(u *fbauth.UserRecord) UserState {
	s := UserState{UID: u.UID, Disabled: u.Disabled}
	if u.TokensValidAfterMillis > 0 {
		s.TokensValidAfter = time.UnixMilli(u.TokensValidAfterMillis)
	}
	return s
}
