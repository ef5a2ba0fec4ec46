package driver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbench/sessionbench/internal/testsvc"
	"github.com/sessionbench/sessionbench/loadgen/driver"
	"github.com/sessionbench/sessionbench/reference/session"
)

func newStoreDriver(t *testing.T) *driver.Store {
	t.Helper()
	mr := testsvc.StartMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := session.New(rdb, session.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := driver.NewStore(st, driver.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStoreLifecycle(t *testing.T) {
	d := newStoreDriver(t)
	ctx := context.Background()
	s, r := d.Create(ctx, "user-7", json.RawMessage(`{"a":1}`))
	if r.Class != driver.OK {
		t.Fatalf("create: %+v", r)
	}
	if s.UserID != "user-7" || s.Credential == "" {
		t.Fatalf("session %+v", s)
	}
	if r := d.Validate(ctx, s); r.Class != driver.OK {
		t.Fatalf("validate: %+v", r)
	}
	if r := d.Destroy(ctx, s); r.Class != driver.OK {
		t.Fatalf("destroy: %+v", r)
	}
	if r := d.Validate(ctx, s); r.Class != driver.Rejected {
		t.Fatalf("validate after destroy: %s (%v), want rejected", r.Class, r.Err)
	}
}

func TestStoreRejections(t *testing.T) {
	d := newStoreDriver(t)
	ctx := context.Background()
	if r := d.Validate(ctx, driver.Session{Credential: "not-an-id"}); r.Class != driver.Rejected {
		t.Errorf("malformed id: %s, want rejected", r.Class)
	}
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	if r := d.Validate(ctx, driver.Session{Credential: unknown}); r.Class != driver.Rejected {
		t.Errorf("unknown id: %s (%v), want rejected", r.Class, r.Err)
	}
	// The engine's bad_token corrupts a character near the end of the token.
	for _, bad := range []string{"user-1A", "userA7", "", "x.y", "a.b.c"} {
		if _, r := d.Create(ctx, bad, nil); r.Class != driver.Rejected {
			t.Errorf("create with token %q: %s, want rejected", bad, r.Class)
		}
	}
	if _, r := d.Create(ctx, "user-1", json.RawMessage(`[1]`)); r.Class != driver.Unexpected4xx {
		t.Errorf("array data: %s (%v), want unexpected_4xx", r.Class, r.Err)
	}
}

func TestUserFromTokenReadsJWTSub(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"sub":"abc","email":"a@b.c"}`)) + ".sig"
	uid, email, err := driver.UserFromToken(tok)
	if err != nil || uid != "abc" || email != "a@b.c" {
		t.Fatalf("got %q %q %v", uid, email, err)
	}
	long := enc([]byte(`{}`)) + "." + enc([]byte(`{"sub":"`+strings.Repeat("x", 129)+`"}`)) + ".sig"
	if _, _, err := driver.UserFromToken(long); err == nil {
		t.Fatal("129-char sub accepted")
	}
}

func FuzzUserFromToken(f *testing.F) {
	f.Add("user-1")
	f.Add("a.eyJzdWIiOiJ4In0.c")
	f.Fuzz(func(t *testing.T, tok string) {
		uid, _, err := driver.UserFromToken(tok)
		if err == nil && (uid == "" || len(uid) > 128) {
			t.Fatalf("accepted uid %q", uid)
		}
	})
}
