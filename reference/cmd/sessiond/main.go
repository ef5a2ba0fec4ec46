// Command sessiond is the reference session server: it exchanges Firebase
// ID tokens for server-side sessions kept in Redis, held by the browser in
// a hardened cookie.
//
// Usage:
//
//	sessiond [serve] [flags]   serve the HTTP API (default)
//	sessiond gc [flags]        scan Redis once, prune stale index entries (gone sessions, 60 s grace), print a JSON report
//	sessiond revoke [flags]    end every session of --uid UID (repeatable) or of every disabled user (--all-disabled)
//	sessiond version           print the version (also --version)
//
// Every flag has an environment equivalent (--redis-url <->
// SESSIOND_REDIS_URL); the command line wins. Exit codes: 0 ok, 1 runtime
// failure, 2 usage or configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessionbench/sessionbench/reference/cloudlog"
)

// version is set at link time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, testable: ctx cancellation is SIGTERM/SIGINT,
// getenv the environment. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	// --version is what people type first; it is a command, not a flag
	// of serve.
	if cmd == "serve" && len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		cmd, args = "version", nil
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stderr)
	case "gc":
		return runGC(ctx, args, getenv, stdout, stderr)
	case "revoke":
		return runRevoke(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "sessiond %s\n", version)
		return exitOK
	case "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "sessiond: unknown command %q\n%s", cmd, usageText)
		return exitUsage
	}
}

// usageText lists the commands; every -h output starts with it.
const usageText = `usage:
  sessiond [serve] [flags]   serve the HTTP API (default command)
  sessiond gc [flags]        scan Redis once, prune stale index entries (gone sessions, 60 s grace), print a JSON report
  sessiond revoke [flags]    end every session of users: --uid UID (repeatable), --all-disabled
  sessiond version           print the version (also: sessiond --version)
  sessiond help              print this text
sessiond serve -h, sessiond gc -h and sessiond revoke -h list each command's flags.
`

// usageExit maps a flag-parsing error to an exit code: -h is success.
func usageExit(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "sessiond: %v\n", err)
	return exitUsage
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// newLogger logs JSON lines in Google Cloud Logging's format (severity,
// message, trace fields under project) at level.
func newLogger(w io.Writer, level, project string) *slog.Logger {
	l, _ := parseLevel(level)
	return slog.New(cloudlog.NewHandler(w, &cloudlog.Options{Level: l, ProjectID: project}))
}

// runGC runs store.GC once (or every --interval until stopped) and prints
// each report as one JSON line on stdout.
func runGC(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c gcConfig
	fs := newFlagSet("sessiond gc", "sessiond gc [flags]", stderr)
	registerRedisFlags(fs, &c.redisConfig)
	durationVar(fs, &c.Interval, "interval", 0, "repeat every `interval` until stopped (default 0: run once)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageExit(stderr, err)
	}
	if err := c.check(); err != nil {
		return usageExit(stderr, err)
	}
	if c.Interval < 0 {
		return usageExit(stderr, fmt.Errorf("--interval %s must be >= 0", c.Interval))
	}
	log := newLogger(stderr, c.LogLevel, "")
	routeRedisLog(log)
	dials := &dialWatch{}
	rdb, err := newRedis(&c.redisConfig, dials)
	if err != nil {
		return usageExit(stderr, err)
	}
	defer rdb.Close()
	st, _, err := newStore(&c.redisConfig, rdb, getenv)
	if err != nil {
		return usageExit(stderr, err)
	}
	for {
		rep, err := st.GC(ctx)
		if reason := redisConfigError(err); reason != "" {
			return usageExit(stderr, fmt.Errorf("redis %s: %s", redisTarget(&c.redisConfig), reason))
		}
		if err != nil {
			log.Error("gc failed", "redis", redisTarget(&c.redisConfig), "err", dials.explain(err))
			if c.Interval == 0 {
				return exitFailure
			}
		} else if err := writeJSONLine(stdout, rep); err != nil {
			log.Error("writing gc report", "err", err)
			return exitFailure
		}
		if c.Interval == 0 {
			return exitOK
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-timeAfter(c.Interval):
		}
	}
}
