package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
)

// item is one message of a batch and its fate.
type item[S any] struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	ev   *events.Event
	// priority: delivered by the priority consumer; borrowed: read from
	// the stream ahead of an access change (see priority.go)
	priority, borrowed bool
	passed             bool // borrowed, failed for good, and left to the main consumer

	// fate, set by the lane
	done     bool // applied or duplicate: ack after commit
	retry    time.Duration
	retryErr error
	dlqClass string
	dlqErr   error
	outcome  string
	detail   string
	changes  []Change
	state    S
	hasState bool
	settled  bool // see Record.Settled
}

// applyLane applies one user's events in order, starting from state, and
// returns the state they leave. An event that fails transiently holds back
// the user's later events, in this run and in later ones, until it is
// applied or dead-lettered.
func (w *Worker[S]) applyLane(stop, ctx context.Context, key string, lane []*item[S], state S) S {
	// Redeliveries can arrive behind later events: apply in stream order.
	slices.SortStableFunc(lane, func(a, b *item[S]) int { return cmp.Compare(a.seq(), b.seq()) })
	seen := map[string]bool{}
	// The last item whose handler call succeeded, and whether a call
	// failed after it: see Record.Settled.
	var lastOK *item[S]
	failedAfter := false
	defer func() {
		if lastOK != nil && !failedAfter {
			lastOK.settled = true
		}
	}()
	for _, it := range lane {
		if it.dlqErr != nil {
			continue // poison: it holds nothing back
		}
		if stop.Err() != nil {
			// Stopping: what has not started goes back at once, for the
			// next worker; no attempt is used.
			w.hold(key, it, errStopping, 0)
			continue
		}
		if delay, blocker, held := w.heldBack(key, it.seq()); held {
			w.hold(key, it, &heldError{seq: blocker}, delay)
			continue
		}
		if seen[it.ev.ID] {
			it.done, it.outcome = true, "duplicate"
			w.release(key, it.seq())
			continue
		}
		dup, err := w.store.Seen(it.ev.ID)
		if err != nil {
			w.fail(key, it, fmt.Errorf("read ledger: %w", err), 0)
			continue
		}
		if dup {
			it.done, it.outcome = true, "duplicate"
			w.release(key, it.seq())
			continue
		}
		if w.quarantined() {
			// The target cannot be used: do not call it; no attempt is used.
			w.hold(key, it, &quarantinedError{}, w.cfg.ProbeInitial)
			continue
		}
		hstart := time.Now()
		res, err := w.handler.Handle(ctx, it.ev, state)
		if w.m != nil {
			w.m.HandlerDuration.WithLabelValues(it.ev.Type).Observe(time.Since(hstart).Seconds())
		}
		if err != nil {
			failedAfter = true
			if res.Partial {
				// What the event did before it failed (a link to a user it
				// created) is what the user's later events start from.
				state = res.State
			}
			if ctx.Err() != nil {
				// Cut off by shutdown: not the event's fault, so no attempt is
				// used up; it comes back (and holds the user) as any retry.
				w.hold(key, it, fmt.Errorf("stopped while applying: %w", err), w.cfg.RetryInitial)
				continue
			}
			failedAt := time.Now()
			kind := QuarantineKind(err)
			transient, after := classify(err)
			// A failure that says the target cannot be used is put back,
			// without using an attempt, once the worker is quarantined.
			// Before such a failure would dead-letter the message (a refusal
			// of the credentials, the last attempt) the Probe decides whether
			// the target is down or the failure is about the message.
			down := false
			switch {
			case kind == "":
				w.observeTarget(it.seq(), "", err)
			case !transient:
				down = w.confirmDown(ctx, failedAt, kind, err)
				if !down {
					kind = "" // the target answers: the refusal is about the message
				}
				w.observeTarget(it.seq(), kind, err)
			default:
				down = w.observeTarget(it.seq(), kind, err) ||
					(w.lastAttempt(it.seq()) && w.confirmDown(ctx, failedAt, kind, err))
			}
			if down {
				w.hold(key, it, &quarantinedError{cause: err}, max(w.cfg.ProbeInitial, after))
				continue
			}
			if !transient {
				it.dlqClass, it.dlqErr = events.ClassPermanent, err
				it.state, it.hasState = state, true
				w.release(key, it.seq())
				continue
			}
			w.fail(key, it, err, after)
			if it.dlqErr != nil {
				it.state, it.hasState = state, true
			}
			continue
		}
		w.observeTarget(it.seq(), "", nil)
		w.release(key, it.seq())
		seen[it.ev.ID] = true
		lastOK, failedAfter = it, false
		state = res.State
		it.done, it.outcome, it.detail, it.changes = true, res.Outcome, res.Detail, res.Changes
		it.state, it.hasState = state, true
	}
	return state
}

// fail records a transient failure: the item is retried with backoff (at
// least the target's Retry-After) and holds back the user's later events,
// or, after MaxAttempts failures, is dead-lettered as exhausted.
func (w *Worker[S]) fail(key string, it *item[S], err error, retryAfter time.Duration) {
	seq := it.seq()
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	w.failures[seq]++
	n := w.failures[seq]
	if n >= w.cfg.MaxAttempts {
		delete(w.failures, seq)
		w.unpend(key, seq)
		it.dlqClass, it.dlqErr = events.ClassExhausted, fmt.Errorf("gave up after %d attempts: %w", n, err)
		return
	}
	it.retry, it.retryErr = max(w.retryDelay(n), retryAfter), err
	w.pend(key, seq, it.retry)
}

// lastAttempt reports whether one more failure of the event with stream
// sequence seq would dead-letter it as exhausted.
func (w *Worker[S]) lastAttempt(seq uint64) bool {
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	return w.failures[seq]+1 >= w.cfg.MaxAttempts
}

// hold retries the item after delay, without counting an attempt; the
// user's later events wait for it meanwhile.
func (w *Worker[S]) hold(key string, it *item[S], err error, delay time.Duration) {
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	it.retry, it.retryErr = delay, err
	w.pend(key, it.seq(), delay)
}

// pend records that the user's event seq comes back after delay.
// holdMu must be held.
func (w *Worker[S]) pend(key string, seq uint64, delay time.Duration) {
	if w.pending[key] == nil {
		w.pending[key] = map[uint64]time.Time{}
	}
	w.pending[key][seq] = time.Now().Add(delay)
}

// unpend forgets the user's event seq. holdMu must be held.
func (w *Worker[S]) unpend(key string, seq uint64) {
	delete(w.pending[key], seq)
	if len(w.pending[key]) == 0 {
		delete(w.pending, key)
	}
}

// heldBack reports whether the event with stream sequence seq must wait
// for an earlier pending event of the same user, which one, and for how
// long: until that event is due, and a little more.
func (w *Worker[S]) heldBack(key string, seq uint64) (time.Duration, uint64, bool) {
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	var blocker uint64
	var due time.Time
	for p, at := range w.pending[key] {
		if p >= seq {
			continue
		}
		// An event that never came back (purged from the stream) stops
		// holding the others after a while.
		if time.Since(at) > 2*w.cfg.AckWait+w.cfg.RetryMax {
			w.unpend(key, p)
			continue
		}
		if blocker == 0 || p < blocker {
			blocker, due = p, at
		}
	}
	if blocker == 0 {
		return 0, 0, false
	}
	return max(time.Until(due), 0) + w.cfg.RetryInitial/4 + time.Millisecond, blocker, true
}

// release settles the event: it no longer holds the user's later events,
// and its failures are forgotten.
func (w *Worker[S]) release(key string, seq uint64) {
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	delete(w.failures, seq)
	w.unpend(key, seq)
}

// errStopping puts back the events a stopping worker did not start.
var errStopping = errors.New("the worker is stopping")

// heldError says an event waits for an earlier one of the same user.
type heldError struct{ seq uint64 }

func (e *heldError) Error() string {
	return fmt.Sprintf("held back until the user's earlier event (stream sequence %d) is applied", e.seq)
}

// record is the item's Record with what the event says of itself.
func (it *item[S]) record() Record[S] {
	r := Record[S]{UserKey: it.ev.UserKey, Type: it.ev.Type, At: time.Now()}
	if c := it.ev.Command; c != nil {
		r.Action, r.RequestedBy, r.Reason = c.Action, c.RequestedBy, c.Reason
	}
	return r
}

// poisonRecord is the record of a message dead-lettered as poison, when
// its subject names a user and it has a message id: no state (nothing was
// applied) and no ledger entry, but an entry in the user's history, so
// that whoever waits for the event (vccctl cmd --wait) learns its fate.
// The id is the message id, less the suffix a DLQ replay adds.
func (it *item[S]) poisonRecord() (Record[S], bool) {
	p, err := events.ParseSubject(it.msg.Subject())
	if err != nil {
		return Record[S]{}, false
	}
	key, err := events.UserKey(p.UserID)
	h := it.msg.Headers()
	id := h.Get(events.HeaderMsgID)
	if h.Get(events.HeaderReplays) != "" {
		id, _, _ = strings.Cut(id, ":replay:")
	}
	if err != nil || id == "" {
		return Record[S]{}, false
	}
	r := Record[S]{EventID: id, UserKey: key, Outcome: "dead_lettered", Err: it.dlqErr.Error(), ErrClass: it.dlqClass, At: time.Now()}
	r.Type = events.TypeUserChanged
	if p.Kind == events.KindCommand {
		r.Type, r.Action = events.CommandTypePrefix+p.Action, p.Action
	}
	return r, true
}

func (it *item[S]) seq() uint64 {
	if it.meta == nil {
		return 0
	}
	return it.meta.Sequence.Stream
}

func (it *item[S]) deliveries() uint64 {
	if it.meta == nil {
		return 1
	}
	return it.meta.NumDelivered
}

// settle acks, naks or reports one message after the commit.
func (w *Worker[S]) settle(it *item[S]) {
	o := Outcome{Subject: it.msg.Subject(), Attempts: it.deliveries(), Outcome: it.outcome, Detail: it.detail}
	typ := "unknown"
	if it.ev != nil {
		o.EventID, o.UserKey, o.Type, typ = it.ev.ID, it.ev.UserKey, it.ev.Type, it.ev.Type
	}
	switch {
	case it.dlqErr != nil:
		// deadLetter acked (or naked) it already.
		o.Outcome, o.Class, o.Err = "dead_lettered", it.dlqClass, it.dlqErr
	case it.retryErr != nil:
		o.Outcome, o.Err = "retried", it.retryErr
		if err := it.msg.NakWithDelay(it.retry); err != nil {
			w.log.Warn("nak failed", zap.String("subject", o.Subject), zap.Error(err))
		}
		if w.m != nil {
			w.m.Retries.WithLabelValues(typ, retryReason(it.retryErr)).Inc()
		}
		var held *heldError
		if errors.As(it.retryErr, &held) || errors.Is(it.retryErr, errStopping) {
			break // the log line belongs to the event that failed, or to the stop
		}
		var quarantined *quarantinedError
		if errors.As(it.retryErr, &quarantined) {
			break // one line when the quarantine begins and ends
		}
		w.log.Info("event will be retried", zap.String("subject", o.Subject), zap.String("event_id", o.EventID),
			zap.Uint64("attempt", o.Attempts), zap.Duration("delay", it.retry), zap.Error(it.retryErr))
	case it.done:
		if err := it.msg.Ack(); err != nil {
			// Redelivered later and found in the ledger: no effect twice.
			w.log.Warn("ack failed", zap.String("subject", o.Subject), zap.Error(err))
		}
		// Lag runs from the message's arrival in the stream, not from the
		// event's own time: a replay or a reconcile carries old Salesforce
		// timestamps that say nothing of how far behind the worker is.
		if w.m != nil && it.outcome != "duplicate" && it.outcome != "stale" {
			if meta := it.meta; meta != nil && !meta.Timestamp.IsZero() {
				lag := time.Since(meta.Timestamp).Seconds()
				w.m.EventLag.Observe(lag)
				if it.priority {
					w.m.Deprovision.Observe(lag)
				}
			}
		}
	}
	if w.m != nil {
		w.m.Events.WithLabelValues(typ, o.Outcome).Inc()
	}
	w.observe(o)
}
