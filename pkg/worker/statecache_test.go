package worker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/worker"
)

// loadCounter is the bbolt store, counting the user states read from it.
type loadCounter struct {
	boltStore
	mu    sync.Mutex
	loads map[string]int
}

func (s *loadCounter) Load(key string) (State, error) {
	s.mu.Lock()
	s.loads[key]++
	s.mu.Unlock()
	return s.boltStore.Load(key)
}

func (s *loadCounter) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[key]
}

// A user's next events start from the state their last ones committed,
// kept in memory, without reading the store again; with the cache off
// they read it. Either way they see the same state.
func TestUserStateKeptBetweenRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int
		loads int
	}{{"cache", 0, 1}, {"no cache", -1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 30*time.Second)
			st := &loadCounter{boltStore: h.store, loads: map[string]int{}}
			cfg := h.config()
			cfg.StateCache = tc.cache
			h.run(t, cfg, st)
			user := nthUser(t, 0)
			h.publish(t, user, "first")
			waitApplied(t, h, "first")
			h.waitWorkQueueEmpty(t) // committed: its lane has ended
			h.publish(t, user, "second")
			waitApplied(t, h, "second")
			if got := st.count(user); got != tc.loads {
				t.Errorf("the user's state was read from the store %d times, want %d", got, tc.loads)
			}
			calls := h.h.callsFor("second")
			if len(calls) != 1 || calls[0].Prev.LastEventID != "first" || calls[0].Prev.Applied != 1 {
				t.Fatalf("the second event started from %+v, want the state the first one committed", calls)
			}
		})
	}
}

// A run that fails keeps nothing in memory: the retry starts from the
// state in the store, not from what the failed run left in hand.
func TestFailedRunReadsStoreAgain(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	st := &loadCounter{boltStore: h.store, loads: map[string]int{}}
	user := nthUser(t, 0)
	h.h.on("flaky", act{err: transient("VCC 503"), partial: true})
	h.publish(t, user, "first")
	h.run(t, h.config(), st)
	waitApplied(t, h, "first")
	h.waitWorkQueueEmpty(t)
	h.publish(t, user, "flaky")
	waitApplied(t, h, "flaky")
	calls := h.h.callsFor("flaky")
	if len(calls) != 2 {
		t.Fatalf("flaky ran %d times, want 2 (a failure, then the retry)", len(calls))
	}
	if calls[1].Prev.LastEventID != "first" {
		t.Errorf("the retry started from a state whose last event is %q, want the committed %q", calls[1].Prev.LastEventID, "first")
	}
	if got := st.count(user); got != 2 {
		t.Errorf("the user's state was read from the store %d times, want 2 (once at first, again after the failure)", got)
	}
}

var _ worker.Store[State] = (*loadCounter)(nil)
