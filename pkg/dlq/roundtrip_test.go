package dlq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/dlq"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/worker"
)

// refusal is a failure the target will not change its mind about: the
// worker dead-letters it as permanent.
type refusal struct{ msg string }

func (e *refusal) Error() string   { return e.msg }
func (e *refusal) Temporary() bool { return false }

// refuseAll is a handler the target refuses every event of.
type refuseAll struct{}

func (refuseAll) Handle(context.Context, *events.Event, struct{}) (worker.Result[struct{}], error) {
	return worker.Result[struct{}]{}, &refusal{"update VCC user 17: 409 Conflict: username taken"}
}

// noStore is a store that remembers nothing: every event is new.
type noStore struct{}

func (noStore) Seen(string) (bool, error)              { return false, nil }
func (noStore) Load(string) (struct{}, error)          { return struct{}{}, nil }
func (noStore) Commit([]worker.Record[struct{}]) error { return nil }

var (
	_ worker.Handler[struct{}] = refuseAll{}
	_ worker.Store[struct{}]   = noStore{}
)

// waitLetters waits until the DLQ holds n letters and returns their
// sequences.
func waitLetters(t *testing.T, d *dlq.DLQ, n int) []uint64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		seqs := dlqSeqs(t, d)
		if len(seqs) == n {
			return seqs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the DLQ holds %v, want %d letters", seqs, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkerRoundTrip: what the worker writes is what the DLQ reads. The
// real worker dead-letters an event its target refuses; the letter reads
// with every header, a replay sends it back, the worker dead-letters it
// again with its replay count, and the replay limit stops it.
func TestWorkerRoundTrip(t *testing.T) {
	js := startJetStream(t, true)
	ctx := testContext(t)
	cons, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New[struct{}](worker.Config{}, cons, js, refuseAll{}, noStore{}, nil, zaptest.NewLogger(t))
	wctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("worker: %v", err)
		}
	})

	env, err := events.NewUserChanged("evt-1", "test", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		events.User{ID: jane, Alias: events.Val("jsmith"), SystemModstamp: events.Val(events.Time{Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, js, env); err != nil {
		t.Fatal(err)
	}
	d := open(t, js)
	seqs := waitLetters(t, d, 1)
	read := func(seq uint64) *dlq.Letter {
		t.Helper()
		var got *dlq.Letter
		p, err := d.Plan(ctx, one(seq))
		if err == nil {
			err = d.Scan(ctx, p, one(seq), func(l *dlq.Letter) error { got = l; return nil }, func(uint64) {})
		}
		if err != nil || got == nil {
			t.Fatalf("read letter %d: %v", seq, err)
		}
		return got
	}
	l := read(seqs[0])
	if l.Class != events.ClassPermanent || l.Error != "update VCC user 17: 409 Conflict: username taken" || l.OriginalSubject != events.UserChangedSubject(jane) ||
		l.OriginalSeq != "1" || l.OriginalMsgID != "evt-1" || l.Deliveries != "1" || l.FailedAt == "" || l.Stored.Sub(l.Failed).Abs() > time.Minute ||
		l.Replays != 0 || l.EventID != "evt-1" || l.Type != events.TypeUserChanged || l.User != jane || l.Reason != "update VCC user #" {
		t.Errorf("the worker's letter reads as %+v", l)
	}

	// Replay it twice (limit 2): each time the worker sends it back with
	// its replay count.
	opts := dlq.ReplayOptions{MaxReplays: 2}
	for n := 1; n <= 2; n++ {
		res, c, err := replay(t, d, &dlq.Filter{}, opts)
		if err != nil || c.Replayed != 1 || res[0].Replays != n {
			t.Fatalf("replay %d: %+v, %+v, %v", n, res, c, err)
		}
		l = read(waitLetters(t, d, 1)[0])
		// (No Vccsync-Previous-Error: a replay drops Vccsync-Error, which
		// the worker would copy there.)
		if l.Replays != n || l.OriginalMsgID != res[0].MsgID || l.ReplayedFrom == "" || l.Class != events.ClassPermanent {
			t.Errorf("after replay %d the letter reads as %+v", n, l)
		}
	}
	res, c, _ := replay(t, d, &dlq.Filter{}, opts)
	if c.Refused != 1 || res[0].Refusal != "replayed 2 times already, the limit is 2 (--max-replays); it failed again (permanent: update VCC user 17: 409 Conflict: username taken); purge it, or fix the cause and raise --max-replays" {
		t.Errorf("replay past the limit: %+v, %+v", res, c)
	}
}
