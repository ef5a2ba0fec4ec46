package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sessionbench/sessionbench/reference/auth"
	"github.com/sessionbench/sessionbench/reference/session"
)

// revokeResult is one JSON line of `sessiond revoke`.
type revokeResult struct {
	UID       string `json:"uid"`
	Destroyed int    `json:"destroyed"`
	Error     string `json:"error,omitempty"`
}

// runRevoke ends every session of the users named by --uid and, with
// --all-disabled, of every disabled user of the Firebase project (listed
// with the Admin API), against the configured Redis. One JSON line per
// user on stdout. Exit 1 when any user's sessions could not all be
// ended for certain (Redis failure, or evictions: see
// session.ErrLogoutUnconfirmed).
func runRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c revokeConfig
	fs := newFlagSet("sessiond revoke", "sessiond revoke --uid UID [--uid UID...] [--all-disabled] [flags]", stderr)
	registerRedisFlags(fs, &c.redisConfig)
	registerAuthFlags(fs, &c.authConfig)
	fs.Var(&c.UIDs, "uid", "end every session of this Firebase `uid`; repeatable")
	fs.BoolVar(&c.AllDisabled, "all-disabled", false, "also end every session of every disabled user of the project (lists users with the Admin API: --auth=firebase with credentials, or --auth=emulator)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageExit(stderr, err)
	}
	if err := c.check(); err != nil {
		return usageExit(stderr, err)
	}
	log := newLogger(stderr, c.LogLevel, "")
	var users auth.Users
	if c.AllDisabled {
		if err := auth.CheckEmulatorGuard(c.Auth, getenv(auth.EmulatorHostEnv)); err != nil {
			return usageExit(stderr, err)
		}
		if c.FirebaseProject == "" {
			c.FirebaseProject = auth.ProjectFromEnv(getenv)
		}
		if c.FirebaseProject == "" {
			return usageExit(stderr, errors.New("--all-disabled needs --firebase-project (or GOOGLE_CLOUD_PROJECT / FIREBASE_CONFIG)"))
		}
		v, err := newVerifier(ctx, &c.authConfig, getenv)
		if err != nil {
			return usageExit(stderr, err)
		}
		if users, err = auth.UsersOf(v); err != nil {
			return usageExit(stderr, fmt.Errorf("--all-disabled: %w", err))
		}
	}
	rdb, err := newRedis(&c.redisConfig)
	if err != nil {
		return usageExit(stderr, err)
	}
	defer rdb.Close()
	st, err := newStore(&c.redisConfig, rdb, getenv, log)
	if err != nil {
		return usageExit(stderr, err)
	}

	failed := false
	revoke := func(uid string) error {
		rctx, cancel := context.WithTimeout(ctx, c.RequestTimeout)
		n, err := st.DestroyAll(rctx, uid)
		cancel()
		if reason := redisConfigError(err); reason != "" {
			return fmt.Errorf("redis %s: %s", redactURL(c.URL), reason)
		}
		res := revokeResult{UID: uid, Destroyed: n}
		if n > 0 { // the audit event (see httpapi's audit.go): one for the user's batch
			log.Info("session revoked", "audit", "session", "event", "revoked", "reason", "sessiond_revoke", "user_id", uid, "count", n)
		}
		if err != nil {
			failed = true
			res.Error = err.Error()
			if errors.Is(err, session.ErrLogoutUnconfirmed) {
				res.Error = "sessions may remain: Redis has evicted keys recently (run it with maxmemory-policy noeviction)"
			}
		}
		return writeJSONLine(stdout, res)
	}
	for _, uid := range c.UIDs {
		if err := revoke(uid); err != nil {
			return usageExit(stderr, err)
		}
	}
	if users != nil {
		err := users.EachUser(ctx, func(u auth.UserState) error {
			if !u.Disabled {
				return nil
			}
			return revoke(u.UID)
		})
		if err != nil {
			log.Error("listing users with the Firebase Admin API failed; disabled users after the last line printed were not handled", "err", err)
			return exitFailure
		}
	}
	if failed {
		return exitFailure
	}
	return exitOK
}
