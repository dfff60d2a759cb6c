package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

const (
	alice = "005000000000001AAA"
	bob   = "005000000000002AAA"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

type rec = worker.Record[handlers.State]

func TestCommitKeepsTheLastStateAndCountsApplied(t *testing.T) {
	db := openDB(t)
	s := Store{DB: db}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := func(vcc string) handlers.State { return handlers.State{VCCUserID: vcc, AgentID: "1001"} }

	if err := s.Commit([]rec{
		{EventID: "e1", UserKey: alice, Type: events.TypeUserChanged, Outcome: handlers.OutcomeCreated, At: at, State: st("v1"), HasState: true},
	}); err != nil {
		t.Fatal(err)
	}
	err := s.Commit([]rec{
		{EventID: "e2", UserKey: alice, Type: events.TypeUserChanged, Outcome: handlers.OutcomeUpdated, At: at.Add(time.Second), State: st("v2"), HasState: true,
			Changes: []worker.Change{{Field: "email", Old: "a@x", New: "b@x"}}},
		{EventID: "e3", UserKey: alice, Type: events.TypeUserChanged, Outcome: handlers.OutcomeUnchanged, At: at.Add(2 * time.Second), State: st("v3"), HasState: true},
		{EventID: "e4", UserKey: alice, Type: events.TypeUserChanged, Outcome: "duplicate", At: at.Add(3 * time.Second), State: st("v3"), HasState: true},
		{EventID: "e5", UserKey: bob, Type: events.TypeUserChanged, Outcome: "dead_lettered", Err: "agent id: not numeric", ErrClass: events.ClassPoison, At: at},
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Load(alice)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st("v3"), got); diff != "" {
		t.Errorf("Load(alice): the batch's last state must win (-want +got):\n%s", diff)
	}
	u, _, err := db.User(alice)
	if err != nil {
		t.Fatal(err)
	}
	if u.Applied != 3 || u.LastEventID != "e4" {
		t.Errorf("alice: applied %d, last event %q; want 3 (e1, e2, e3; not the duplicate) and e4", u.Applied, u.LastEventID)
	}
	for id, want := range map[string]bool{"e1": true, "e2": true, "e3": true, "e4": true, "e5": false} {
		if seen, err := s.Seen(id); err != nil || seen != want {
			t.Errorf("Seen(%s) = %v, %v; want %v (a dead-lettered event stays out of the ledger, so a replay applies it)", id, seen, err, want)
		}
	}
	if none, err := s.Load(bob); err != nil || none.VCCUserID != "" {
		t.Errorf("Load(bob) = %+v, %v; want the zero state: a dead letter carries no state", none, err)
	}

	hist, err := OpsStore{DB: db}.History(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hist {
		ids = append(ids, h.EventID)
	}
	// Newest first; the unchanged Salesforce event e3 is left out, the
	// duplicate e4 is not an unchanged outcome and is kept.
	if diff := cmp.Diff([]string{"e4", "e2", "e1"}, ids); diff != "" {
		t.Errorf("alice's history (-want +got):\n%s", diff)
	}
	if len(hist) > 1 && (len(hist[1].Changes) != 1 || hist[1].Changes[0] != (events.FieldChange{Field: "email", Old: "a@x", New: "b@x"})) {
		t.Errorf("e2's history entry changes = %+v, want email a@x → b@x", hist[1].Changes)
	}
	bh, err := OpsStore{DB: db}.History(bob, 0)
	if err != nil || len(bh) != 1 || bh[0].Error != "agent id: not numeric" || bh[0].ErrorClass != events.ClassPoison {
		t.Errorf("bob's history = %+v, %v; want the dead letter with its reason and class", bh, err)
	}
}

func TestCommandsAlwaysEnterHistory(t *testing.T) {
	db := openDB(t)
	err := Store{DB: db}.Commit([]rec{{
		EventID: "c1", UserKey: alice, Type: "vccsync.command.set-webrtc", Action: "set-webrtc", RequestedBy: "operator/jo",
		Reason: "ticket 12", Outcome: handlers.OutcomeUnchanged, At: time.Now(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpsStore{DB: db}.History(alice, 0)
	if err != nil || len(h) != 1 || h[0].Action != "set-webrtc" || h[0].RequestedBy != "operator/jo" || h[0].Reason != "ticket 12" {
		t.Errorf("history = %+v, %v; want the command that found its effect in place, with who and why", h, err)
	}
}

func TestClaimAgentIDNamesTheHolder(t *testing.T) {
	d := Durable{DB: openDB(t)}
	if err := d.ClaimAgentID(alice, "1001"); err != nil {
		t.Fatal(err)
	}
	err := d.ClaimAgentID(bob, "1001")
	if !errors.Is(err, handlers.ErrAgentIDTaken) || !strings.Contains(err.Error(), alice) {
		t.Errorf("claiming alice's agent ID for bob = %v; want handlers.ErrAgentIDTaken naming %s", err, alice)
	}
	holder, ok, err := OpsStore{DB: d.DB}.AgentIDHolder("1001")
	if err != nil || !ok || holder != alice {
		t.Errorf("AgentIDHolder(1001) = %q, %v, %v; want alice still", holder, ok, err)
	}
}

func TestSagaStepsAndIntents(t *testing.T) {
	d := Durable{DB: openDB(t)}
	ops := OpsStore{DB: d.DB}
	if err := d.SetStep(alice, "change-alias", "removed", "old=jdoe"); err != nil {
		t.Fatal(err)
	}
	step, data, ok, err := d.Step(alice, "change-alias")
	if err != nil || !ok || step != "removed" || data != "old=jdoe" {
		t.Errorf("Step = %q, %q, %v, %v; want removed, old=jdoe", step, data, ok, err)
	}
	if steps, err := ops.SagaSteps(alice); err != nil || len(steps) != 1 || steps[0].Saga != "change-alias" {
		t.Errorf("SagaSteps = %+v, %v; want the change-alias step", steps, err)
	}
	if err := d.Clear(alice, "change-alias"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := d.Step(alice, "change-alias"); err != nil || ok {
		t.Errorf("after Clear the saga is still there (%v, %v)", ok, err)
	}

	if err := d.OpenIntent(alice, "e9"); err != nil {
		t.Fatal(err)
	}
	if open, err := d.IntentOpen(alice); err != nil || !open {
		t.Errorf("IntentOpen after OpenIntent = %v, %v; want true", open, err)
	}
	if in, open, err := ops.OpenedIntent(alice); err != nil || !open || in.EventID != "e9" {
		t.Errorf("OpenedIntent = %+v, %v, %v; want e9", in, open, err)
	}
	if err := (Store{DB: d.DB}).Commit([]rec{{EventID: "e9", UserKey: alice, Outcome: handlers.OutcomeCreated, At: time.Now(), HasState: true, Settled: true}}); err != nil {
		t.Fatal(err)
	}
	if open, err := d.IntentOpen(alice); err != nil || open {
		t.Errorf("IntentOpen after a settled commit = %v, %v; want the intent closed", open, err)
	}
}

func TestHandlerRefusesAnEventItCannotHandle(t *testing.T) {
	_, err := Handler{}.Handle(context.Background(), &events.Event{Envelope: events.Envelope{Type: "vccsync.unknown"}}, handlers.State{})
	var perm *handlers.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "vccsync.unknown") {
		t.Errorf("Handle(an event with neither user nor command) = %v; want a permanent error naming its type", err)
	}
}

func TestDescribe(t *testing.T) {
	got := describe(handlers.Result{
		Changes: []handlers.Change{{Field: "vcc_user", New: "v1"}, {Field: "email", Old: "a@x", New: "b@x"}},
		Note:    "agent id 1001 reserved",
	})
	if want := `vcc_user v1; email "a@x" → "b@x"; agent id 1001 reserved`; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}

// Commit counts applied events across batches without loading the users:
// the store adds each batch's count to the stored one.
func TestCommitCountsAcrossBatches(t *testing.T) {
	db := openDB(t)
	s := Store{DB: db}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i, batch := range [][]rec{
		{{EventID: "e1", UserKey: alice, Outcome: handlers.OutcomeCreated, At: at, HasState: true}},
		{{EventID: "e2", UserKey: alice, Outcome: handlers.OutcomeUpdated, At: at, HasState: true},
			{EventID: "e3", UserKey: bob, Outcome: handlers.OutcomeCreated, At: at, HasState: true}},
		{{EventID: "e4", UserKey: alice, Outcome: "dead_lettered", Err: "boom", At: at, HasState: true},
			{EventID: "e5", UserKey: alice, Outcome: handlers.OutcomeUpdated, At: at, HasState: true}},
	} {
		if err := s.Commit(batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	for key, want := range map[string]int64{alice: 3, bob: 1} {
		if u, _, err := db.User(key); err != nil || u.Applied != want {
			t.Errorf("%s: applied %d, %v; want %d", key, u.Applied, err, want)
		}
	}
}
