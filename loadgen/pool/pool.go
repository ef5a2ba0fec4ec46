// Package pool is the shared set of live sessions of a load run: creates
// add, destroys take (so two destroys never pick the same session), and
// validates pick by the scenario's distribution (uniform or zipf).
package pool

import (
	"math/rand/v2"
	"sync"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// Entry is a live session with the pool's identity for it.
type Entry struct {
	// ID is unique per Add for the life of the pool.
	ID      uint64
	Session driver.Session
}

// Pool is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	entries []Entry
	index   map[uint64]int // ID → position in entries
	nextID  uint64
	added   uint64
	taken   uint64
}

// New returns an empty pool.
func New() *Pool { return &Pool{index: map[uint64]int{}} }

// Add makes s live and returns its entry.
func (p *Pool) Add(s driver.Session) Entry {
	p.mu.Lock()
	p.nextID++
	e := Entry{ID: p.nextID, Session: s}
	p.index[e.ID] = len(p.entries)
	p.entries = append(p.entries, e)
	p.added++
	p.mu.Unlock()
	return e
}

// Pick returns a live session chosen by pk without removing it; ok is
// false when the pool is empty.
func (p *Pool) Pick(pk *Picker) (Entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.entries) == 0 {
		return Entry{}, false
	}
	return p.entries[pk.Index(len(p.entries))], true
}

// Take removes and returns a live session chosen by pk; ok is false when
// the pool is empty. A taken session is never returned again.
func (p *Pool) Take(pk *Picker) (Entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.entries)
	if n == 0 {
		return Entry{}, false
	}
	i := pk.Index(n)
	e := p.entries[i]
	// Move the last entry into the hole: O(1), and the low (hot) indices
	// stay occupied.
	last := p.entries[n-1]
	p.entries[i] = last
	p.index[last.ID] = i
	p.entries = p.entries[:n-1]
	delete(p.index, e.ID)
	p.taken++
	return e, true
}

// Live reports whether the entry with id is still in the pool (not
// taken). A validate that got 401 for a session no longer live raced a
// destroy: an expected rejection, not an error.
func (p *Pool) Live(id uint64) bool {
	p.mu.Lock()
	_, ok := p.index[id]
	p.mu.Unlock()
	return ok
}

// Len is the number of live sessions.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// Counts returns how many sessions were ever added and taken; Len() ==
// added − taken always.
func (p *Pool) Counts() (added, taken uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.added, p.taken
}

// zipfSpan bounds the zipf generator's range; indices beyond the pool
// size fold back (mod n), keeping the hot set at the low indices.
const zipfSpan = 1 << 30

// Picker chooses indices into the pool. It is NOT safe for concurrent
// use: give each goroutine its own.
type Picker struct {
	rng  *rand.Rand
	zipf *rand.Zipf // nil for uniform
}

// NewUniform picks every live session with equal probability.
func NewUniform(seed uint64) *Picker {
	return &Picker{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// NewZipf picks index k with probability ∝ (1+k)^−s (s > 1): the oldest
// sessions form a stable hot set.
func NewZipf(seed uint64, s float64) *Picker {
	pk := NewUniform(seed)
	pk.zipf = rand.NewZipf(pk.rng, s, 1, zipfSpan)
	return pk
}

// Index returns an index in [0, n); n must be > 0.
func (pk *Picker) Index(n int) int {
	if pk.zipf == nil {
		return pk.rng.IntN(n)
	}
	return int(pk.zipf.Uint64() % uint64(n))
}
