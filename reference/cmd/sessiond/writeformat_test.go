package main

import (
	"flag"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/session"
)

func TestWriteRecordFormatFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want int
	}{
		{nil, envMap(), session.DefaultWriteFormat},
		{[]string{"--write-record-format", "1"}, envMap(), 1},
		{nil, envMap("SESSIOND_WRITE_RECORD_FORMAT", "1"), 1},
		{[]string{"--write-record-format=2"}, envMap("SESSIOND_WRITE_RECORD_FORMAT", "1"), 2},
	} {
		var c serveConfig
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		registerServeFlags(fs, &c)
		if err := parseFlags(fs, tc.args, tc.env); err != nil {
			t.Fatal(err)
		}
		if c.WriteFormat != tc.want {
			t.Errorf("%v: WriteFormat = %d, want %d", tc.args, c.WriteFormat, tc.want)
		}
		if err := c.redisConfig.check(); err != nil {
			t.Errorf("%v: check = %v", tc.args, err)
		}
	}
}

func TestBadWriteRecordFormatExits2NamingTheFlag(t *testing.T) {
	for _, v := range []string{"0", "3", "-1", "two"} {
		code, _, stderr := runSync(t, envMap(), "--write-record-format", v, "--firebase-project", testProject)
		if code != exitUsage || !strings.Contains(stderr, "-write-record-format") {
			t.Errorf("--write-record-format %s: exit %d, stderr %q; want 2 naming the flag", v, code, stderr)
		}
	}
	code, _, stderr := runSync(t, envMap("SESSIOND_WRITE_RECORD_FORMAT", "3"), "--firebase-project", testProject)
	if code != exitUsage || !strings.Contains(stderr, "--write-record-format") {
		t.Errorf("SESSIOND_WRITE_RECORD_FORMAT=3: exit %d, stderr %q; want 2 naming the flag", code, stderr)
	}
	code, _, stderr = runSync(t, envMap("SESSIOND_WRITE_RECORD_FORMAT", "x"), "--firebase-project", testProject)
	if code != exitUsage || !strings.Contains(stderr, "SESSIOND_WRITE_RECORD_FORMAT") || !strings.Contains(stderr, "--write-record-format") {
		t.Errorf("SESSIOND_WRITE_RECORD_FORMAT=x: exit %d, stderr %q; want 2 naming the variable and the flag", code, stderr)
	}
}

// serve --write-record-format 1 stores sessions as format-1 hashes under
// the 43-character key hash, serves them, and says so at start.
func TestServeWritesFormat1WhenAsked(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--write-record-format", "1")
	cookie := s.create(t, "alice")
	if code, body := s.get(t, "/v1/sessions/current", cookie); code != http.StatusOK || !strings.Contains(body, `"user_id":"alice"`) {
		t.Fatalf("validate: %d %s", code, body)
	}
	var sessions []string
	for _, k := range mr.Keys() {
		if strings.HasPrefix(k, "sb:s:") {
			sessions = append(sessions, k)
			if typ := mr.Type(k); typ != "hash" || len(k) != len("sb:s:")+43 {
				t.Errorf("session key %q is a %s; want a hash under a 43-character key hash", k, typ)
			}
		}
	}
	members, err := mr.ZMembers("sb:u:alice")
	if len(sessions) != 1 || err != nil || len(members) != 1 || "sb:s:"+members[0] != sessions[0] {
		t.Fatalf("sessions %q, index %q (%v); want one format-1 session and its member", sessions, members, err)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"write_record_format":1`) || !strings.Contains(logs, "--write-record-format 2") {
		t.Fatalf("start log does not say it writes format 1 and when to switch: %s", logs)
	}
}
