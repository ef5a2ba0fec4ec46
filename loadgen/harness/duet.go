package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sessionbench/sessionbench/loadgen/engine"
	"github.com/sessionbench/sessionbench/loadgen/tokens"
)

// Duet directories inside a duet's results directory.
const (
	DuetBaseDir    = "base"
	DuetCurrentDir = "current"
)

// duetBase reads --duet: the base server's URL, or the sessiond binary
// to start for it. It is checked before anything is created.
func duetBase(base string) (target, binary string, err error) {
	switch {
	case strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://"):
		return base, "", nil
	case base != "":
		st, err := os.Stat(base)
		if err != nil {
			return "", "", configErrorf("--duet %q: neither an http(s) URL nor a sessiond binary: %v", base, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", "", configErrorf("--duet %q: not an executable file; give a sessiond binary (chmod +x, or `go build -o FILE ./reference/cmd/sessiond`) or an http(s) URL", base)
		}
		return "", base, nil
	default:
		return "", "", configErrorf("--duet needs the base server: an http(s) URL or a sessiond binary")
	}
}

// duetStartSlack is how far ahead of the later prefill the common start
// is set, so both engines are waiting when it comes.
const duetStartSlack = 200 * time.Millisecond

// RunDuet measures two servers at the same time, operation by operation
// (Bulej et al., ICPE 2020: noise from a shared machine then hits both
// alike). current is an ordinary plan; base names the other server:
// an http(s) URL of a server someone runs, or the path of a sessiond
// binary, which RunDuet starts on a Redis of its own (the same kind as
// current's). Both engines get the same scenario, seed and token key and
// start their timelines at one agreed moment, so every scheduled
// operation goes to both at the same intended time. The results go to
// current.Dir/base and current.Dir/current, partners for the gate.
func RunDuet(ctx context.Context, current Plan, base string) (cur, baseOut *Outcome, err error) {
	if err := current.check(); err != nil {
		return nil, nil, err
	}
	if current.Driver != DriverHTTP {
		return nil, nil, configErrorf("--duet compares two HTTP servers; drop --driver store")
	}
	baseTarget, baseBinary, err := duetBase(base)
	if err != nil {
		return nil, nil, err
	}
	undo, err := prepareDir(current.Dir)
	if err != nil {
		return nil, nil, err
	}
	root := current.Dir
	kept := false
	defer func() {
		if !kept {
			undo()
		}
	}()
	if current.Seed == 0 {
		current.Seed = randomSeed()
	}
	if current.Auth == AuthMinted && current.AuthKey == nil {
		// One key for both servers: each trusts the same public key.
		if current.AuthKey, err = tokens.NewKey(); err != nil {
			return nil, nil, err
		}
	}
	pair := "duet-" + randomHex(4)
	basePlan := current
	current.Dir, basePlan.Dir = filepath.Join(root, DuetCurrentDir), filepath.Join(root, DuetBaseDir)
	current.Pair, basePlan.Pair = pair, pair
	if current.Label == "" {
		current.Label = "current"
	}
	basePlan.Label = "base"
	basePlan.Progress = nil // one progress line is enough
	basePlan.Target, basePlan.Sessiond = baseTarget, baseBinary

	rc, cfgC, err := prepare(ctx, current)
	if rc != nil {
		defer rc.close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("duet, current: %w", err)
	}
	rb, cfgB, err := prepare(ctx, basePlan)
	if rb != nil {
		defer rb.close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("duet, base: %w", err)
	}
	rv := newRendezvous(2)
	cfgC.StartAt, cfgB.StartAt = rv.arrive, rv.arrive
	var wg sync.WaitGroup
	var repB *engine.Report
	var errB error
	wg.Add(1)
	go func() {
		defer wg.Done()
		repB, errB = engine.Run(ctx, cfgB)
		rv.leave() // a base that failed before its start must not hold the other
	}()
	repC, errC := engine.Run(ctx, cfgC)
	rv.leave()
	wg.Wait()
	if errB != nil && errC == nil {
		// The current engine waited for a start that the base never
		// reached: both results would mislead.
		errC = errors.New("the base run failed before its start")
	}
	cur, err = rc.finish(repC, errC)
	if err != nil {
		return nil, nil, fmt.Errorf("duet, current: %w", err)
	}
	baseOut, err = rb.finish(repB, errB)
	if err != nil {
		return nil, nil, fmt.Errorf("duet, base: %w", err)
	}
	for _, o := range []*Outcome{cur, baseOut} {
		o.Summary.Duet = true
		if err := o.Summary.Write(o.Dir); err != nil {
			return nil, nil, err
		}
	}
	kept = true
	return cur, baseOut, nil
}

// rendezvous gives n engines one start: arrive blocks until all n have
// arrived (or left: an engine that failed before its start leaves), then
// every arrival gets the same time, just after the last.
type rendezvous struct {
	mu      sync.Mutex
	waiting int
	ready   chan struct{}
	at      time.Time
}

func newRendezvous(n int) *rendezvous { return &rendezvous{waiting: n, ready: make(chan struct{})} }

// arrive is an engine's StartAt.
func (r *rendezvous) arrive() time.Time {
	r.mu.Lock()
	r.count()
	r.mu.Unlock()
	<-r.ready
	return r.at
}

// leave is called when an engine's Run returned; it counts as an arrival
// only for an engine that never arrived, which callers cannot tell apart,
// so it is safe to call once per engine after Run.
func (r *rendezvous) leave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.ready:
	default:
		r.count()
	}
}

// count records one arrival; the last closes ready. r.mu is held.
func (r *rendezvous) count() {
	r.waiting--
	if r.waiting == 0 {
		r.at = time.Now().Add(duetStartSlack)
		close(r.ready)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var s uint64
	for _, x := range b {
		s = s<<8 | uint64(x)
	}
	return s | 1
}
