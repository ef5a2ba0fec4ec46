// Package emulator talks to the Firebase Auth emulator's REST API: create
// users, sign them in to get ID tokens, disable them and revoke their tokens.
//
// Tests of the emulator verifier and the load generator (which pre-creates
// thousands of users with BatchCreate and signs them in with SignIn) share
// it. It speaks plain HTTP to the host it is given and never reads the
// environment; pass the value of FIREBASE_AUTH_EMULATOR_HOST ("127.0.0.1:9099").
//
// Only ever point it at an emulator: admin calls authenticate with the
// emulator's fixed "Bearer owner" credential, which real Firebase refuses.
package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIKey is the API key client calls send; the emulator accepts any value.
const APIKey = "fake-api-key"

// maxResponse caps how much of an emulator response is read, so a confused
// server cannot make a test or the load generator buffer without limit.
const maxResponse = 16 << 20

// Client calls one emulator. The zero value is not usable; use New.
type Client struct {
	host    string
	project string
	hc      *http.Client
}

// New returns a Client for the emulator at host ("127.0.0.1:9099", no
// scheme) serving project ("demo-..."). hc may be nil for a client with a
// 30 s timeout; the load generator passes its own to control connection
// pooling.
func New(host, project string, hc *http.Client) (*Client, error) {
	if host == "" {
		return nil, errors.New("emulator: host is empty; pass the value of FIREBASE_AUTH_EMULATOR_HOST, e.g. 127.0.0.1:9099")
	}
	if strings.Contains(host, "://") {
		return nil, fmt.Errorf("emulator: host %q must be host:port without a scheme (as in FIREBASE_AUTH_EMULATOR_HOST)", host)
	}
	if project == "" {
		return nil, errors.New("emulator: project is empty; pass the project the emulator was started with (--project)")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{host: host, project: project, hc: hc}, nil
}

// Host returns the emulator's host:port.
func (c *Client) Host() string { return c.host }

// Project returns the project ID the client targets.
func (c *Client) Project() string { return c.project }

// Session is what a sign-up or sign-in returns.
type Session struct {
	IDToken      string
	RefreshToken string
	UID          string
	// ExpiresIn is the ID token's lifetime as the emulator reports it.
	ExpiresIn time.Duration
}

// User is one account for BatchCreate.
type User struct {
	// UID is the account's localId; required, at most 128 characters.
	UID string `json:"localId"`
	// Email is optional; needed to SignIn with a password.
	Email string `json:"email,omitempty"`
	// Password is stored by the emulator (hashed) so SignIn works.
	Password string `json:"rawPassword,omitempty"`
	// Disabled creates the account disabled.
	Disabled bool `json:"disabled,omitempty"`
	// CustomClaims, when non-nil, become custom claims in the user's ID
	// tokens (the emulator checks reserved names).
	CustomClaims map[string]any `json:"-"`
}

// Error is an error answer from the emulator, with its HTTP status and the
// Identity Toolkit message (e.g. "EMAIL_EXISTS", "USER_NOT_FOUND").
type Error struct {
	Op      string
	Status  int
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("emulator: %s: HTTP %d: %s", e.Op, e.Status, e.Message)
}

type sessionResponse struct {
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	LocalID      string `json:"localId"`
	ExpiresIn    string `json:"expiresIn"`
}

func (r sessionResponse) session() (Session, error) {
	if r.IDToken == "" || r.LocalID == "" {
		return Session{}, errors.New("emulator: response has no idToken or localId")
	}
	s := Session{IDToken: r.IDToken, RefreshToken: r.RefreshToken, UID: r.LocalID}
	if r.ExpiresIn != "" {
		var secs int64
		if _, err := fmt.Sscan(r.ExpiresIn, &secs); err == nil {
			s.ExpiresIn = time.Duration(secs) * time.Second
		}
	}
	return s, nil
}

// SignUp creates a password user and returns its first ID token.
func (c *Client) SignUp(ctx context.Context, email, password string) (Session, error) {
	var r sessionResponse
	err := c.call(ctx, "signUp", "/v1/accounts:signUp", false, map[string]any{
		"email": email, "password": password, "returnSecureToken": true,
	}, &r)
	if err != nil {
		return Session{}, err
	}
	return r.session()
}

// SignIn signs a password user in and returns a fresh ID token, as the
// Firebase client SDK's signInWithEmailAndPassword does.
func (c *Client) SignIn(ctx context.Context, email, password string) (Session, error) {
	var r sessionResponse
	err := c.call(ctx, "signInWithPassword", "/v1/accounts:signInWithPassword", false, map[string]any{
		"email": email, "password": password, "returnSecureToken": true,
	}, &r)
	if err != nil {
		return Session{}, err
	}
	return r.session()
}

// BatchCreate creates users in one call (Identity Toolkit accounts:batchCreate,
// at most 1000 per call, as in production). Existing UIDs are overwritten, so
// a load run can re-seed the same users. A per-user failure is reported as
// an error naming the first failing user.
func (c *Client) BatchCreate(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	if len(users) > 1000 {
		return fmt.Errorf("emulator: BatchCreate: %d users; split into calls of at most 1000", len(users))
	}
	type upload struct {
		User
		CustomAttributes string `json:"customAttributes,omitempty"`
	}
	ups := make([]upload, len(users))
	for i, u := range users {
		if u.UID == "" {
			return fmt.Errorf("emulator: BatchCreate: users[%d].UID is empty; every user needs a uid", i)
		}
		ups[i].User = u
		if u.CustomClaims != nil {
			b, err := json.Marshal(u.CustomClaims)
			if err != nil {
				return fmt.Errorf("emulator: BatchCreate: users[%d].CustomClaims: %w", i, err)
			}
			ups[i].CustomAttributes = string(b)
		}
	}
	var r struct {
		Error []struct {
			Index   int    `json:"index"`
			Message string `json:"message"`
		} `json:"error"`
	}
	err := c.call(ctx, "batchCreate", "/v1/projects/"+url.PathEscape(c.project)+"/accounts:batchCreate", true,
		map[string]any{"users": ups, "allowOverwrite": true}, &r)
	if err != nil {
		return err
	}
	if len(r.Error) > 0 {
		e := r.Error[0]
		return fmt.Errorf("emulator: BatchCreate: %d of %d users failed, first users[%d]: %s", len(r.Error), len(users), e.Index, e.Message)
	}
	return nil
}

// DisableUser disables (or with disabled=false re-enables) the account uid;
// a verifier that checks revocation then refuses its tokens.
func (c *Client) DisableUser(ctx context.Context, uid string, disabled bool) error {
	return c.update(ctx, "disableUser", map[string]any{"localId": uid, "disableUser": disabled})
}

// RevokeTokens revokes every token of uid issued before the current second,
// as the Admin SDK's RevokeRefreshTokens does. Firebase compares whole
// seconds: a token issued in the same second as the revocation stays valid,
// so revoke at least one second after the token you want refused was issued.
func (c *Client) RevokeTokens(ctx context.Context, uid string) error {
	return c.update(ctx, "revokeTokens", map[string]any{
		"localId": uid, "validSince": fmt.Sprint(time.Now().Unix()),
	})
}

// DeleteAllUsers removes every account of the project, to reset state
// between tests that share one emulator.
func (c *Client) DeleteAllUsers(ctx context.Context) error {
	u := "http://" + c.host + "/emulator/v1/projects/" + url.PathEscape(c.project) + "/accounts"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return fmt.Errorf("emulator: deleteAllUsers: %w", err)
	}
	return c.do(req, "deleteAllUsers", nil)
}

func (c *Client) update(ctx context.Context, op string, body map[string]any) error {
	return c.call(ctx, op, "/v1/projects/"+url.PathEscape(c.project)+"/accounts:update", true, body, nil)
}

// call POSTs body as JSON to the Identity Toolkit path; admin calls carry
// the emulator's owner credential, client calls the API key.
func (c *Client) call(ctx context.Context, op, path string, admin bool, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("emulator: %s: encode request: %w", op, err)
	}
	u := "http://" + c.host + "/identitytoolkit.googleapis.com" + path
	if !admin {
		u += "?key=" + APIKey
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("emulator: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.Header.Set("Authorization", "Bearer owner")
	}
	return c.do(req, op, out)
}

func (c *Client) do(req *http.Request, op string, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("emulator: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("emulator: %s: read response: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return &Error{Op: op, Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("emulator: %s: decode response: %w", op, err)
	}
	return nil
}
