package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisPID returns the process id of a real redis-server (INFO server).
func redisPID(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	info, err := rdb.Info(ctxT(t), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(infoFields(info)["process_id"])
	if err != nil || pid <= 0 {
		t.Fatalf("no process_id in INFO server: %v", err)
	}
	return pid
}

// dbState is what a failed write must leave unchanged.
type dbState struct {
	keys  int64
	index []string
}

func readState(t *testing.T, rdb redis.UniversalClient, s *Store, uid string) dbState {
	t.Helper()
	n, err := rdb.DBSize(ctxT(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := rdb.ZRange(ctxT(t), s.indexKey(uid), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return dbState{n, idx}
}

func (d dbState) String() string { return fmt.Sprintf("%d keys, index %v", d.keys, d.index) }

// fillUntilOOM sets maxmemory just above what Redis uses and writes
// filler keys (with a TTL) until Redis refuses one with OOM.
func fillUntilOOM(t *testing.T, rdb *redis.Client) {
	t.Helper()
	ctx := ctxT(t)
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	used, _ := strconv.ParseInt(infoFields(info)["used_memory"], 10, 64)
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+256<<10, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 4096)
	for i := 0; ; i++ {
		err := rdb.Set(ctx, "filler:"+strconv.Itoa(i), pad, time.Hour).Err()
		if redis.IsOOMError(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 100000 {
			t.Fatal("Redis never refused a write with maxmemory set")
		}
	}
}

// Regression (issue 11): with a full noeviction Redis, 40 of 40 creates
// answered 503 and still wrote 40 user-index entries: the index script's
// first write (ZREMRANGEBYSCORE) let its ZADD through under OOM. A
// refused create now writes nothing, says why (ErrOutOfMemory), and the
// store reports the state for /readyz.
func TestRefusedCreateUnderOOMWritesNothing(t *testing.T) {
	e := realEnv(t)
	rdb := e.rdb.(*redis.Client)
	s := e.store(t, Config{})
	mustCreate(t, s, newSess("alice")) // the index exists, as for a returning user
	fillUntilOOM(t, rdb)
	before := readState(t, rdb, s, "alice")
	for i := 0; i < 40; i++ {
		_, _, err := s.Create(ctxT(t), newSess("alice"))
		if !errors.Is(err, ErrOutOfMemory) || !errors.Is(err, ErrNotApplied) || !errors.Is(err, ErrBackend) {
			t.Fatalf("create %d on a full Redis = %v, want ErrOutOfMemory (not applied)", i, err)
		}
		_, _, err = s.Create(ctxT(t), newSess(fmt.Sprintf("new-user-%d", i)))
		if !errors.Is(err, ErrOutOfMemory) {
			t.Fatalf("create of a new user %d on a full Redis = %v, want ErrOutOfMemory", i, err)
		}
	}
	if after := readState(t, rdb, s, "alice"); after.String() != before.String() {
		t.Fatalf("refused creates changed Redis: before %s, after %s", before, after)
	}
	b, err := s.Backend(ctxT(t))
	if err != nil || !b.OutOfMemory || b.MaxmemoryPolicy != PolicyNoEviction {
		t.Fatalf("Backend on a full Redis = %+v, %v; want OutOfMemory under noeviction", b, err)
	}
	// Room again: the INFO check clears at once, the write signal with
	// the next successful write.
	if err := rdb.ConfigSet(ctxT(t), "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Backend(ctxT(t)); !b.OutOfMemory {
		t.Fatal("a refused write no longer marks Redis full right after it (readiness would flap)")
	}
	mustCreate(t, s, newSess("alice"))
	if b, err := s.Backend(ctxT(t)); err != nil || b.OutOfMemory {
		t.Fatalf("Backend after a successful write = %+v, %v; want not out of memory", b, err)
	}
}

// failHook makes the create script fail the way a test wants: either
// refused by Redis (not run) or run with its reply lost (timeout).
type failHook struct {
	sha     string
	runIt   bool // execute the command, then report a timeout
	calls   int
	failErr error
}

type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout (reply lost)" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func (h *failHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if len(args) > 1 && strings.EqualFold(fmt.Sprint(args[0]), "evalsha") && args[1] == h.sha {
			h.calls++
			if h.runIt {
				_ = next(ctx, cmd)
			}
			cmd.SetErr(h.failErr)
			return h.failErr
		}
		return next(ctx, cmd)
	}
}

// A create whose index entry was written but whose session write failed
// leaves nothing: refused (OOM reply) it is undone at once; with its
// reply lost (it may have run) both keys are removed in the background.
func TestFailedSessionWriteIsUndone(t *testing.T) {
	for _, tc := range []struct {
		name        string
		runIt       bool
		err         error
		wantOutcome error
	}{
		{"refused", false, replyErr("OOM command not allowed when used memory > 'maxmemory'."), ErrNotApplied},
		{"reply lost", true, timeoutErr{}, ErrOutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := realEnv(t)
			s := e.store(t, Config{})
			mustCreate(t, s, newSess("alice"))
			before := readState(t, e.rdb, s, "alice")
			h := &failHook{sha: s.scripts.create.Hash(), runIt: tc.runIt, failErr: tc.err}
			e.rdb.(*redis.Client).AddHook(h)
			_, _, err := s.Create(ctxT(t), newSess("alice"))
			if !errors.Is(err, tc.wantOutcome) || !errors.Is(err, ErrBackend) || h.calls != 1 {
				t.Fatalf("Create = %v (script calls %d), want %v", err, h.calls, tc.wantOutcome)
			}
			if err := s.Drain(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if after := readState(t, e.rdb, s, "alice"); after.String() != before.String() {
				t.Fatalf("failed create left data: before %s, after %s", before, after)
			}
		})
	}
}

// Regression (issue 11): after a 3 s SIGSTOP of Redis, creates that had
// answered 503 left index entries and a logout that had answered 503 was
// applied when Redis resumed. Writes carry a deadline checked in Redis
// time, so nothing a caller gave up on happens later; what may have run
// before is undone (create) or reported as unknown (logout).
func TestWritesRefusedAfterRedisPauseHappenNever(t *testing.T) {
	e := realEnv(t)
	s := e.store(t, Config{})
	s.clock.every = time.Hour // measured by the first create, before the pause
	keep := mustCreate(t, s, newSess("alice"))
	before := readState(t, e.rdb, s, "alice")
	pid := redisPID(t, e.rdb)
	warmPool(t, e.rdb.(*redis.Client), 10)

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, pid)
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)

	var wg sync.WaitGroup
	errs := make([]error, 7)
	for i := 0; i < 7; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if i == 6 {
				errs[i] = s.Destroy(ctx, keep) // a logout that times out
				return
			}
			_, _, errs[i] = s.Create(ctx, newSess("alice"))
		}(i)
	}
	wg.Wait() // every call gave up while Redis was stopped
	for i, err := range errs {
		if !errors.Is(err, ErrBackend) || !(errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrNotApplied)) {
			t.Fatalf("call %d during the pause = %v, want a backend error saying not applied or unknown", i, err)
		}
	}
	resume()
	if err := s.Drain(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if after := readState(t, e.rdb, s, "alice"); after.String() != before.String() {
		t.Fatalf("writes given up on during the pause happened after it: before %s, after %s", before, after)
	}
	if _, err := s.Validate(ctxT(t), keep); err != nil {
		t.Fatalf("the logout that answered 503 was applied when Redis resumed: %v", err)
	}
}

// waitStopped waits until the kernel reports pid stopped (state T), so
// no command sent afterwards can run before the pause.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Skipf("cannot read the process state (%v); this test needs Linux /proc", err)
		}
		// The state follows the ")" that closes the command name.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %d not stopped after SIGSTOP: %s", pid, b)
		}
		time.Sleep(time.Millisecond)
	}
}

// warmPool opens n connections and leaves them idle in the pool, so that
// commands sent while Redis is paused are written to a socket at once
// (a new connection would block in its handshake and never send them),
// which is how a busy server meets a pause.
func warmPool(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rdb.BLPop(ctxT(t), time.Second, "warm:nothing").Err()
		}()
	}
	wg.Wait()
	if idle := rdb.PoolStats().IdleConns; idle < uint32(n) {
		t.Fatalf("pool has %d idle connections, want %d", idle, n)
	}
}

// clockJumpHook moves miniredis's clock an hour ahead before every
// script: each write reaches "Redis" an hour after its fence, even the
// retry after a fresh clock measurement.
type clockJumpHook struct {
	e *env
}

func (h clockJumpHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h clockJumpHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.e.advance(time.Hour)
		return next(ctx, cmds)
	}
}
func (h clockJumpHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := strings.ToLower(fmt.Sprint(cmd.Args()[0])); name == "evalsha" || name == "eval" {
			h.e.advance(time.Hour)
		}
		return next(ctx, cmd)
	}
}

// A write reaching Redis after its fence is refused and writes nothing
// (miniredis's clock is moved past the fence; no timing involved).
func TestWriteAfterItsFenceIsRefused(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{IdleTimeout: 1000 * time.Hour, AbsoluteTimeout: 1000 * time.Hour})
	id := mustCreate(t, s, newSess("u"))
	e.rdb.(*redis.Client).AddHook(clockJumpHook{e})
	before := len(e.mini.Keys())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := s.Create(ctx, newSess("u")); !errors.Is(err, ErrNotApplied) || !strings.Contains(err.Error(), "LATE") {
		t.Fatalf("late Create = %v, want ErrNotApplied (LATE)", err)
	}
	if err := s.Destroy(ctx, id); !errors.Is(err, ErrNotApplied) {
		t.Fatalf("late Destroy = %v, want ErrNotApplied", err)
	}
	if n, err := s.DestroyAll(ctx, "u"); !errors.Is(err, ErrNotApplied) || n != 0 {
		t.Fatalf("late DestroyAll = %d, %v, want ErrNotApplied", n, err)
	}
	if err := s.UpdateData(ctx, id, []byte(`{"a":1}`)); !errors.Is(err, ErrNotApplied) {
		t.Fatalf("late UpdateData = %v, want ErrNotApplied", err)
	}
	if after := len(e.mini.Keys()); after != before {
		t.Fatalf("late writes changed the key count %d -> %d", before, after)
	}
	// Without a deadline there is no fence.
	if err := s.Destroy(context.Background(), id); err != nil {
		t.Fatalf("Destroy without a deadline = %v", err)
	}
}

// A step of Redis's clock (ahead of the last measurement) does not fail
// writes that arrive in time: the LATE refusal comes back before this
// process's deadline, so the store measures again and retries once.
func TestRedisClockStepIsMeasuredAgain(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{IdleTimeout: 1000 * time.Hour, AbsoluteTimeout: 1000 * time.Hour})
	s.clock.every = 1000 * time.Hour
	mustCreate(t, s, newSess("u")) // measures the offset
	e.mini.SetTime(e.clock.Now().Add(10 * time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, _, err := s.Create(ctx, newSess("u"))
	if err != nil {
		t.Fatalf("Create after Redis's clock jumped ahead = %v, want success after measuring again", err)
	}
	if err := s.Destroy(ctx, id); err != nil {
		t.Fatalf("Destroy = %v", err)
	}
}

// go-redis retries a command whose connection broke; a create script
// that already ran must then report success, not a collision.
func TestCreateScriptIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{})
		key := s.sessPrefix + "retry"
		args := []any{"0", e.clock.Now().Add(time.Hour).UnixMilli(), e.clock.Now().Add(2 * time.Hour).UnixMilli(), e.clock.Now().UnixMilli(), "rec", "{}"}
		for i := 0; i < 2; i++ {
			if n, err := s.scripts.create.Run(ctxT(t), e.rdb, []string{key}, args...).Int64(); err != nil || n != 1 {
				t.Fatalf("run %d = %d, %v; want 1", i, n, err)
			}
		}
		other := append([]any{}, args...)
		other[4] = "another record"
		if n, _ := s.scripts.create.Run(ctxT(t), e.rdb, []string{key}, other...).Int64(); n != 0 {
			t.Fatalf("another session's write over an existing key = %d, want 0 (never overwritten)", n)
		}
	})
}

// timeHook counts TIME commands and can hold them until their context
// ends (a Redis too slow to answer the clock read).
type timeHook struct {
	mu    sync.Mutex
	calls int
	hold  bool
	seen  chan struct{}
}

func (h *timeHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *timeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *timeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(fmt.Sprint(cmd.Args()[0]), "time") {
			h.mu.Lock()
			h.calls++
			hold := h.hold
			h.mu.Unlock()
			if h.seen != nil {
				select {
				case h.seen <- struct{}{}:
				default:
				}
			}
			if hold {
				<-ctx.Done()
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}

// Concurrent first writes share one clock measurement, and a stale
// offset is measured again in the background while writes go on with
// the old one: a slow TIME never delays or fails a write that has an
// offset (regression: under load, every create of a fresh server timed
// out reading the clock).
func TestClockIsMeasuredOnceAndRefreshedInTheBackground(t *testing.T) {
	e := miniEnv(t)
	s := e.store(t, Config{MaxSessionsPerUser: -1})
	h := &timeHook{seen: make(chan struct{}, 1)}
	e.rdb.(*redis.Client).AddHook(h)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustCreate(t, s, newSess("u"))
		}()
	}
	wg.Wait()
	if h.calls != 1 {
		t.Fatalf("20 concurrent first creates read the clock %d times, want 1", h.calls)
	}
	<-h.seen
	// Make the offset stale and TIME hang: a create still succeeds at once.
	s.clock.mu.Lock()
	s.clock.at = s.clock.at.Add(-time.Minute)
	s.clock.mu.Unlock()
	h.mu.Lock()
	h.hold = true
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := s.Create(ctx, newSess("u")); err != nil {
		t.Fatalf("create with a stale offset while TIME hangs: %v", err)
	}
	select {
	case <-h.seen: // the background measurement was started
	case <-ctx.Done():
		t.Fatal("a stale offset was not measured again")
	}
}
