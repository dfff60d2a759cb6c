package worker_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

// A slow user holds back only itself: while one user's event is stuck in
// its handler, every other user's events are applied, committed and acked
// (they leave the work queue), and the stuck one follows when it finishes.
func TestSlowUserHoldsOnlyItself(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	release := make(chan struct{})
	slow := nthUser(t, 0)
	h.h.on("slow", block(release))
	h.publish(t, slow, "slow")
	var fast []string
	for i := 1; i <= 40; i++ {
		id := "fast" + strconv.Itoa(i)
		fast = append(fast, id)
		h.publish(t, nthUser(t, i), id)
	}
	cfg := h.config()
	cfg.BatchSize = 16 // several pulls and commits while the slow one waits
	h.run(t, cfg, nil)
	waitApplied(t, h, fast...)
	waitFor(t, waitLong, "every fast event acked while the slow one is in its handler", func() bool {
		return h.streamMsgs(t, events.Stream) == 1
	})
	if h.seen(t, "slow") {
		t.Fatal("the slow event is in the ledger before its handler returned")
	}
	close(release)
	waitApplied(t, h, "slow")
	h.waitWorkQueueEmpty(t)
}

// A leaver's deactivation overtakes a backlog: it arrives on the priority
// consumer and is applied while most of the backlog still waits, after the
// leaver's own earlier event (borrowed from the stream, in stream order),
// and the main consumer later finds that earlier event done.
func TestAccessChangeOvertakesBacklog(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	leaver := nthUser(t, 1000)
	var backlog []string
	for i := range 60 {
		id := "b" + strconv.Itoa(i)
		backlog = append(backlog, id)
		h.h.on(id, sleep(100*time.Millisecond))
		h.publish(t, nthUser(t, i), id)
		if i == 10 {
			h.publish(t, leaver, "earlier") // the leaver's own change, deep in the backlog
		}
	}
	publishDeactivation(t, h, leaver, "leaves")

	cfg := h.config()
	cfg.Concurrency, cfg.BatchSize = 2, 4 // a slow backlog
	cfg.Priority = h.prio
	h.run(t, cfg, nil)
	waitApplied(t, h, "leaves")
	done := 0
	for _, id := range backlog {
		if h.obs.count(applied(id)) > 0 {
			done++
		}
	}
	if done > len(backlog)/2 {
		t.Errorf("the deactivation was applied after %d of %d backlog events, want it ahead of most", done, len(backlog))
	}
	calls := h.h.callsFor("earlier")
	leaves := h.h.callsFor("leaves")
	if len(calls) != 1 || len(leaves) != 1 || !calls[0].End.Before(leaves[0].Start) {
		t.Fatalf("the leaver's earlier event ran %d times, the deactivation %d; want once each, in stream order", len(calls), len(leaves))
	}
	if leaves[0].Prev.LastEventID != "earlier" {
		t.Errorf("the deactivation started from state after %q, want after the earlier event", leaves[0].Prev.LastEventID)
	}
	waitApplied(t, h, backlog...)
	h.waitWorkQueueEmpty(t) // the main consumer delivered the earlier event too: acked
	if n := h.h.succeeded("earlier"); n != 1 {
		t.Errorf("the earlier event was applied %d times, want 1", n)
	}
	if n := h.obs.count(func(o worker.Outcome) bool { return o.EventID == "earlier" }); n != 1 {
		t.Errorf("the earlier event was reported %d times, want once (applied)", n)
	}
	if got := h.metric(t, metrics.DeprovisionName, nil); got != 1 {
		t.Errorf("%s counted %v access changes, want 1", metrics.DeprovisionName, got)
	}
}

// publishDeactivation publishes the user's deactivation, which takes the
// priority subject.
func publishDeactivation(t *testing.T, h *harness, user, eventID string) {
	t.Helper()
	body, err := userChanged(t, user, eventID).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	u := *ev.User
	u.IsActive = events.Val(false)
	env, err := events.NewUserChanged(eventID, ev.Source, eventTime, u)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bus.Publish(testCtx(t), h.js, env)
	if err != nil || r.Duplicate {
		t.Fatalf("publish the deactivation %s: %+v, %v", eventID, r, err)
	}
}

// A change from the main consumer never overtakes its user's earlier
// access change, even while the priority consumer has not delivered it:
// the run reads it from the stream and applies it first.
func TestChangeWaitsForEarlierAccessChange(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	user := nthUser(t, 7)
	publishDeactivation(t, h, user, "leaves")
	h.publish(t, user, "after")
	// The priority consumer delivers nothing for now.
	durable := bus.DefaultDurable + bus.PrioritySuffix
	if _, err := h.js.PauseConsumer(testCtx(t), events.Stream, durable, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.Priority = h.prio
	h.run(t, cfg, nil)
	waitApplied(t, h, "leaves", "after")
	leaves, after := h.h.callsFor("leaves"), h.h.callsFor("after")
	if len(leaves) != 1 || len(after) != 1 || !leaves[0].End.Before(after[0].Start) {
		t.Fatalf("the access change ran %d times, the later change %d; want once each, the access change first", len(leaves), len(after))
	}
	if _, err := h.js.ResumeConsumer(testCtx(t), events.Stream, durable); err != nil {
		t.Fatal(err)
	}
	h.waitWorkQueueEmpty(t)
	if n := h.h.succeeded("leaves"); n != 1 {
		t.Errorf("the access change was applied %d times, want 1", n)
	}
}
