package session

import (
	"errors"
	"testing"
	"time"
)

// Issue 6: the per-user cap ended the oldest session by creation, so a
// phone in use was logged out by a laptop's reloads. It now ends the
// least recently used session, and one used within InUseWindow only when
// there is no other choice. (miniredis tracks idle time only on writes,
// so the "use" here is a validate that touches.)
func TestCapEndsLeastRecentlyUsedNotInUse(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: 3, TouchThreshold: time.Second})
	phone := mustCreate(t, s, newSess("u")) // oldest, but in use below
	e.advance(time.Second)
	old := mustCreate(t, s, newSess("u"))
	e.advance(time.Second)
	mid := mustCreate(t, s, newSess("u"))
	e.advance(2 * time.Minute)
	if got, err := s.Validate(ctxT(t), phone); err != nil || !got.Touched {
		t.Fatalf("using the phone: %v %v", got, err)
	}
	e.advance(time.Second)
	fresh := mustCreate(t, s, newSess("u"))
	for name, tc := range map[string]struct {
		id   string
		live bool
	}{"phone (oldest, in use)": {phone, true}, "least recently used": {old, false}, "next": {mid, true}, "new": {fresh, true}} {
		_, err := s.Validate(ctxT(t), tc.id)
		if tc.live && err != nil {
			t.Errorf("%s: ended (%v), want live", name, err)
		}
		if !tc.live && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ended by the cap", name, err)
		}
	}
	if n := e.rdb.ZCard(ctxT(t), s.indexKey("u")).Val(); n != 3 {
		t.Errorf("index has %d entries, want 3", n)
	}
}

// When every other session is in use, the cap still holds: it ends the
// least recently used of them.
func TestCapWhenAllInUse(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: 2, TouchThreshold: time.Second})
	a := mustCreate(t, s, newSess("u"))
	e.advance(2 * time.Second)
	b := mustCreate(t, s, newSess("u"))
	e.advance(2 * time.Second)
	mustCreate(t, s, newSess("u"))
	if _, err := s.Validate(ctxT(t), a); !errors.Is(err, ErrNotFound) {
		t.Errorf("least recently used session a: %v, want ended", err)
	}
	if _, err := s.Validate(ctxT(t), b); err != nil {
		t.Errorf("b: %v, want live", err)
	}
}

// On a real redis-server any read counts as use (OBJECT IDLETIME), and
// reading the idle time does not itself count. The sleep only makes the
// unused sessions at least 2 s idler than the used one; nothing races.
func TestCapIdleTimeOnRealRedis(t *testing.T) {
	e := realEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: 3, InUseWindow: time.Second})
	// Creation times must differ (they break ties between sessions idle
	// for the same whole seconds); three creates fit in a millisecond.
	phone := mustCreate(t, s, newSess("u"))
	e.clock.Advance(time.Millisecond)
	old := mustCreate(t, s, newSess("u"))
	e.clock.Advance(time.Millisecond)
	mid := mustCreate(t, s, newSess("u"))
	time.Sleep(2100 * time.Millisecond)
	if got, err := s.Validate(ctxT(t), phone); err != nil || got.Touched {
		t.Fatalf("reading the phone's session: %v %v (a read, not a touch)", got, err)
	}
	mustCreate(t, s, newSess("u"))
	if _, err := s.Validate(ctxT(t), phone); err != nil {
		t.Fatalf("the session just read was ended: %v", err)
	}
	if _, err := s.Validate(ctxT(t), old); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the least recently used session: %v, want ended", err)
	}
	if _, err := s.Validate(ctxT(t), mid); err != nil {
		t.Fatalf("mid: %v", err)
	}
}

// Issue 6: a login from a browser that still holds a session replaces
// it (rotation), whoever owned it; the response says so.
func TestCreateReplacesPresentedSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		first := mustCreate(t, s, newSess("alice"))
		ns := newSess("alice")
		ns.Replaces = first
		second, sess, err := s.Create(ctxT(t), ns)
		if err != nil || !sess.Replaced {
			t.Fatalf("Create replacing a live session = %+v, %v; want Replaced", sess, err)
		}
		if _, err := s.Validate(ctxT(t), first); !errors.Is(err, ErrNotFound) {
			t.Fatalf("replaced session still validates: %v", err)
		}
		if n := e.rdb.ZCard(ctxT(t), s.indexKey("alice")).Val(); n != 1 {
			t.Fatalf("index has %d entries after rotation, want 1 (no orphan)", n)
		}
		// Another user's session presented by the same browser goes too.
		ns = newSess("bob")
		ns.Replaces = second
		_, sess, err = s.Create(ctxT(t), ns)
		if err != nil || !sess.Replaced {
			t.Fatalf("Create replacing another user's session = %+v, %v", sess, err)
		}
		if _, err := s.Validate(ctxT(t), second); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alice's session survived bob's login from her browser: %v", err)
		}
		// Gone, expired or malformed: nothing to replace, no error.
		for _, old := range []string{second, "not-a-session-id", ""} {
			ns = newSess("bob")
			ns.Replaces = old
			if _, sess, err := s.Create(ctxT(t), ns); err != nil || sess.Replaced {
				t.Fatalf("Create with Replaces=%q = %+v, %v; want created, not Replaced", old, sess, err)
			}
		}
	})
}

// Ten logins from one browser (a page that posts a fresh token on every
// load) leave one session, and the cap never ends the user's phone.
func TestRepeatedLoginLeavesNoOrphans(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: 3})
	phone := mustCreate(t, s, newSess("alice"))
	laptop := mustCreate(t, s, newSess("alice"))
	for i := 0; i < 10; i++ {
		ns := newSess("alice")
		ns.Replaces = laptop
		var err error
		if laptop, _, err = s.Create(ctxT(t), ns); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctxT(t), "alice", laptop)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d sessions, %v; want 2 (phone and laptop)", len(list), err)
	}
	if _, err := s.Validate(ctxT(t), phone); err != nil {
		t.Fatalf("the phone was logged out by the laptop's reloads: %v", err)
	}
}
