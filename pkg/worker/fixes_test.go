package worker_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
)

// A handler cut off by a stop does not use up an attempt: with
// MaxAttempts 2, one real failure and one stop, the event is applied by
// the next worker instead of being dead-lettered as exhausted.
func TestStopDoesNotUseUpAttempts(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 2*time.Second)
	h.h.on("e1", fail(transient("VCC 503")), blockUntilCancelled())
	h.publish(t, a, "e1")
	cfg := h.config()
	cfg.MaxAttempts = 2
	cfg.ShutdownGrace = 200 * time.Millisecond
	first := h.run(t, cfg, nil)
	waitFor(t, waitLong, "the second attempt to block", func() bool { return len(h.h.callsFor("e1")) == 2 })
	if err := first.stop(5 * time.Second); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	if n := h.obs.count(deadLettered(events.UserChangedSubject(a))); n != 0 {
		t.Fatalf("the event was dead-lettered %d times because of the stop", n)
	}
	h.run(t, cfg, nil)
	waitApplied(t, h, "e1")
	if n := h.streamMsgs(t, events.DLQStream); n != 0 {
		t.Errorf("%s holds %d messages, want 0", events.DLQStream, n)
	}
}

// Messages waiting behind a slow batch are not redelivered: the worker
// pulls a batch only when it is ready for it, so nothing it holds goes
// without InProgress.
func TestNoRedeliveryBehindASlowBatch(t *testing.T) {
	h := newHarness(t, time.Second)
	var ids []string
	for i := range 6 {
		id := "e" + strconv.Itoa(i)
		ids = append(ids, id)
		h.publish(t, nthUser(t, i), id)
	}
	h.h.on("e0", sleep(2500*time.Millisecond))
	cfg := h.config()
	cfg.BatchSize = 2
	h.run(t, cfg, nil)
	waitApplied(t, h, ids...)
	for _, id := range ids {
		if n := h.obs.count(outcome(id, metrics.OutcomeDuplicate)); n != 0 {
			t.Errorf("%s was delivered again %d times while an earlier batch was slow", id, n)
		}
	}
}

// A duplicate leaves the ledger entry of the applied event as it was.
func TestDuplicateKeepsLedgerOutcome(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 30*time.Second)
	h.publishWithID(t, a, "e1", "msg-1")
	h.run(t, h.config(), nil)
	waitApplied(t, h, "e1")
	before, _, _ := h.db.Seen("e1")
	h.publishWithID(t, a, "e1", "msg-2")
	waitFor(t, waitLong, "the duplicate", func() bool { return h.obs.count(outcome("e1", metrics.OutcomeDuplicate)) == 1 })
	after, ok, err := h.db.Seen("e1")
	if err != nil || !ok || after.Outcome != before.Outcome || !after.At.Equal(before.At) {
		t.Errorf("ledger entry %+v after the duplicate, want it unchanged: %+v", after, before)
	}
}

// A replayed message that fails again goes back to the DLQ with the error
// of its earlier failure kept, even when it carries a header that expected
// the original stream.
func TestDeadLetteredAgainKeepsHistory(t *testing.T) {
	a := userID(t, "0055e000001Aaaa")
	h := newHarness(t, 30*time.Second)
	h.h.on("e1", fail(permanent("VCC refused again")))
	env := userChanged(t, a, "e1")
	body, _ := env.Marshal()
	msg := nats.NewMsg(events.UserChangedSubject(a))
	msg.Data = body
	msg.Header.Set(events.HeaderMsgID, "e1:replay:1")
	msg.Header.Set(events.HeaderError, "VCC refused")
	msg.Header.Set(events.HeaderErrorClass, events.ClassPermanent)
	msg.Header.Set(events.HeaderReplays, "1")
	// Right for VCCSYNC (empty), wrong for the DLQ, which already holds one.
	msg.Header.Set("Nats-Expected-Last-Sequence", "0")
	if _, err := h.js.Publish(testCtx(t), events.DLQSubjectPrefix+"other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.PublishMsg(testCtx(t), msg); err != nil {
		t.Fatal(err)
	}
	h.run(t, h.config(), nil)
	waitFor(t, waitLong, "the dead letter", func() bool { return h.obs.count(deadLettered(msg.Subject)) == 1 })
	d := h.dlq(t, msg.Subject)
	if got := d.Header.Get(events.HeaderError); got != "VCC refused again" {
		t.Errorf("error %q", got)
	}
	if got := d.Header.Values(events.HeaderPreviousError); len(got) != 1 || got[0] != "permanent: VCC refused" {
		t.Errorf("previous errors %q", got)
	}
	if d.Header.Get(events.HeaderReplays) != "1" || d.Header.Get("Nats-Expected-Last-Sequence") != "" {
		t.Errorf("headers %v", d.Header)
	}
}

// Each consumer's backlog and unacked messages are exported as gauges,
// labelled with the consumer's name.
func TestConsumerGauges(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	release := make(chan struct{})
	defer close(release)
	for i := range 6 {
		id := "e" + strconv.Itoa(i)
		if i == 0 {
			h.h.on(id, block(release))
		}
		h.publish(t, nthUser(t, i), id)
	}
	// Three leavers wait on the priority consumer, paused.
	priority := bus.DefaultDurable + bus.PrioritySuffix
	if _, err := h.js.PauseConsumer(testCtx(t), events.Stream, priority, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publishDeactivation(t, h, nthUser(t, 100+i), "leaves"+strconv.Itoa(i))
	}
	cfg := h.config()
	cfg.BatchSize, cfg.MaxInflight = 1, 1
	cfg.Priority = h.prio
	cfg.ConsumerStatsEvery = 20 * time.Millisecond
	h.run(t, cfg, nil)
	main := map[string]string{"consumer": bus.DefaultDurable}
	prio := map[string]string{"consumer": priority}
	waitFor(t, waitLong, "each consumer's backlog in the gauges", func() bool {
		return h.metric(t, metrics.ConsumerPendingName, main) == 5 && h.metric(t, metrics.ConsumerAckPendingName, main) == 1 &&
			h.metric(t, metrics.ConsumerPendingName, prio) == 3 && h.metric(t, metrics.ConsumerAckPendingName, prio) == 0
	})
}
