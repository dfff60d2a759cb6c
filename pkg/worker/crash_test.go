package worker_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

// deadWorker fetches n messages from the durable consumer on a connection
// of its own and closes it without acking them, as a worker killed in the
// middle of a batch leaves them.
func deadWorker(t *testing.T, h *harness, n int) []uint64 {
	t.Helper()
	nc, err := nats.Connect(h.url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	info := h.consumerInfo(t)
	cons, err := js.Consumer(testCtx(t), info.Stream, info.Name)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for m := range batch.Messages() {
		meta, _ := m.Metadata()
		seqs = append(seqs, meta.Sequence.Stream)
	}
	nc.Close()
	if len(seqs) != n {
		t.Fatalf("the dead worker got %d messages, want %d", len(seqs), n)
	}
	return seqs
}

// TestOrderSurvivesAWorkerThatDied: a worker died holding a1 unacked. The
// next worker is handed a2 at once, while a1 comes back only after its
// AckWait: a2 must wait for it. Other users are not held.
func TestOrderSurvivesAWorkerThatDied(t *testing.T) {
	a, b := userID(t, "0055e000001Aaaa"), userID(t, "0055e000001Bbbb")
	h := newHarness(t, time.Second)
	h.publish(t, a, "a1")
	deadWorker(t, h, 1)
	h.publish(t, a, "a2")
	h.publish(t, b, "b1")
	start := time.Now()
	h.run(t, h.config(), nil)
	waitApplied(t, h, "a1", "a2", "b1")
	if got := h.h.appliedOrder(a); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("user A's events applied in the order %v, want a1, a2", got)
	}
	if o, _ := h.obs.first(applied("b1")); o.At.Sub(start) > 500*time.Millisecond {
		t.Errorf("b1 applied %v after start: held back although its user has nothing pending", o.At.Sub(start))
	}
}

// settlements records what the worker marks settled, per event id, on
// top of the real store.
type settlements struct {
	boltStore
	mu      sync.Mutex
	settled map[string]bool
	// wrong lists settled records followed, in the same commit, by a
	// failed record of the same user.
	wrong []string
}

func (s *settlements) Commit(recs []worker.Record[State]) error {
	s.mu.Lock()
	for i, r := range recs {
		if !r.Settled {
			continue
		}
		s.settled[r.EventID] = true
		for _, later := range recs[i+1:] {
			if later.UserKey == r.UserKey && later.Err != "" {
				s.wrong = append(s.wrong, r.EventID+" settled before the failed "+later.EventID)
			}
		}
	}
	s.mu.Unlock()
	return s.boltStore.Commit(recs)
}

func (s *settlements) is(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settled[id]
}

// TestSettledOnlyWhenNothingFailedAfter: a user's state is marked settled
// (its write intent may be closed) only when no handler call of that user
// failed after the last success in the same run of the user's lane (a run
// commits before the user's next run starts, so a later run's failure
// finds the intent its own write opened); a dead-lettered event's record
// keeps the state the handler reached before it failed.
func TestSettledOnlyWhenNothingFailedAfter(t *testing.T) {
	a, b, c := userID(t, "0055e000001Aaaa"), userID(t, "0055e000001Bbbb"), userID(t, "0055e000001Cccc")
	h := newHarness(t, 30*time.Second)
	h.h.on("b2", act{err: permanent("contact center refused the user"), partial: true})
	h.h.on("c1", fail(permanent("VCC refused the email")))
	for _, p := range []struct{ user, id string }{{a, "a1"}, {a, "a2"}, {b, "b1"}, {b, "b2"}, {c, "c1"}, {c, "c2"}} {
		h.publish(t, p.user, p.id)
	}
	st := &settlements{boltStore: h.store, settled: map[string]bool{}}
	h.run(t, h.config(), st)
	waitFor(t, waitLong, "every event settled", func() bool {
		return h.obs.count(func(o worker.Outcome) bool { return o.Outcome != metrics.OutcomeRetried }) == 6
	})
	// a1 and b1 are settled when their run ended with them, not when a
	// later event of the user ran in the same run.
	for id, want := range map[string]bool{"a2": true, "b2": false, "c1": false, "c2": true} {
		if got := st.is(id); got != want {
			t.Errorf("%s settled %v, want %v", id, got, want)
		}
	}
	st.mu.Lock()
	if len(st.wrong) > 0 {
		t.Errorf("settled although a later call of the user failed: %v", st.wrong)
	}
	st.mu.Unlock()
	if got := h.user(t, b).LastEventID; got != "b2 (partial)" {
		t.Errorf("user B's state after the dead-lettered b2: last event %q, want what b2 reached before failing", got)
	}
	if o, ok := h.obs.first(outcome("b2", "dead_lettered")); !ok || o.Class != events.ClassPermanent {
		t.Errorf("b2: %+v, want dead-lettered as permanent", o)
	}
}
