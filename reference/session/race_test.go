package session

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestConcurrentDestroyIsFinal hammers the same sessions with validate
// (touching), update and destroy from many goroutines. Afterwards no
// destroyed session validates and every key has a TTL.
func TestConcurrentDestroyIsFinal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// A real clock with a tiny threshold so validates keep touching.
		s := e.store(t, Config{TouchThreshold: time.Nanosecond, Now: time.Now})
		const sessions, workers, opsPerWorker = 20, 16, 150
		ids := make([]string, sessions)
		for i := range ids {
			ids[i] = mustCreate(t, s, newSess("racer"))
		}
		var mu sync.Mutex
		destroyed := map[string]bool{}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, seed))
				ctx := ctxT(t)
				for i := 0; i < opsPerWorker; i++ {
					id := ids[r.IntN(sessions)]
					var err error
					switch r.IntN(10) {
					case 0:
						err = s.Destroy(ctx, id)
						if err == nil || errors.Is(err, ErrNotFound) {
							mu.Lock()
							destroyed[id] = true
							mu.Unlock()
							err = nil
						}
					case 1, 2:
						err = s.UpdateData(ctx, id, json.RawMessage(`{"n":1}`))
					default:
						_, err = s.Validate(ctx, id)
					}
					if err != nil && !errors.Is(err, ErrNotFound) {
						t.Errorf("op on session: %v", err)
						return
					}
				}
			}(uint64(w) + 1)
		}
		wg.Wait()
		if len(destroyed) == 0 {
			t.Fatal("no session was destroyed: the test proved nothing")
		}
		for id := range destroyed {
			if _, err := s.Validate(ctxT(t), id); !errors.Is(err, ErrNotFound) {
				t.Errorf("destroyed session came back: %v", err)
			}
		}
		assertAllKeysHaveTTL(t, e.rdb)
	})
}

// TestConcurrentCreateAndDestroyAll checks the index superset invariant
// under logins racing "log out everywhere": every session that is still
// live afterwards is listed in its user's index.
func TestConcurrentCreateAndDestroyAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.store(t, Config{MaxSessionsPerUser: -1, Now: time.Now})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		for w := 0; w < 4; w++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					id, _, err := s.Create(ctxT(t), newSess("many"))
					if err != nil {
						t.Errorf("Create: %v", err)
						return
					}
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}()
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					if _, err := s.DestroyAll(ctxT(t), "many"); err != nil {
						t.Errorf("DestroyAll: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		members := map[string]bool{}
		for _, m := range e.rdb.ZRange(ctxT(t), s.indexKey("many"), 0, -1).Val() {
			members[m] = true
		}
		live := 0
		for _, id := range ids {
			if _, err := s.Validate(ctxT(t), id); err == nil {
				live++
				if !members[indexMember(t, s, id)] {
					t.Errorf("live session missing from the user index")
				}
			}
		}
		n, err := s.DestroyAll(ctxT(t), "many")
		if err != nil || n != live {
			t.Fatalf("final DestroyAll = %d, %v; want %d", n, err, live)
		}
		assertAllKeysHaveTTL(t, e.rdb)
	})
}
