package main

import (
	"errors"
	"flag"
	"strconv"
	"strings"
	"time"
)

// durationValue is a time.Duration flag whose errors say what a duration
// looks like: the flag package's own says only "parse error", and a bare
// number (--idle-timeout 30) is the usual mistake.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

// Get implements flag.Getter.
func (d *durationValue) Get() any { return time.Duration(*d) }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return errors.New("a duration needs its unit, e.g. 500ms, 30s or 5m")
		}
		return errors.New("not a duration; write e.g. 500ms, 30s, 5m or 1h30m")
	}
	*d = durationValue(v)
	return nil
}

// durationVar defines a duration flag with durationValue's errors, in
// place of fs.DurationVar. -h names the argument "duration" as it would
// for fs.DurationVar (the flag package only knows its own types).
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	if !strings.Contains(usage, "`") {
		usage += " (a `duration`)"
	}
	fs.Var((*durationValue)(p), name, usage)
}
