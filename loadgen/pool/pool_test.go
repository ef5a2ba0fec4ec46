package pool

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sessionbench/sessionbench/loadgen/driver"
)

// TestPoolInvariantsConcurrent hammers the pool from many goroutines and
// checks: no session is taken twice, picks return sessions live at pick
// time, count = adds − takes, and the final contents are exactly the
// added-but-not-taken sessions.
func TestPoolInvariantsConcurrent(t *testing.T) {
	p := New()
	const workers, per = 16, 2000
	var mu sync.Mutex
	taken := map[uint64]bool{}
	added := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pk := NewZipf(uint64(w)+1, 1.1)
			if w%2 == 0 {
				pk = NewUniform(uint64(w) + 1)
			}
			for i := 0; i < per; i++ {
				switch i % 3 {
				case 0:
					e := p.Add(driver.Session{Credential: fmt.Sprintf("c-%d-%d", w, i)})
					mu.Lock()
					added[e.ID] = true
					mu.Unlock()
				case 1:
					if e, ok := p.Take(pk); ok {
						mu.Lock()
						if taken[e.ID] {
							t.Errorf("entry %d taken twice", e.ID)
						}
						taken[e.ID] = true
						mu.Unlock()
						if p.Live(e.ID) {
							t.Errorf("entry %d live after take", e.ID)
						}
					}
				case 2:
					mu.Lock() // hold: no take can complete between pick and check
					if e, ok := p.Pick(pk); ok && taken[e.ID] {
						t.Errorf("picked taken entry %d", e.ID)
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	a, tk := p.Counts()
	if int(a) != len(added) || int(tk) != len(taken) || p.Len() != len(added)-len(taken) {
		t.Fatalf("counts: added %d/%d taken %d/%d len %d", a, len(added), tk, len(taken), p.Len())
	}
	// Drain: every remaining entry is added and never taken, each once.
	pk := NewUniform(99)
	for p.Len() > 0 {
		e, _ := p.Take(pk)
		if !added[e.ID] || taken[e.ID] {
			t.Fatalf("pool held entry %d (added %v, taken %v)", e.ID, added[e.ID], taken[e.ID])
		}
		taken[e.ID] = true
	}
	if len(taken) != len(added) {
		t.Fatalf("drained %d of %d", len(taken), len(added))
	}
}

func TestEmptyPool(t *testing.T) {
	p := New()
	if _, ok := p.Pick(NewUniform(1)); ok {
		t.Error("Pick on empty pool")
	}
	if _, ok := p.Take(NewUniform(1)); ok {
		t.Error("Take on empty pool")
	}
}

// TestZipfFavoursHotSet checks zipf concentrates picks on low indices and
// uniform does not.
func TestZipfFavoursHotSet(t *testing.T) {
	const n, draws = 1000, 100000
	hot := func(pk *Picker) int {
		c := 0
		for i := 0; i < draws; i++ {
			if pk.Index(n) < 10 {
				c++
			}
		}
		return c
	}
	z, u := hot(NewZipf(7, 1.1)), hot(NewUniform(7))
	if z < draws/4 {
		t.Errorf("zipf: only %d of %d picks in the 10 hottest", z, draws)
	}
	if u > draws/50 {
		t.Errorf("uniform: %d of %d picks in the 10 lowest (expect ~1%%)", u, draws)
	}
}
