package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// delPipelineHook makes the pipelined delete script (sent with EVAL, its
// source) fail: run (reply lost, a timeout) or not run (refused by
// Redis).
type delPipelineHook struct {
	src   string
	runIt bool
	err   error
	calls int
}

func (h *delPipelineHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *delPipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *delPipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if a := c.Args(); len(a) < 2 || !strings.EqualFold(fmt.Sprint(a[0]), "eval") || a[1] != h.src {
				return next(ctx, cmds)
			}
		}
		h.calls++
		if h.runIt {
			_ = next(ctx, cmds)
		}
		for _, c := range cmds {
			c.SetErr(h.err)
		}
		return h.err
	}
}

// A session the cap tries to end while Redis's answer is lost may have
// ended: it is reported as uncertain (it was reported nowhere, so the
// audit lost it), never as ended; one Redis refused is in neither list.
// Either way the login itself succeeds.
func TestCapReportsDeletesOfUnknownOutcome(t *testing.T) {
	for _, tc := range []struct {
		name          string
		runIt         bool
		err           error
		wantUncertain bool
	}{
		{"reply lost", true, timeoutErr{}, true},
		{"refused", false, replyErr("OOM command not allowed when used memory > 'maxmemory'."), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := miniEnv(t)
			s := e.store(t, Config{MaxSessionsPerUser: 2})
			old := mustCreate(t, s, newSess("u"))
			e.advance(2 * time.Minute)
			mustCreate(t, s, newSess("u"))
			e.advance(2 * time.Minute)
			h := &delPipelineHook{src: delLua, runIt: tc.runIt, err: tc.err}
			e.rdb.(*redis.Client).AddHook(h)
			_, sess, err := s.Create(ctxT(t), newSess("u"))
			if err != nil {
				t.Fatalf("Create = %v; the cap's failure must not fail the login", err)
			}
			if h.calls != 1 {
				t.Fatalf("delete pipeline ran %d times, want 1", h.calls)
			}
			oldHandle, _ := Handle(old)
			if len(sess.CapEnded) != 0 {
				t.Errorf("CapEnded = %v, want none (no delete was confirmed)", sess.CapEnded)
			}
			if got := len(sess.CapUncertain) == 1 && sess.CapUncertain[0] == oldHandle; got != tc.wantUncertain {
				t.Errorf("CapUncertain = %v, want the oldest session's handle %v: %v", sess.CapUncertain, tc.wantUncertain, oldHandle)
			}
			_, err = s.Validate(ctxT(t), old)
			if tc.runIt != errors.Is(err, ErrNotFound) {
				t.Errorf("oldest session after the cap: %v (the delete ran: %v)", err, tc.runIt)
			}
		})
	}
}

// mixedDelHook runs the cap's delete pipeline so that its first script
// is refused (not run), its second runs with its reply lost, and the
// rest run normally; it records each script's key.
type mixedDelHook struct {
	keys []string
}

func (h *mixedDelHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *mixedDelHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *mixedDelHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if a := c.Args(); len(a) < 4 || !strings.EqualFold(fmt.Sprint(a[0]), "eval") || a[1] != delLua {
				return next(ctx, cmds)
			}
		}
		for _, c := range cmds {
			h.keys = append(h.keys, fmt.Sprint(c.Args()[3]))
		}
		err := next(ctx, cmds[1:])
		cmds[0].SetErr(replyErr("ERR refused for the test"))
		cmds[1].SetErr(timeoutErr{})
		if err == nil {
			err = timeoutErr{}
		}
		return err
	}
}

// Each of the cap's deletes is reported by its own outcome: the refused
// one in neither list (it used to be reported uncertain whenever another
// delete of the same pipeline lost its reply), the one whose reply was
// lost as uncertain, the confirmed one as ended.
func TestCapReportsEachDeleteByItsOutcome(t *testing.T) {
	e := miniEnv(t)
	wide := e.store(t, Config{MaxSessionsPerUser: 10})
	var ids []string
	for range 3 {
		ids = append(ids, mustCreate(t, wide, newSess("u")))
		e.advance(2 * time.Minute)
	}
	s := e.store(t, Config{MaxSessionsPerUser: 1}) // same Redis and prefix
	h := &mixedDelHook{}
	e.rdb.(*redis.Client).AddHook(h)
	_, sess, err := s.Create(ctxT(t), newSess("u"))
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if len(h.keys) != 3 {
		t.Fatalf("the cap deleted %d keys in its pipeline, want the 3 older sessions", len(h.keys))
	}
	handle := func(key string) string { return memberHandle(strings.TrimPrefix(key, s.cfg.KeyPrefix+"s:")) }
	if want := []string{handle(h.keys[2])}; fmt.Sprint(sess.CapEnded) != fmt.Sprint(want) {
		t.Errorf("CapEnded = %v, want only the confirmed delete %v", sess.CapEnded, want)
	}
	if want := []string{handle(h.keys[1])}; fmt.Sprint(sess.CapUncertain) != fmt.Sprint(want) {
		t.Errorf("CapUncertain = %v, want only the delete whose reply was lost %v", sess.CapUncertain, want)
	}
	live := 0
	for _, id := range ids {
		if _, err := s.Validate(ctxT(t), id); err == nil {
			live++
		}
	}
	if live != 1 {
		t.Errorf("%d of the older sessions live, want the 1 whose delete was refused", live)
	}
}
