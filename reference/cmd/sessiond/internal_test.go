package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/reference/httpapi"
)

const testInternalToken = "an-internal-bearer-secret-of-more-than-32-bytes"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sealingKeysFile(t *testing.T, kids ...string) string {
	t.Helper()
	var b strings.Builder
	for i, kid := range kids {
		b.WriteString(kid + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 32)) + "\n")
	}
	return writeFile(t, "sealing-keys", b.String())
}

// internalAddr finds the internal listener's address in the start log.
func internalAddr(t *testing.T, s *server) string {
	t.Helper()
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m["message"].(string), "internal API listening") {
			return m["addr"].(string)
		}
	}
	t.Fatalf("no 'internal API listening' line: %s", s.stderr.String())
	return ""
}

func TestInternalFlagsRefusedWithTheFix(t *testing.T) {
	_, pub := writeKey(t)
	mr := testsvc.StartMiniredis(t)
	tok := writeFile(t, "token", testInternalToken)
	short := writeFile(t, "short", "too-short")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--internal-token-file", tok}, "--internal-listen"},
		{[]string{"--internal-listen", "127.0.0.1:0"}, "--internal-token-file"},
		{[]string{"--internal-listen", "0.0.0.0:8081", "--internal-token-file", tok}, "loopback or private"},
		{[]string{"--internal-listen", ":8081", "--internal-token-file", tok}, "loopback or private"},
		{[]string{"--internal-listen", "8.8.8.8:8081", "--internal-token-file", tok}, "loopback or private"},
		{[]string{"--internal-listen", "backend.example.com:8081", "--internal-token-file", tok}, "loopback or private"},
		{[]string{"--listen", "127.0.0.1:18080", "--internal-listen", "127.0.0.1:18080", "--internal-token-file", tok}, "same address"},
		{[]string{"--internal-listen", "127.0.0.1:0", "--internal-client-ca-file", tok}, "--tls-cert"},
		{[]string{"--internal-listen", "127.0.0.1:0", "--internal-token-file", short}, "at least 32"},
		// A secret no client could send in a header (raw bytes, two
		// lines) was accepted, and every request was a 401.
		{[]string{"--internal-listen", "127.0.0.1:0", "--internal-token-file", writeFile(t, "binary", "\x00\xff"+testInternalToken)}, "printable ASCII"},
		{[]string{"--internal-listen", "127.0.0.1:0", "--internal-token-file", writeFile(t, "two-lines", testInternalToken+"\n"+testInternalToken+"\n")}, "printable ASCII"},
		// A port out of range failed only when listening (exit 1).
		{[]string{"--internal-listen", "127.0.0.1:99999", "--internal-token-file", tok}, "from 0 to 65535"},
		{[]string{"--listen", "127.0.0.1:99999"}, "from 0 to 65535"},
		// Keys in the environment and in a file: one silently won.
		{[]string{"--sealing-keys-file", sealingKeysFile(t, "k1"), "--env", sealingKeysEnv + "=k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}, "both " + sealingKeysEnv},
	} {
		var env []string
		if n := len(tc.args); n >= 2 && tc.args[n-2] == "--env" {
			k, v, _ := strings.Cut(tc.args[n-1], "=")
			env, tc.args = []string{k, v}, tc.args[:n-2]
		}
		args := append([]string{"serve", "--redis-url", "redis://" + mr.Addr() + "/0", "--auth", "local", "--auth-public-key", pub,
			"--firebase-project", testProject, "--shutdown-delay", "0"}, tc.args...)
		code, _, stderr := runSync(t, envMap(env...), args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 naming %q; stderr %s", tc.args, code, tc.want, stderr)
		}
		// A start that fails claims nothing about what keys protect.
		if strings.Contains(stderr, "sealing keys protect") {
			t.Errorf("%v: a failed start logged what the sealing keys protect: %s", tc.args, stderr)
		}
	}
}

// Spaces around the secret in its file are not part of it (a file
// written with echo, or an editor's trailing blank).
func TestInternalTokenFileTrimmed(t *testing.T) {
	addr := testsvc.StartRedis(t)
	s := startServer(t, "redis://"+addr+"/0", "--sealing-keys-file", sealingKeysFile(t, "k1"),
		"--internal-listen", "127.0.0.1:0", "--internal-token-file", writeFile(t, "token", "  "+testInternalToken+" \n"))
	req, _ := http.NewRequest("GET", "http://"+internalAddr(t, s)+httpapi.InternalSealedPath, nil)
	req.Header.Set("Cookie", s.create(t, "alice"))
	req.Header.Set("Authorization", "Bearer "+testInternalToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET with the trimmed secret: %d, want 200", res.StatusCode)
	}
}

// The internal API end to end on a real Redis: a backend sets and reads
// a session's sealed fields; the public listener has no such route;
// neither Redis nor any log line holds the values in plaintext; the start
// log says what the keys protect.
func TestInternalSealedFieldsEndToEnd(t *testing.T) {
	addr := testsvc.StartRedis(t)
	s := startServer(t, "redis://"+addr+"/0", "--sealing-keys-file", sealingKeysFile(t, "k1"),
		"--internal-listen", "127.0.0.1:0", "--internal-token-file", writeFile(t, "token", testInternalToken+"\n"))
	iaddr := internalAddr(t, s)
	cookie := s.create(t, "alice")
	const secret = "ya29.THE-ACCESS-TOKEN"
	do := func(base, method, token, body string) (int, string) {
		t.Helper()
		var rb io.Reader
		if body != "" {
			rb = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, "http://"+base+httpapi.InternalSealedPath, rb)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do(iaddr, "PUT", testInternalToken, `{"sealed":{"access_token":"`+secret+`"}}`); code != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := do(iaddr, "GET", testInternalToken, ""); code != http.StatusOK || !strings.Contains(body, secret) {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, _ := do(iaddr, "GET", testInternalToken[:len(testInternalToken)-1], ""); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code, _ := do(iaddr, "GET", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	for _, m := range []string{"GET", "PUT"} {
		if code, body := do(s.addr, m, testInternalToken, `{"sealed":{"x":"y"}}`); code != http.StatusNotFound || strings.Contains(body, secret) {
			t.Fatalf("public listener %s sealed: %d %s", m, code, body)
		}
	}
	if _, body := s.get(t, "/v1/sessions/current", cookie); strings.Contains(body, secret) {
		t.Fatalf("validate returns the sealed value: %s", body)
	}

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("KEYS: %v %v", keys, err)
	}
	for _, k := range keys {
		var dump string
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			dump = rdb.Get(ctx, k).Val()
		case "hash":
			dump = strings.Join(mapValues(rdb.HGetAll(ctx, k).Val()), "\x00")
		case "zset":
			dump = strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), "\x00")
		default:
			t.Fatalf("unexpected key type %s of %q", typ, k)
		}
		if strings.Contains(dump, secret) || strings.Contains(dump, "access_token") {
			t.Fatalf("Redis key %q holds the sealed field in plaintext", k)
		}
	}
	log := s.stderr.String()
	if strings.Contains(log, secret) {
		t.Fatalf("a log line holds the sealed value:\n%s", log)
	}
	if strings.Contains(log, "sealing keys loaded") || !strings.Contains(log, "sealing keys protect the sealed fields backends set over the internal API") ||
		!strings.Contains(log, "session data, user ids and emails are stored unencrypted") {
		t.Fatalf("the start log does not say what the keys protect:\n%s", log)
	}
}

func mapValues(m map[string]string) []string {
	var v []string
	for k, x := range m {
		v = append(v, k, x)
	}
	return v
}

// Keys without the internal API protect nothing, and serve says so; the
// internal API without keys answers 501 with the fix.
func TestSealingKeysLogNoFalseClaim(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	s := startServer(t, "redis://"+mr.Addr()+"/0", "--sealing-keys-file", sealingKeysFile(t, "k1"))
	if log := s.stderr.String(); !strings.Contains(log, "sealing keys are loaded but protect nothing here") || strings.Contains(log, "sealing keys loaded") {
		t.Fatalf("start log:\n%s", log)
	}
	s2 := startServer(t, "redis://"+mr.Addr()+"/0", "--internal-listen", "127.0.0.1:0", "--internal-token-file", writeFile(t, "token", testInternalToken))
	if log := s2.stderr.String(); !strings.Contains(log, "the internal API has no sealing keys") {
		t.Fatalf("start log:\n%s", log)
	}
	cookie := s2.create(t, "alice")
	req, _ := http.NewRequest("GET", "http://"+internalAddr(t, s2)+httpapi.InternalSealedPath, nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Authorization", "Bearer "+testInternalToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotImplemented || !strings.Contains(string(b), "--sealing-keys-file") {
		t.Fatalf("GET sealed without keys: %d %s", res.StatusCode, b)
	}
}

// With explicit --redis-cluster seeds the start log names them, not the
// unused default --redis-url; a Redis that refuses connections is named
// as such (not only "context deadline exceeded"); go-redis's own lines
// come through slog as JSON.
func TestStartLogNamesClusterSeedsAndDialCause(t *testing.T) {
	mr := testsvc.StartMiniredis(t)
	dead := mr.Addr()
	testsvc.StopMiniredis(mr)
	s := startServer(t, "", "--redis-cluster="+dead, "--request-timeout", "300ms")
	log := s.stderr.String()
	if strings.Contains(log, "127.0.0.1:6379") {
		t.Fatalf("the start log names the unused default --redis-url:\n%s", log)
	}
	if !strings.Contains(log, `"redis":"cluster seeds `+dead+`"`) {
		t.Fatalf("the start log does not name the seeds:\n%s", log)
	}
	if !strings.Contains(log, "redis not reachable yet") || !strings.Contains(log, "connection refused") {
		t.Fatalf("the unreachable-Redis line does not name the cause:\n%s", log)
	}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("a log line is not JSON (go-redis's logger not routed?): %q", line)
		}
	}
}
