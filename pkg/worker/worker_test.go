package worker_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

const waitLong = 15 * time.Second

func applied(eventID string) func(worker.Outcome) bool {
	return outcome(eventID, metrics.OutcomeApplied)
}

// waitApplied waits until each event was reported applied.
func waitApplied(t *testing.T, h *harness, ids ...string) {
	t.Helper()
	waitFor(t, waitLong, "applied "+strings.Join(ids, ","), func() bool {
		for _, id := range ids {
			if h.obs.count(applied(id)) == 0 {
				return false
			}
		}
		return true
	})
}

func checkHeader(t *testing.T, m *jetstream.RawStreamMsg, key, want string) {
	t.Helper()
	if got := m.Header.Get(key); got != want {
		t.Errorf("dead letter header %s = %q, want %q", key, got, want)
	}
}

func checkFailedAt(t *testing.T, m *jetstream.RawStreamMsg, notBefore time.Time) {
	t.Helper()
	v := m.Header.Get(events.HeaderFailedAt)
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Errorf("dead letter header %s = %q: not RFC 3339: %v", events.HeaderFailedAt, v, err)
		return
	}
	if at.Before(notBefore.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("dead letter header %s = %s, not within the test (started %s)", events.HeaderFailedAt, at, notBefore)
	}
}

// A message that cannot be decoded or fails validation goes to the DLQ
// at once, untouched, with the specific reason; the handler never sees it
// and the messages around it are applied.
func TestPoisonIsDeadLetteredAtOnce(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	body := func(env events.Envelope) []byte {
		t.Helper()
		p, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	longAlias, err := events.NewUserChanged("poison-alias", "salesforce/cdc", eventTime,
		events.User{ID: a, Alias: events.Val("jsmith1234")})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		subject string
		body    []byte
		want    string
	}{
		{"not JSON", events.UserChangedSubject(a), []byte(`{"specversion":"1.0","id":"poison-json",`), "envelope: not valid JSON"},
		{"fails validation", events.UserChangedSubject(a), body(longAlias), "data.Alias: 10 characters, Salesforce allows at most 8"},
		{"envelope of another user", events.UserChangedSubject(a), body(userChanged(t, b, "poison-other")), "does not match the NATS subject's user"},
		{"subject without a user ID", "vccsync.user.0015e000001Aaaa.changed", body(userChanged(t, a, "poison-subject")), "user token: not a Salesforce user ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, decodeErr := events.Decode(tc.subject, tc.body)
			if decodeErr == nil || !strings.Contains(decodeErr.Error(), tc.want) {
				t.Fatalf("fixture: Decode error = %v, want one containing %q", decodeErr, tc.want)
			}
			start := time.Now()
			h := newHarness(t, 30*time.Second)
			ctx := testCtx(t)
			h.publish(t, a, "a1")
			msg := &nats.Msg{Subject: tc.subject, Data: tc.body, Header: nats.Header{}}
			msg.Header.Set(events.HeaderMsgID, "raw-"+tc.name)
			msg.Header.Set("X-Origin", "test")
			ack, err := h.js.PublishMsg(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			h.publish(t, a, "a2")
			h.publish(t, b, "b1")

			h.run(t, h.config(), nil)
			waitApplied(t, h, "a1", "a2", "b1")
			waitFor(t, waitLong, "the poison message to be dead-lettered", func() bool {
				return h.obs.count(deadLettered(tc.subject)) == 1
			})

			o, _ := h.obs.first(deadLettered(tc.subject))
			if o.Class != events.ClassPoison || o.Err == nil || o.Err.Error() != decodeErr.Error() {
				t.Errorf("outcome = class %q, err %v; want poison, %q", o.Class, o.Err, decodeErr)
			}
			dl := h.dlq(t, tc.subject)
			checkHeader(t, dl, events.HeaderError, decodeErr.Error())
			checkHeader(t, dl, events.HeaderErrorClass, events.ClassPoison)
			checkHeader(t, dl, events.HeaderOriginalSubject, tc.subject)
			checkHeader(t, dl, events.HeaderOriginalSequence, strconv.FormatUint(ack.Sequence, 10))
			checkHeader(t, dl, events.HeaderDeliveries, "1")
			checkHeader(t, dl, events.HeaderOriginalMsgID, "raw-"+tc.name)
			checkHeader(t, dl, "X-Origin", "test")
			checkFailedAt(t, dl, start)
			if !bytes.Equal(dl.Data, tc.body) {
				t.Errorf("dead letter body differs from the original:\n got %q\nwant %q", dl.Data, tc.body)
			}

			var ids []string
			for _, c := range h.h.allCalls() {
				ids = append(ids, c.EventID)
			}
			slices.Sort(ids)
			if want := []string{"a1", "a2", "b1"}; !slices.Equal(ids, want) {
				t.Errorf("handler called for %v, want only %v", ids, want)
			}
			h.waitWorkQueueEmpty(t)
			if n := h.streamMsgs(t, events.DLQStream); n != 1 {
				t.Errorf("%s holds %d messages, want 1", events.DLQStream, n)
			}
			if got := h.metric(t, metrics.DLQMessagesName, map[string]string{"class": events.ClassPoison}); got != 1 {
				t.Errorf("%s{class=poison} = %v, want 1", metrics.DLQMessagesName, got)
			}
		})
	}
}

// A permanent error dead-letters the event with the target's own message,
// keeps it out of the ledger (so a replay applies it) and blocks nobody.
func TestPermanentErrorIsDeadLetteredAndReplayable(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	const refusal = "vcc: 409 Conflict: username agent.a2@acme.example is already used by another user"
	start := time.Now()
	h := newHarness(t, 30*time.Second)
	h.h.on("a2", fail(permanent(refusal)))
	h.publish(t, a, "a1")
	seqA2 := h.publish(t, a, "a2")
	h.publish(t, b, "b1")
	h.publish(t, a, "a3")
	h.publish(t, b, "b2")

	h.run(t, h.config(), nil)
	waitApplied(t, h, "a1", "a3", "b1", "b2")
	waitFor(t, waitLong, "a2 to be dead-lettered", func() bool { return h.obs.count(outcome("a2", metrics.OutcomeDeadLettered)) == 1 })

	dl := h.dlq(t, events.UserChangedSubject(a))
	checkHeader(t, dl, events.HeaderError, refusal)
	checkHeader(t, dl, events.HeaderErrorClass, events.ClassPermanent)
	checkHeader(t, dl, events.HeaderOriginalSubject, events.UserChangedSubject(a))
	checkHeader(t, dl, events.HeaderOriginalSequence, strconv.FormatUint(seqA2, 10))
	checkHeader(t, dl, events.HeaderDeliveries, "1")
	checkHeader(t, dl, events.HeaderOriginalMsgID, "a2")
	checkFailedAt(t, dl, start)
	if ev, err := events.Decode(events.UserChangedSubject(a), dl.Data); err != nil || ev.ID != "a2" {
		t.Errorf("dead letter body does not decode to a2: %v", err)
	}
	if n := len(h.h.callsFor("a2")); n != 1 {
		t.Errorf("handler called %d times for a2, want 1 (a permanent error is not retried)", n)
	}
	if got := h.h.appliedOrder(a); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Errorf("applied for user A: %v, want [a1 a3]", got)
	}
	if got := h.h.appliedOrder(b); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("applied for user B: %v, want [b1 b2]", got)
	}
	for _, id := range []string{"a1", "a3", "b1", "b2"} {
		if !h.seen(t, id) {
			t.Errorf("%s not in the ledger", id)
		}
	}
	if h.seen(t, "a2") {
		t.Fatal("dead-lettered a2 is in the ledger: a replay would be skipped as a duplicate")
	}
	h.waitWorkQueueEmpty(t)

	// The operator fixes the cause and replays it under a new message id.
	h.publishWithID(t, a, "a2", "a2-replay-1")
	waitApplied(t, h, "a2")
	if !h.seen(t, "a2") {
		t.Error("replayed a2 not in the ledger")
	}
	if got := h.user(t, a).Applied; got != 3 {
		t.Errorf("user A applied count = %d, want 3", got)
	}
}

// A transient error that carries Retry-After is retried no earlier than
// that, then applied.
func TestTransientErrorHonoursRetryAfter(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	const retryAfter = 300 * time.Millisecond
	h := newHarness(t, 30*time.Second)
	h.h.on("a1", fail(throttled(retryAfter)))
	h.publish(t, a, "a1")
	h.run(t, h.config(), nil)
	waitApplied(t, h, "a1")

	calls := h.h.callsFor("a1")
	if len(calls) != 2 {
		t.Fatalf("handler called %d times for a1, want 2", len(calls))
	}
	if gap := calls[1].Start.Sub(calls[0].End); gap < retryAfter {
		t.Errorf("retried %s after the 429, want no earlier than the Retry-After of %s", gap, retryAfter)
	}
	if o, _ := h.obs.first(applied("a1")); o.Attempts != 2 {
		t.Errorf("applied outcome reports %d deliveries, want 2", o.Attempts)
	}
	if o, ok := h.obs.first(outcome("a1", metrics.OutcomeRetried)); !ok || o.Err == nil || !strings.Contains(o.Err.Error(), "429") {
		t.Errorf("retried outcome = %+v, want one carrying the 429", o)
	}
	labels := map[string]string{"type": events.TypeUserChanged, "reason": "429"}
	if got := h.metric(t, metrics.RetriesName, labels); got != 1 {
		t.Errorf("%s%v = %v, want 1", metrics.RetriesName, labels, got)
	}
	if !h.seen(t, "a1") {
		t.Error("a1 not in the ledger")
	}
	h.waitWorkQueueEmpty(t)
}

// An event that keeps failing transiently is dead-lettered as exhausted
// after MaxAttempts handler calls.
func TestRetriesExhaustedAreDeadLettered(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	h := newHarness(t, 30*time.Second)
	h.h.on("a1", repeat(fail(transient("vcc: 503 Service Unavailable")), 20)...)
	seq := h.publish(t, a, "a1")
	h.publish(t, b, "b1")
	cfg := h.config()
	cfg.MaxAttempts = 3
	h.run(t, cfg, nil)

	waitFor(t, waitLong, "a1 to be dead-lettered", func() bool { return h.obs.count(outcome("a1", metrics.OutcomeDeadLettered)) == 1 })
	waitApplied(t, h, "b1")
	h.waitWorkQueueEmpty(t)
	if n := len(h.h.callsFor("a1")); n != 3 {
		t.Errorf("handler called %d times for a1, want exactly 3", n)
	}
	dl := h.dlq(t, events.UserChangedSubject(a))
	checkHeader(t, dl, events.HeaderErrorClass, events.ClassExhausted)
	checkHeader(t, dl, events.HeaderDeliveries, "3")
	checkHeader(t, dl, events.HeaderOriginalSequence, strconv.FormatUint(seq, 10))
	if e := dl.Header.Get(events.HeaderError); !strings.Contains(e, "gave up after 3 attempts") || !strings.Contains(e, "503 Service Unavailable") {
		t.Errorf("dead letter header %s = %q, want it to say it gave up after 3 attempts and why", events.HeaderError, e)
	}
	o, _ := h.obs.first(outcome("a1", metrics.OutcomeDeadLettered))
	if o.Class != events.ClassExhausted {
		t.Errorf("outcome class = %q, want exhausted", o.Class)
	}
	if h.seen(t, "a1") {
		t.Error("exhausted a1 is in the ledger")
	}
	if got := h.metric(t, metrics.DLQMessagesName, map[string]string{"class": events.ClassExhausted}); got != 1 {
		t.Errorf("%s{class=exhausted} = %v, want 1", metrics.DLQMessagesName, got)
	}
	if got := h.metric(t, metrics.RetriesName, nil); got != 2 {
		t.Errorf("%s = %v, want 2", metrics.RetriesName, got)
	}
}

// A user's events apply in stream order even when some of them have to be
// retried: the later ones wait (without using up attempts), other users
// do not.
func TestPerUserOrderAcrossRetries(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	aIDs := []string{"a1", "a2", "a3", "a4", "a5"}
	bIDs := []string{"b1", "b2", "b3", "b4", "b5"}
	const retryAfter = 150 * time.Millisecond

	for _, tc := range []struct {
		name string
		// failing: events of user A that fail transiently twice each.
		failing []string
		// split: how many events of each user are published before the
		// worker starts; the rest after a2 first failed.
		split int
	}{
		{"all in the first batch", []string{"a2"}, 5},
		{"later events in later batches", []string{"a2"}, 2},
		// a5 waits behind a2, then behind a4: more holds than MaxAttempts.
		{"two events retried in turn", []string{"a2", "a4"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 30*time.Second)
			for _, id := range tc.failing {
				h.h.on(id, fail(throttled(retryAfter)), fail(throttled(retryAfter)))
			}
			cfg := h.config()
			cfg.MaxAttempts = 3
			publish := func(from, to int) {
				for i := from; i < to; i++ {
					h.publish(t, a, aIDs[i])
					h.publish(t, b, bIDs[i])
				}
			}
			publish(0, tc.split)
			h.run(t, cfg, nil)
			if tc.split < len(aIDs) {
				waitFor(t, waitLong, "a2 to fail once", func() bool { return h.obs.count(outcome("a2", metrics.OutcomeRetried)) > 0 })
				publish(tc.split, len(aIDs))
			}
			waitApplied(t, h, append(aIDs, bIDs...)...)

			if got := h.h.appliedOrder(a); !slices.Equal(got, aIDs) {
				t.Errorf("user A applied in order %v, want %v", got, aIDs)
			}
			if got := h.h.appliedOrder(b); !slices.Equal(got, bIDs) {
				t.Errorf("user B applied in order %v, want %v", got, bIDs)
			}
			var a2success call
			for i, id := range aIDs {
				calls := h.h.callsFor(id)
				want := 1
				if slices.Contains(tc.failing, id) {
					want = 3
				}
				if len(calls) != want || calls[want-1].Err != nil {
					t.Fatalf("%s: %d handler calls, want %d, the last one succeeding", id, len(calls), want)
				}
				success := calls[len(calls)-1]
				if id == "a2" {
					a2success = success
				}
				for _, later := range aIDs[i+1:] {
					for _, c := range h.h.callsFor(later) {
						if c.Start.Before(success.End) {
							t.Errorf("%s handled %s before %s was applied", later, success.End.Sub(c.Start), id)
						}
					}
				}
			}
			held := h.obs.count(func(o worker.Outcome) bool {
				return o.UserKey == a && o.Outcome == metrics.OutcomeRetried && !slices.Contains(tc.failing, o.EventID) &&
					o.Err != nil && strings.Contains(o.Err.Error(), "held back")
			})
			if held == 0 {
				t.Error("no later event of user A was reported held back")
			}
			for _, id := range bIDs {
				if c := h.h.callsFor(id); len(c) != 1 || !c[0].End.Before(a2success.Start) {
					t.Errorf("%s waited for user A's retry (or ran more than once)", id)
				}
			}
			if n := h.obs.count(func(o worker.Outcome) bool { return o.Outcome == metrics.OutcomeDeadLettered }); n != 0 {
				t.Errorf("%d events dead-lettered, want none (held-back deliveries are not attempts)", n)
			}
			if got := h.user(t, a); got.Applied != 5 || got.LastEventID != "a5" {
				t.Errorf("user A state: applied %d, last event %q; want 5, a5", got.Applied, got.LastEventID)
			}
			h.waitWorkQueueEmpty(t)
			if n := h.streamMsgs(t, events.DLQStream); n != 0 {
				t.Errorf("%s holds %d messages, want 0", events.DLQStream, n)
			}
		})
	}
}

// The same event published twice under different message ids (the
// stream's deduplication does not catch it) is applied once.
func TestDuplicateEventsAppliedOnce(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	h := newHarness(t, 30*time.Second)
	cfg := h.config()
	h.publishWithID(t, a, "e1", "msg-1")
	h.publishWithID(t, a, "e1", "msg-2")
	h.publish(t, b, "f1")
	h.run(t, cfg, nil)

	waitApplied(t, h, "e1", "f1")
	waitFor(t, waitLong, "the second copy of e1 in the batch", func() bool {
		return h.obs.count(outcome("e1", metrics.OutcomeDuplicate)) == 1
	})
	h.publishWithID(t, a, "e1", "msg-3")
	waitFor(t, waitLong, "the copy of e1 published after the commit", func() bool {
		return h.obs.count(outcome("e1", metrics.OutcomeDuplicate)) == 2
	})

	if n := len(h.h.callsFor("e1")); n != 1 {
		t.Errorf("handler called %d times for e1, want 1", n)
	}
	if n := h.obs.count(applied("e1")); n != 1 {
		t.Errorf("e1 reported applied %d times, want 1", n)
	}
	if got := h.user(t, a).Applied; got != 1 {
		t.Errorf("user A applied count = %d, want 1", got)
	}
	if !h.seen(t, "e1") {
		t.Error("e1 not in the ledger")
	}
	labels := map[string]string{"outcome": metrics.OutcomeDuplicate}
	if got := h.metric(t, metrics.EventsName, labels); got != 2 {
		t.Errorf("%s%v = %v, want 2", metrics.EventsName, labels, got)
	}
	h.waitWorkQueueEmpty(t)
}

// Nothing is acked before it is committed: when a commit fails the events
// it held are redelivered and applied on top of the committed state only.
func TestAckOnlyAfterCommit(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	b := userID(t, "0055e000001Bbbb")
	c := userID(t, "0055e000001Cccc")
	for _, tc := range []struct {
		name string
		// withRetry adds c1, which fails transiently in the lost batch:
		// it is retried after its backoff, not after the (long) AckWait.
		withRetry bool
	}{
		{"every event applied", false},
		{"a transient failure in the lost batch", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, time.Minute)
			st := &failFirstCommit{Store: h.store}
			ids := []string{"a1", "a2", "b1"}
			h.publish(t, a, "a1")
			h.publish(t, a, "a2")
			h.publish(t, b, "b1")
			if tc.withRetry {
				h.h.on("c1", fail(transient("vcc: 503 Service Unavailable")))
				h.publish(t, c, "c1")
			}
			h.run(t, h.config(), st)
			waitApplied(t, h, ids...)
			if tc.withRetry {
				waitApplied(t, h, "c1")
				if calls := h.h.callsFor("c1"); len(calls) != 2 || calls[0].Err == nil || calls[1].Err != nil {
					t.Errorf("c1: %d calls, want fail then succeed", len(calls))
				}
			}
			h.waitWorkQueueEmpty(t)

			if st.failures() != 1 {
				t.Fatalf("the failing commit did not happen")
			}
			for _, id := range ids {
				// Lanes commit as they finish: the failed commit held some
				// of the events, and only those ran twice.
				want := 1
				if st.inLost(id) {
					want = 2
				}
				if n := h.h.succeeded(id); n != want {
					t.Errorf("handler applied %s %d times, want %d (lost in the failed commit: %v)", id, n, want, st.inLost(id))
				}
				if n := h.obs.count(applied(id)); n != 1 {
					t.Errorf("%s reported applied %d times, want 1", id, n)
				}
				if !h.seen(t, id) {
					t.Errorf("%s not in the ledger", id)
				}
			}
			for _, c := range h.h.callsFor("a1") {
				if c.Prev.Applied != 0 {
					t.Errorf("a1 handled on top of uncommitted state (applied %d)", c.Prev.Applied)
				}
			}
			for _, c := range h.h.callsFor("a2") {
				if c.Prev.Applied != 1 || c.Prev.LastEventID != "a1" {
					t.Errorf("a2 handled on top of state applied %d, last %q; want 1, a1", c.Prev.Applied, c.Prev.LastEventID)
				}
			}
			if got := h.user(t, a); got.Applied != 2 || got.LastEventID != "a2" {
				t.Errorf("user A state: applied %d, last %q; want 2, a2", got.Applied, got.LastEventID)
			}
			if got := h.user(t, b); got.Applied != 1 {
				t.Errorf("user B state: applied %d, want 1", got.Applied)
			}
		})
	}
}

// A worker whose consumer disappears stops with an error, so that the
// process exits non-zero and is restarted, instead of stopping quietly.
func TestRunFailsWhenConsumerIsDeleted(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 30*time.Second)
	h.publish(t, a, "e1")
	r := h.run(t, h.config(), nil)
	waitApplied(t, h, "e1")
	if err := h.js.DeleteConsumer(testCtx(t), events.Stream, bus.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	err := r.wait(waitLong)
	if err == nil {
		t.Fatal("Run returned nil after its consumer was deleted, want an error")
	}
	if strings.Contains(err.Error(), "did not return") {
		t.Fatal(err)
	}
	if r.w.Running() {
		t.Error("worker still reports Running")
	}
	if got := h.metric(t, metrics.ReadyName, nil); got != 0 {
		t.Errorf("%s = %v, want 0", metrics.ReadyName, got)
	}
}

// A handler that works longer than the consumer's AckWait is not
// redelivered meanwhile: the worker keeps the message alive.
func TestInProgressKeepsLongWorkAlive(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, time.Second)
	h.h.on("slow", sleep(2500*time.Millisecond))
	h.publish(t, a, "slow")
	h.run(t, h.config(), nil)
	waitApplied(t, h, "slow")
	h.waitWorkQueueEmpty(t)

	if n := len(h.h.callsFor("slow")); n != 1 {
		t.Errorf("handler called %d times for the slow event, want 1", n)
	}
	if o, _ := h.obs.first(applied("slow")); o.Attempts != 1 {
		t.Errorf("slow event delivered %d times, want 1", o.Attempts)
	}
	if n := h.obs.count(func(o worker.Outcome) bool { return o.EventID == "slow" }); n != 1 {
		t.Errorf("%d outcomes for the slow event, want 1", n)
	}
	info, err := h.cons.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Delivered.Consumer != 1 {
		t.Errorf("the consumer made %d deliveries, want 1 (the slow event was redelivered while it was worked on)", info.Delivered.Consumer)
	}
}

// Stopping finishes the events being applied, returns nil within the
// grace period, and leaves the rest to the next worker: nothing lost,
// nothing applied twice. e2 and e3 wait in their user's lane behind the
// blocked e0 when the stop comes.
func TestGracefulStop(t *testing.T) {
	users := make([]string, 6)
	ids := make([]string, len(users))
	for i := range users {
		users[i] = nthUser(t, i)
		ids[i] = "e" + strconv.Itoa(i)
	}
	users[2], users[3] = users[0], users[0]
	notStarted := ids[2:4]
	perUser := map[string]int64{}
	for _, u := range users {
		perUser[u]++
	}

	for _, tc := range []struct {
		name  string
		grace time.Duration
		// finishes: the blocked handler returns within the grace period.
		finishes bool
	}{
		{"handler finishes within the grace period", 5 * time.Second, true},
		{"handler outlives the grace period", 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 2*time.Second)
			release := make(chan struct{})
			if tc.finishes {
				h.h.on(ids[0], block(release))
			} else {
				h.h.on(ids[0], blockUntilCancelled())
			}
			for i := range users {
				h.publish(t, users[i], ids[i])
			}
			cfg := h.config()
			cfg.BatchSize = 2
			cfg.ShutdownGrace = tc.grace
			first := h.run(t, cfg, nil)
			waitFor(t, waitLong, "the handler to block", func() bool { return len(h.h.callsFor(ids[0])) == 1 })

			stopped := time.Now()
			first.cancel()
			if tc.finishes {
				time.Sleep(100 * time.Millisecond) // still blocked after the stop
				close(release)
			}
			err := first.wait(tc.grace + 2*time.Second)
			took := time.Since(stopped)
			if err != nil {
				t.Fatalf("Run after the stop (grace %s): %v, want nil", tc.grace, err)
			}
			if tc.finishes && took >= tc.grace {
				t.Errorf("Run took %s to return, want less than the grace period %s", took, tc.grace)
			}
			if first.w.Running() {
				t.Error("worker still reports Running after Run returned")
			}
			if tc.finishes {
				if !h.seen(t, ids[0]) || h.obs.count(applied(ids[0])) != 1 {
					t.Errorf("%s, in hand at the stop, was not applied and committed", ids[0])
				}
			} else if h.seen(t, ids[0]) {
				t.Errorf("%s, cancelled at the stop, is in the ledger", ids[0])
			}
			for _, id := range notStarted {
				if h.seen(t, id) {
					t.Errorf("%s, fetched but not started, was applied by the stopping worker", id)
				}
			}

			h.run(t, h.config(), nil)
			waitApplied(t, h, ids...)
			h.waitWorkQueueEmpty(t)
			for _, id := range ids {
				if n := h.h.succeeded(id); n != 1 {
					t.Errorf("%s applied %d times over both workers, want 1", id, n)
				}
				if n := h.obs.count(applied(id)); n != 1 {
					t.Errorf("%s reported applied %d times, want 1", id, n)
				}
				if !h.seen(t, id) {
					t.Errorf("%s not in the ledger", id)
				}
			}
			for u, want := range perUser {
				if got := h.user(t, u).Applied; got != want {
					t.Errorf("user %s applied count = %d, want %d", u, got, want)
				}
			}
			if n := h.obs.count(func(o worker.Outcome) bool { return o.Outcome == metrics.OutcomeDeadLettered }); n != 0 {
				t.Errorf("%d messages dead-lettered by the stop, want none", n)
			}
		})
	}
}

// At most Concurrency users are applied at the same time.
func TestConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 2, 4} {
		t.Run("concurrency "+strconv.Itoa(limit), func(t *testing.T) {
			h := newHarness(t, 30*time.Second)
			var ids []string
			for i := range 10 {
				id := "e" + strconv.Itoa(i)
				ids = append(ids, id)
				h.h.on(id, sleep(50*time.Millisecond))
				h.publish(t, nthUser(t, i), id)
			}
			cfg := h.config()
			cfg.Concurrency = limit
			h.run(t, cfg, nil)
			waitApplied(t, h, ids...)
			if got := h.h.maxConcurrent(); got != limit {
				t.Errorf("at most %d handlers ran at once, want %d", got, limit)
			}
		})
	}
}

// recordingStore is a real store that keeps every record committed.
type recordingStore struct {
	worker.Store[State]
	mu   sync.Mutex
	recs []worker.Record[State]
}

func (r *recordingStore) Commit(recs []worker.Record[State]) error {
	r.mu.Lock()
	r.recs = append(r.recs, recs...)
	r.mu.Unlock()
	return r.Store.Commit(recs)
}

func (r *recordingStore) find(eventID string) (worker.Record[State], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.EventID == eventID {
			return rec, true
		}
	}
	return worker.Record[State]{}, false
}

// A poison message whose subject names a user is recorded for that user —
// its message id, the error and its class, no state, no ledger entry — so
// that whoever waits for it (vccctl cmd --wait) learns it was
// dead-lettered; one whose subject names no user is not.
func TestPoisonOfAUserIsRecorded(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 30*time.Second)
	st := &recordingStore{Store: h.store}
	ctx := testCtx(t)
	for _, m := range []struct{ subject, id string }{
		{events.CommandSubject(a, events.ActionUnlock), "cmd-poison"},
		{"vccsync.user.0015e000001Aaaa.changed", "no-user"},
	} {
		msg := &nats.Msg{Subject: m.subject, Data: []byte(`{"not":"an event"}`), Header: nats.Header{}}
		msg.Header.Set(events.HeaderMsgID, m.id)
		if _, err := h.js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	h.publish(t, a, "a1")
	h.run(t, h.config(), st)
	waitApplied(t, h, "a1")
	waitFor(t, waitLong, "the poison messages to be dead-lettered", func() bool {
		return h.obs.count(deadLettered(events.CommandSubject(a, events.ActionUnlock))) == 1 &&
			h.obs.count(deadLettered("vccsync.user.0015e000001Aaaa.changed")) == 1
	})
	r, ok := st.find("cmd-poison")
	if !ok || r.UserKey != a || r.Outcome != "dead_lettered" || r.ErrClass != events.ClassPoison || r.Err == "" ||
		r.Action != events.ActionUnlock || r.Type != events.CommandTypePrefix+events.ActionUnlock || r.HasState {
		t.Errorf("record of the poison command = %+v, %v", r, ok)
	}
	if _, ok := st.find("no-user"); ok {
		t.Error("a poison message of no user was recorded")
	}
	if seen, _ := h.store.Seen("cmd-poison"); seen {
		t.Error("the poison command is in the ledger: a replay would be skipped")
	}
}

// The lag runs from the message's arrival in the stream: an event whose
// own time is long past (a replay, a reconcile, an old Salesforce change)
// applied at once counts as applied at once.
func TestLagFromArrivalInTheStream(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	a := userID(t, "0055e000001Aaaa")
	h.publish(t, a, "old-1")
	h.run(t, h.config(), nil)
	waitApplied(t, h, "old-1")
	if age := time.Since(eventTime); age < time.Hour {
		t.Fatalf("the test's event time %s is recent: it would not tell the two clocks apart", eventTime)
	}
	var count uint64
	var sum float64
	waitFor(t, waitLong, "the lag observed", func() bool {
		mfs, err := h.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == metrics.EventLagName {
				hist := mf.GetMetric()[0].GetHistogram()
				count, sum = hist.GetSampleCount(), hist.GetSampleSum()
			}
		}
		return count == 1
	})
	if sum > 30 {
		t.Errorf("lag %.0fs for an event applied as it arrived: measured from the event's own time, not its arrival", sum)
	}
}
