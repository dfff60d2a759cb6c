package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// The adapters join parts that do not know each other: the worker's ports
// to the store and the handlers.
var (
	_ worker.Store[handlers.State]   = stateStore{}
	_ worker.Handler[handlers.State] = eventHandler{}
	_ handlers.Durable               = durable{}
)

// stateStore is the worker's Store backed by bbolt.
type stateStore struct{ db *store.DB }

func (s stateStore) Seen(eventID string) (bool, error) {
	_, ok, err := s.db.Seen(eventID)
	return ok, err
}

func (s stateStore) Load(key string) (handlers.State, error) {
	u, ok, err := s.db.User(key)
	if err != nil || !ok {
		return handlers.State{}, err
	}
	return handlers.State{VCCUserID: u.VCCUserID, Checkpoint: u.Checkpoint, Snapshot: u.Snapshot, Synced: u.Synced, AgentID: u.AgentID}, nil
}

func (s stateStore) Commit(recs []worker.Record[handlers.State]) error {
	var b store.Batch
	users := map[string]int{} // key → index in b.Users: the last state of each user wins
	for _, r := range recs {
		if r.Err == "" && r.EventID != "" {
			b.Ledger = append(b.Ledger, store.LedgerEntry{EventID: r.EventID, UserKey: r.UserKey, Outcome: r.Outcome, At: r.At})
		}
		if r.Settled {
			b.Settled = append(b.Settled, r.UserKey)
		}
		if e, ok := historyEntry(r); ok {
			if b.History == nil {
				b.History = map[string][]store.HistoryEntry{}
			}
			b.History[r.UserKey] = append(b.History[r.UserKey], e)
		}
		if !r.HasState {
			continue
		}
		prev, seen := users[r.UserKey]
		var applied int64
		if seen {
			applied = b.Users[prev].Applied
		} else if old, ok, err := s.db.User(r.UserKey); err != nil {
			return fmt.Errorf("load user %s: %w", r.UserKey, err)
		} else if ok {
			applied = old.Applied
		}
		us := store.UserState{
			Key: r.UserKey, VCCUserID: r.State.VCCUserID, Checkpoint: r.State.Checkpoint, LastEventID: r.EventID,
			Snapshot: r.State.Snapshot, Synced: r.State.Synced, AgentID: r.State.AgentID,
			Outcome: r.Outcome, LastError: r.Err, UpdatedAt: r.At, Applied: applied,
		}
		if r.Err == "" && r.Outcome != "duplicate" {
			us.Applied++
		}
		if seen {
			b.Users[prev] = us
		} else {
			users[r.UserKey] = len(b.Users)
			b.Users = append(b.Users, us)
		}
	}
	return s.db.Commit(b)
}

// historyEntry is what the user's history keeps of a record: every
// command (even one that found its effect in place) and every Salesforce
// event that did something or failed; not the unchanged ones, which would
// push the rest out of the bounded history.
func historyEntry(r worker.Record[handlers.State]) (store.HistoryEntry, bool) {
	if r.EventID == "" || (r.Action == "" && r.Err == "" && r.Outcome == handlers.OutcomeUnchanged) {
		return store.HistoryEntry{}, false
	}
	e := store.HistoryEntry{At: r.At, EventID: r.EventID, Type: r.Type, Action: r.Action, RequestedBy: r.RequestedBy,
		Reason: r.Reason, Outcome: r.Outcome, Error: r.Err, ErrorClass: r.ErrClass}
	for _, c := range r.Changes {
		e.Changes = append(e.Changes, store.FieldChange{Field: c.Field, Old: c.Old, New: c.New})
	}
	return e, true
}

// durable gives the handlers the store's agent-ID reservations (with the
// handlers' sentinel), saga steps, write intents and links.
type durable struct{ db *store.DB }

func (a durable) OpenIntent(key, eventID string) error {
	return a.db.OpenIntent(key, store.Intent{EventID: eventID})
}

func (a durable) IntentOpen(key string) (bool, error) {
	_, ok, err := a.db.OpenedIntent(key)
	return ok, err
}

func (a durable) Link(key, vccUserID string) error { return a.db.LinkUser(key, vccUserID) }

func (a durable) SetStep(key, saga, step, data string) error {
	return a.db.SetSagaStep(key, store.SagaStep{Saga: saga, Step: step, Data: data})
}

func (a durable) Step(key, saga string) (string, string, bool, error) {
	s, ok, err := a.db.SagaStep(key, saga)
	return s.Step, s.Data, ok, err
}

func (a durable) Clear(key, saga string) error { return a.db.ClearSaga(key, saga) }

func (a durable) ReserveAgentID(key string, start int, inUse func(string) bool) (string, error) {
	return a.db.ReserveAgentID(key, start, inUse)
}

func (a durable) ReleaseAgentID(key string) error { return a.db.ReleaseAgentID(key) }

func (a durable) ClaimAgentID(key, id string) error {
	err := a.db.ClaimAgentID(key, id)
	if errors.Is(err, store.ErrAgentIDTaken) {
		holder, _, _ := a.db.AgentIDHolder(id)
		return fmt.Errorf("%w: held by Salesforce user %s", handlers.ErrAgentIDTaken, holder)
	}
	return err
}

// eventHandler dispatches decoded events to the domain handlers.
type eventHandler struct{ users *handlers.Handler }

func (h eventHandler) Handle(ctx context.Context, ev *events.Event, prev handlers.State) (worker.Result[handlers.State], error) {
	switch {
	case ev.User != nil && events.VerifiesVCC(ev.Source):
		return result(h.users.VerifyUser(ctx, ev.UserKey, ev.ID, prev, *ev.User))
	case ev.User != nil:
		return result(h.users.HandleUser(ctx, ev.UserKey, ev.ID, prev, *ev.User))
	case ev.Command != nil:
		return result(h.users.HandleCommand(ctx, ev.UserKey, ev.ID, prev, *ev.Command))
	}
	return worker.Result[handlers.State]{}, &handlers.PermanentError{Msg: fmt.Sprintf("type %q: no handler", ev.Type)}
}

func result(r handlers.Result, err error) (worker.Result[handlers.State], error) {
	if err != nil {
		// What the run reached, to record with a dead letter.
		return worker.Result[handlers.State]{State: r.State, Partial: r.Partial}, err
	}
	out := worker.Result[handlers.State]{State: r.State, Outcome: r.Outcome, Detail: describe(r)}
	for _, c := range r.Changes {
		out.Changes = append(out.Changes, worker.Change{Field: c.Field, Old: c.Old, New: c.New})
	}
	return out, nil
}

// describe renders a result's changes and note for logs and the results table.
func describe(r handlers.Result) string {
	var parts []string
	for _, c := range r.Changes {
		switch {
		case c.Old == "" && c.New != "":
			parts = append(parts, fmt.Sprintf("%s %s", c.Field, c.New))
		default:
			parts = append(parts, fmt.Sprintf("%s %q → %q", c.Field, c.Old, c.New))
		}
	}
	if r.Note != "" {
		parts = append(parts, r.Note)
	}
	return strings.Join(parts, "; ")
}
