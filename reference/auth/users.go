package auth

// This file holds the Admin API's view of users, for the revocation
// checks of live sessions (--recheck-user) and `sessiond revoke`: two
// calls of the Identity Toolkit REST API, accounts:lookup and
// accounts:batchGet, the ones the Admin SDK's GetUser and Users make.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// IdentityToolkitURL is the Identity Toolkit API's root, before "/v1".
const IdentityToolkitURL = "https://identitytoolkit.googleapis.com"

// toolkitScope is the OAuth scope the user lookups are made with.
const toolkitScope = "https://www.googleapis.com/auth/cloud-platform"

// Bounds of one Identity Toolkit call: a timeout when the caller has no
// earlier deadline, and how much of an answer is read.
const (
	toolkitTimeout  = 30 * time.Second
	toolkitMaxBytes = 32 << 20
	toolkitPageSize = 1000
	toolkitAttempts = 3
	toolkitBackoff  = 100 * time.Millisecond
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
	gv, ok := v.(*googleVerifier)
	if !ok {
		return nil, fmt.Errorf("auth: --auth=%s has no Firebase Admin API to look users up; use --auth=firebase or --auth=emulator", v.Mode())
	}
	if gv.noRevocation != nil {
		return nil, fmt.Errorf("auth: %s: %w", gv.mode, gv.noRevocation)
	}
	return gv.users, nil
}

// googleClient returns an HTTP client that authenticates as the service
// account in credentialsFile, or with Application Default Credentials
// when it is empty. Tokens are fetched and refreshed on use, not here.
func googleClient(ctx context.Context, credentialsFile string) (*http.Client, error) {
	// Token fetches outlive the caller's context and get their own
	// timeout (the library's default client has none).
	ctx = context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Timeout: toolkitTimeout})
	var (
		creds *google.Credentials
		err   error
	)
	if credentialsFile != "" {
		data, rerr := os.ReadFile(credentialsFile)
		if rerr != nil {
			return nil, fmt.Errorf("read credentials file: %w", rerr)
		}
		var kind struct {
			Type google.CredentialsType `json:"type"`
		}
		if jerr := json.Unmarshal(data, &kind); jerr != nil {
			return nil, fmt.Errorf("credentials file %s is not JSON: %w", credentialsFile, jerr)
		}
		// The file is the operator's own: any type Google issues is
		// accepted, checked against what the file says it is.
		creds, err = google.CredentialsFromJSONWithType(ctx, data, kind.Type, toolkitScope)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s: %w", credentialsFile, err)
		}
	} else if creds, err = google.FindDefaultCredentials(ctx, toolkitScope); err != nil {
		return nil, err
	}
	return &http.Client{Timeout: toolkitTimeout, Transport: &bearer{
		src:          oauth2.ReuseTokenSource(nil, creds.TokenSource),
		quotaProject: quotaProject(creds.JSON),
		next:         http.DefaultTransport,
	}}, nil
}

// quotaProject is the project Google bills and rate-limits the lookups
// to, as Google's own clients choose it: GOOGLE_CLOUD_QUOTA_PROJECT, else
// the credentials' quota_project_id. User credentials (gcloud auth
// application-default login) are refused by the Identity Toolkit API
// without one.
func quotaProject(credsJSON []byte) string {
	if p := os.Getenv("GOOGLE_CLOUD_QUOTA_PROJECT"); p != "" {
		return p
	}
	var c struct {
		QuotaProject string `json:"quota_project_id"`
	}
	_ = json.Unmarshal(credsJSON, &c)
	return c.QuotaProject
}

// bearer adds the OAuth access token (and the quota project) to each
// request. Unlike oauth2.Transport it waits for a token fetch only as
// long as the request's own context allows: a stalled token endpoint must
// not hold a login past its deadline.
type bearer struct {
	src          oauth2.TokenSource
	quotaProject string
	next         http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	type result struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() { // ends with the fetch, bounded by its client's timeout
		t, err := b.src.Token()
		ch <- result{t, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-r.Context().Done():
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("waiting for a Google access token: %w", context.Cause(r.Context()))
	}
	if res.err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("get a Google access token: %w", res.err)
	}
	r = r.Clone(r.Context())
	res.tok.SetAuthHeader(r)
	if b.quotaProject != "" {
		r.Header.Set("X-Goog-User-Project", b.quotaProject)
	}
	return b.next.RoundTrip(r)
}

// emulatorOwner authenticates to the emulator the way the Admin SDK
// does, with the fixed "owner" token only an emulator accepts.
type emulatorOwner struct{ next http.RoundTripper }

func (t emulatorOwner) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer owner")
	return t.next.RoundTrip(r)
}

// toolkitUsers implements Users over the Identity Toolkit REST API.
type toolkitUsers struct {
	mode string
	base string // …/v1/projects/<project>
	hc   *http.Client
}

func newToolkitUsers(mode, root, project string, hc *http.Client) *toolkitUsers {
	return &toolkitUsers{mode: mode, base: root + "/v1/projects/" + url.PathEscape(project), hc: hc}
}

// toolkitUser is a user as accounts:lookup and accounts:batchGet return it.
type toolkitUser struct {
	LocalID  string `json:"localId"`
	Disabled bool   `json:"disabled"`
	// ValidSince is seconds since 1970, as a string.
	ValidSince string `json:"validSince"`
}

func (u toolkitUser) state() (UserState, error) {
	s := UserState{UID: u.LocalID, Disabled: u.Disabled}
	if u.ValidSince != "" {
		secs, err := strconv.ParseInt(u.ValidSince, 10, 64)
		if err != nil || secs < 0 {
			return UserState{}, fmt.Errorf("user %s: validSince %q is not a number of seconds", u.LocalID, u.ValidSince)
		}
		if secs > 0 {
			s.TokensValidAfter = time.Unix(secs, 0)
		}
	}
	return s, nil
}

// User implements Users.
func (c *toolkitUsers) User(ctx context.Context, uid string) (UserState, error) {
	body, err := json.Marshal(map[string][]string{"localId": {uid}})
	if err != nil {
		return UserState{}, fmt.Errorf("auth: %s: look up user: %w", c.mode, err)
	}
	var out struct {
		Users []toolkitUser `json:"users"`
	}
	if err := c.call(ctx, http.MethodPost, c.base+"/accounts:lookup", body, &out); err != nil {
		if errors.Is(err, ErrUserNotFound) {
			return UserState{}, fmt.Errorf("%w: %s", ErrUserNotFound, uid)
		}
		return UserState{}, fmt.Errorf("auth: %s: look up user: %w", c.mode, err)
	}
	for _, u := range out.Users {
		if u.LocalID == uid {
			s, err := u.state()
			if err != nil {
				return UserState{}, fmt.Errorf("auth: %s: look up user: %w", c.mode, err)
			}
			return s, nil
		}
	}
	return UserState{}, fmt.Errorf("%w: %s", ErrUserNotFound, uid)
}

// EachUser implements Users. It follows nextPageToken until there is
// none (empty pages included, as the Admin SDK does); a token seen before
// is an error, never a silent end of the list: revoke --all-disabled must
// not report success with users unseen.
func (c *toolkitUsers) EachUser(ctx context.Context, f func(UserState) error) error {
	seen := map[string]bool{}
	page := ""
	for {
		q := url.Values{"maxResults": {strconv.Itoa(toolkitPageSize)}}
		if page != "" {
			q.Set("nextPageToken", page)
		}
		var out struct {
			Users         []toolkitUser `json:"users"`
			NextPageToken string        `json:"nextPageToken"`
		}
		if err := c.call(ctx, http.MethodGet, c.base+"/accounts:batchGet?"+q.Encode(), nil, &out); err != nil {
			return fmt.Errorf("auth: %s: list users: %w", c.mode, err)
		}
		for _, u := range out.Users {
			s, err := u.state()
			if err != nil {
				return fmt.Errorf("auth: %s: list users: %w", c.mode, err)
			}
			if err := f(s); err != nil {
				return err
			}
		}
		if out.NextPageToken == "" {
			return nil
		}
		if seen[out.NextPageToken] {
			return fmt.Errorf("auth: %s: list users: the API sent page token %q a second time; the listing would not end", c.mode, out.NextPageToken)
		}
		seen[out.NextPageToken] = true
		page = out.NextPageToken
	}
}

// call makes one API call and decodes a 200 answer into out, retrying
// a transient failure (network error, 429, 5xx) twice within ctx, with
// backoff, as the Admin SDK does: both calls are reads. An error answer
// becomes an error with its status and Google's message;
// USER_NOT_FOUND wraps ErrUserNotFound.
func (c *toolkitUsers) call(ctx context.Context, method, u string, body []byte, out any) error {
	backoff := toolkitBackoff
	for attempt := 1; ; attempt++ {
		retry, err := c.once(ctx, method, u, body, out)
		if err == nil || !retry || attempt == toolkitAttempts {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff *= 4
	}
}

// once makes one attempt; retry says whether another may succeed.
func (c *toolkitUsers) once(ctx context.Context, method, u string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, toolkitMaxBytes+1))
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("read answer: %w", err)
	}
	if len(data) > toolkitMaxBytes {
		return false, fmt.Errorf("answer over %d bytes", toolkitMaxBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if strings.HasPrefix(e.Error.Message, "USER_NOT_FOUND") {
			return false, ErrUserNotFound
		}
		msg := e.Error.Message
		if msg == "" {
			msg = string(data[:min(len(data), 200)])
		}
		transient := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return transient, fmt.Errorf("%s answered %s: %s", req.URL.Host, resp.Status, msg)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("answer is not the expected JSON: %w", err)
	}
	return false, nil
}
