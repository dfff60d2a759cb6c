package worker

import (
	"context"
	"errors"
	"math"
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
// delivered yet (or that waits for a retry). Each group of messages the
// main consumer delivers carries the access floor read right after it
// arrived: the stream sequence of the earliest access change of any user
// then in the stream. A message below its floor has no earlier access
// change to wait for; that is every message while no access change waits,
// so that costs one read of the stream per pull. A run holding a message
// above its floor reads the stream for its user's access changes before
// it and borrows them, as above.

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
				subj = events.SubjectPrefix + ps.UserID + ".>"
			}
		}
	}
	if last == 0 || subj == "" || p.stream == nil {
		return items
	}
	return p.borrowRange(ctx, key, items, have, subj, 1, last)
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

// accessFloor is the stream sequence of the earliest access change in the
// stream, math.MaxUint64 when there is none or no priority consumer, 0
// when the stream cannot be read (every run then looks for its user's).
func (p *pipe[S]) accessFloor(ctx context.Context) uint64 {
	if p.w.cfg.Priority == nil {
		return math.MaxUint64
	}
	if p.stream == nil {
		return 0
	}
	raw, err := p.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(events.SubjectPriorityAll))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return math.MaxUint64
	case err != nil:
		return 0
	}
	return raw.Sequence
}

// borrowAccess adds to a run of main-consumer messages the user's access
// changes still in the stream that come before one of them, so that they
// are applied first.
func (p *pipe[S]) borrowAccess(ctx context.Context, key string, items []*item[S]) []*item[S] {
	var last, from uint64
	var subj string
	have := map[uint64]bool{}
	for _, it := range items {
		have[it.seq()] = true
		if it.priority || it.borrowed || it.seq() <= it.floor {
			continue
		}
		if it.seq() > last {
			last = it.seq()
			if ps, err := events.ParseSubject(it.msg.Subject()); err == nil {
				subj = events.UserPrioritySubject(ps.UserID)
			}
		}
		if from == 0 || it.floor < from {
			from = it.floor
		}
	}
	if last == 0 || subj == "" || p.stream == nil {
		return items
	}
	return p.borrowRange(ctx, key, items, have, subj, max(from, 1), last)
}
