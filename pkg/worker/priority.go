package worker

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
)

// Access changes (events.User.ChangesAccess: a leaver's deactivation, a
// reactivation that reverts one) arrive on a consumer of their own,
// Config.Priority, so they need not wait behind a backlog of other work in
// the main consumer. Three things make them overtake it:
//
//   - their own pull and credits (PriorityInflight): the main consumer's
//     backlog never fills the priority lane's share of messages in hand;
//   - their own lane slots (PriorityConcurrency): a user's run that holds
//     an access change does not wait for one of the Concurrency slots busy
//     with creates;
//   - at VCC's rate limiter, which serves waiters in order, their calls
//     wait behind at most the calls already queued by the busy slots.
//
// Per-user order is kept across the two consumers: both read one stream,
// whose sequence orders every message of a user. Before a run applies an
// access change it reads the stream for the user's earlier messages still
// in it (VCCSYNC is a work queue: what is acked is gone), that is the
// messages the main consumer has not yet delivered or whose ack is
// pending, and applies them first, in order. They are recorded in the
// ledger like any applied event; when the main consumer delivers them
// later, they are duplicates and only acked. Such a borrowed message is
// never acked, naked or dead-lettered by the run that borrowed it: if it
// fails transiently the access change waits behind it (held back, as
// behind any retry) and borrows it again when it comes back; if it fails
// for good it is passed over and left to the main consumer, which meets it
// again in its turn and dead-letters it then.

// The other way round, a change from the main consumer must not overtake
// an earlier access change of its user that the priority consumer has not
// delivered yet (or that waits for a retry). A run of main-consumer
// messages reads the stream for its user's access changes before them,
// and borrows them as above, when the access watch says there may be one.

// maxBorrowed bounds the earlier messages one run reads from the stream.
const maxBorrowed = 256

// borrowedMsg is a message read from the stream, not delivered by a
// consumer: it cannot be acked or naked, and is not kept alive.
type borrowedMsg struct{ raw *jetstream.RawStreamMsg }

var _ jetstream.Msg = borrowedMsg{}

func (b borrowedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: b.raw.Sequence}, NumDelivered: 1,
		Stream: events.Stream, Timestamp: b.raw.Time}, nil
}
func (b borrowedMsg) Data() []byte                     { return b.raw.Data }
func (b borrowedMsg) Headers() nats.Header             { return b.raw.Header }
func (b borrowedMsg) Subject() string                  { return b.raw.Subject }
func (b borrowedMsg) Reply() string                    { return "" }
func (b borrowedMsg) Ack() error                       { return nil }
func (b borrowedMsg) DoubleAck(context.Context) error  { return nil }
func (b borrowedMsg) Nak() error                       { return nil }
func (b borrowedMsg) NakWithDelay(time.Duration) error { return nil }
func (b borrowedMsg) InProgress() error                { return nil }
func (b borrowedMsg) Term() error                      { return nil }
func (b borrowedMsg) TermWithReason(string) error      { return nil }

// borrow adds to a run that holds an access change the user's earlier
// messages still in the stream that the run does not hold, so that they
// are applied first.
func (p *pipe[S]) borrow(ctx context.Context, key string, items []*item[S]) []*item[S] {
	var last uint64
	var subj string
	have := map[uint64]bool{}
	for _, it := range items {
		have[it.seq()] = true
		if it.priority && it.seq() > last {
			last = it.seq()
			if ps, err := events.ParseSubject(it.msg.Subject()); err == nil {
				subj = ps.UserID
			}
		}
	}
	if last == 0 || subj == "" || p.stream == nil {
		return items
	}
	// The user's changes and commands, then earlier access changes.
	items = p.borrowRange(ctx, key, items, have, events.SubjectPrefix+subj+".>", 1, last)
	return p.borrowRange(ctx, key, items, have, events.UserPrioritySubject(subj), 1, last)
}

// borrowRange adds to items the messages on subj with stream sequences
// from from up to, not including, last, that items does not hold.
func (p *pipe[S]) borrowRange(ctx context.Context, key string, items []*item[S], have map[uint64]bool, subj string, from, last uint64) []*item[S] {
	n := 0
	for seq := from; n < maxBorrowed; {
		raw, err := p.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			p.w.log.Warn("cannot read the user's earlier messages: the access change may apply before them",
				zap.String("user", key), zap.Uint64("seq", last), zap.Error(err))
			break
		}
		if raw.Sequence >= last {
			break
		}
		seq = raw.Sequence + 1
		if have[raw.Sequence] {
			continue
		}
		ps, _ := events.ParseSubject(raw.Subject)
		it := &item[S]{msg: borrowedMsg{raw}, borrowed: true, priority: ps.Priority}
		it.meta, _ = it.msg.Metadata()
		items = append(items, it)
		n++
	}
	if n > 0 && p.w.m != nil {
		p.w.m.Borrowed.Add(float64(n))
	}
	return items
}

// borrowAccess adds to a run of main-consumer messages the user's access
// changes still in the stream that come before one of them, so that they
// are applied first. It reads the stream only when the access watch says
// there may be one (see accessWatch).
func (p *pipe[S]) borrowAccess(ctx context.Context, key string, items []*item[S]) []*item[S] {
	if p.access == nil {
		return items
	}
	var last uint64
	var subj string
	have := map[uint64]bool{}
	for _, it := range items {
		have[it.seq()] = true
		if it.priority || it.borrowed || it.seq() <= last {
			continue
		}
		last = it.seq()
		if ps, err := events.ParseSubject(it.msg.Subject()); err == nil {
			subj = events.UserPrioritySubject(ps.UserID)
		}
	}
	if last == 0 || subj == "" {
		return items
	}
	check, gen := p.access.mayHave(key, last)
	if !check {
		return items
	}
	n := len(items)
	items = p.borrowRange(ctx, key, items, have, subj, 1, last)
	if len(items) == n {
		p.access.clear(ctx, key, gen, subj)
	}
	return items
}

// accessWatch tells a run of main-consumer messages whether its user may
// have an earlier access change waiting, without reading the stream for
// every run:
//
//   - a core NATS subscription to events.SubjectAccessAll sees every
//     access change published while the worker runs, before any later
//     message of the same publisher reaches the stream, and marks its user;
//   - every floorEvery the earliest access change in the stream is read
//     (the floor), which covers those published before the subscription.
//
// A run must look in the stream for its user's access changes when its
// last message is above the floor, or its user is marked. A mark is
// cleared when such a look finds no access change of the user in the
// stream at all. Without the subscription (no permission to subscribe,
// say) every run looks.
type accessWatch struct {
	stream jetstream.Stream
	log    *zap.Logger

	mu     sync.Mutex
	floor  uint64            // 0 until the first read after the subscription began
	marked map[string]uint64 // user → generation of the mark
	gen    uint64
	live   bool // the subscription is active
}

// floorEvery is how often the access watch reads the floor.
const floorEvery = 250 * time.Millisecond

func newAccessWatch(ctx context.Context, nc *nats.Conn, stream jetstream.Stream, log *zap.Logger) *accessWatch {
	a := &accessWatch{stream: stream, log: log, marked: map[string]uint64{}}
	if nc != nil {
		sub, err := nc.Subscribe(events.SubjectAccessAll, func(m *nats.Msg) {
			if key, ok := userKeyOf(m.Subject); ok {
				a.mu.Lock()
				a.gen++
				a.marked[key] = a.gen
				a.mu.Unlock()
			}
		})
		if err == nil {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = nc.FlushWithContext(fctx) // needs a deadline
			cancel()
		}
		if err != nil {
			log.Warn("cannot watch access changes as they are published: every change reads the stream for its user's", zap.Error(err))
		} else {
			a.live = true
			context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
		}
	}
	go a.readFloors(ctx)
	return a
}

// readFloors reads the floor every floorEvery until ctx ends.
func (a *accessWatch) readFloors(ctx context.Context) {
	t := time.NewTicker(floorEvery)
	defer t.Stop()
	for {
		floor := uint64(0)
		raw, err := a.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(events.SubjectAccessAll))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			floor = math.MaxUint64
		case err == nil:
			floor = raw.Sequence
		}
		a.mu.Lock()
		a.floor = floor
		a.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mayHave reports whether the user may have an access change in the
// stream before seq, and the generation of the user's mark.
func (a *accessWatch) mayHave(key string, seq uint64) (bool, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gen, marked := a.marked[key]
	return !a.live || marked || seq > a.floor, gen
}

// clear forgets the user's mark of generation gen when the stream holds
// no access change of the user.
func (a *accessWatch) clear(ctx context.Context, key string, gen uint64, subj string) {
	a.mu.Lock()
	_, marked := a.marked[key]
	a.mu.Unlock()
	if !marked {
		return
	}
	if _, err := a.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		return
	}
	a.mu.Lock()
	if a.marked[key] == gen {
		delete(a.marked, key)
	}
	a.mu.Unlock()
}
