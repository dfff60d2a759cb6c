package opsapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// applied records ev as the user's last event, with a history entry
// unless it changed nothing, as the worker's commit does.
func applied(key, ev, outcome string, withEntry bool) func(*memStore) {
	return func(m *memStore) {
		u := m.users[key]
		u.LastEventID, u.Outcome, u.Applied = ev, outcome, u.Applied+1
		m.users[key] = u
		if withEntry {
			e := events.HistoryItem{At: at, EventID: ev, Type: events.TypeUserChanged, Outcome: outcome,
				Changes: []events.FieldChange{{Field: "email", Old: "a@x", New: "b@x"}}}
			m.history[key] = append([]events.HistoryItem{e}, m.history[key]...)
		}
	}
}

// TestWaitApplied: WaitApplied asks until the event is applied, then
// returns its history entry, or one made from the status.
func TestWaitApplied(t *testing.T) {
	for _, tt := range []struct {
		name      string
		withEntry bool
		want      events.HistoryItem
	}{
		{"with a history entry", true, events.HistoryItem{At: at, EventID: "ev-9", Type: events.TypeUserChanged, Outcome: handlers.OutcomeUpdated,
			Changes: []events.FieldChange{{Field: "email", Old: "a@x", New: "b@x"}}}},
		{"an event that changed nothing", false, events.HistoryItem{EventID: "ev-9", Outcome: handlers.OutcomeUnchanged}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := janeStore()
			st.read = make(chan string)
			s := serve(t, opsapi.NewService(st, worker{running: true}, nil), "")
			for name, c := range map[string]*opsapi.Client{"nats": s.viaNATS, "http": s.viaHTTP} {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				type result struct {
					item events.HistoryItem
					st   events.UserStatus
					err  error
				}
				done := make(chan result, 1)
				go func() {
					item, us, err := c.WaitApplied(ctx, jane15, "ev-9")
					done <- result{item, us, err}
				}()
				<-st.read // it asked once: not applied yet
				outcome := handlers.OutcomeUnchanged
				if tt.withEntry {
					outcome = handlers.OutcomeUpdated
				}
				st.set(applied(jane, "ev-9", outcome, tt.withEntry))
				r := <-done
				cancel()
				if want := tt.want; r.err != nil || asJSON(t, r.item) != asJSON(t, want) || r.st.LastEventID != "ev-9" || r.st.VCCUserID != "vcc-1" {
					t.Errorf("%s: %+v %+v %v, want %+v", name, r.item, r.st, r.err, want)
				}
				st.set(func(m *memStore) {
					m.users[jane] = janeStore().users[jane]
					m.history[jane] = janeStore().history[jane]
				})
			}
		})
	}
}

// TestWaitAppliedGivesUp: on time, or at once on a request the service
// refuses; while no worker answers it keeps asking.
func TestWaitAppliedGivesUp(t *testing.T) {
	s := serve(t, opsapi.NewService(janeStore(), worker{running: true}, nil), "")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := s.viaNATS.WaitApplied(ctx, jane, "never"); !errors.Is(err, context.DeadlineExceeded) || err.Error() != "never not applied in time: context deadline exceeded" {
		t.Errorf("not applied: %v", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var e *opsapi.Error
	if _, _, err := s.viaNATS.WaitApplied(ctx, "0015e000001Jane", "ev"); !errors.As(err, &e) || e.Code != "400" || ctx.Err() != nil {
		t.Errorf("a bad user ID: %v, want a 400 error at once", err)
	}

	// No worker yet: it keeps asking until one answers.
	nc := startNATS(t)
	st := janeStore()
	done := make(chan error, 1)
	go func() {
		_, _, err := opsapi.NewClient(nc).WaitApplied(ctx, jane, "cmd-2")
		done <- err
	}()
	ms, err := opsapi.NewService(st, worker{running: true}, nil).ServeNATS(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ms.Stop() }()
	if err := <-done; err != nil {
		t.Errorf("a worker that starts later: %v", err)
	}
}

// TestWaitAppliedFindsItInTheHistory: a command dead-lettered, then
// followed by another event of the user before anyone asked, is found by
// its history entry, with the error and its class.
func TestWaitAppliedFindsItInTheHistory(t *testing.T) {
	st := janeStore()
	st.set(func(m *memStore) {
		e := events.HistoryItem{At: at, EventID: "cmd-9", Type: events.CommandTypePrefix + events.ActionDelete, Action: events.ActionDelete,
			Outcome: "dead_lettered", Error: "delete refused: VCC user vcc-1 is active", ErrorClass: events.ClassPermanent}
		m.history[jane] = append([]events.HistoryItem{e}, m.history[jane]...)
	})
	st.set(applied(jane, "ev-10", handlers.OutcomeUpdated, true))
	s := serve(t, opsapi.NewService(st, worker{running: true}, nil), "")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	item, us, err := s.viaNATS.WaitApplied(ctx, jane15, "cmd-9")
	if err != nil || item.ErrorClass != events.ClassPermanent || opsapi.ResultOf(item) != opsapi.Refused || us.LastEventID != "ev-10" {
		t.Errorf("%+v %+v %v, want the refused command's entry", item, us, err)
	}
}

func TestResultOf(t *testing.T) {
	for _, tc := range []struct {
		item events.HistoryItem
		want opsapi.Result
	}{
		{events.HistoryItem{Outcome: handlers.OutcomeUpdated}, opsapi.Applied},
		{events.HistoryItem{Outcome: handlers.OutcomeArchived}, opsapi.Applied},
		{events.HistoryItem{Outcome: handlers.OutcomeUnchanged}, opsapi.Unchanged},
		{events.HistoryItem{Outcome: "dead_lettered", Error: "VCC: 409", ErrorClass: events.ClassPermanent}, opsapi.Refused},
		{events.HistoryItem{Outcome: "dead_lettered", Error: "gave up after 10 attempts", ErrorClass: events.ClassExhausted}, opsapi.DeadLettered},
		{events.HistoryItem{Outcome: "dead_lettered", Error: "envelope: not JSON", ErrorClass: events.ClassPoison}, opsapi.DeadLettered},
		{events.HistoryItem{Outcome: "dead_lettered", Error: "recorded by an older worker"}, opsapi.DeadLettered},
	} {
		if got := opsapi.ResultOf(tc.item); got != tc.want {
			t.Errorf("ResultOf(%+v) = %s, want %s", tc.item, got, tc.want)
		}
	}
}
