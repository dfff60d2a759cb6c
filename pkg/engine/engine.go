package engine

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

var (
	_ worker.Store[handlers.State]   = Store{}
	_ worker.Handler[handlers.State] = Handler{}
	_ handlers.Durable               = Durable{}
)

// Store is the worker's Store backed by the bbolt store: the ledger of
// applied events, each user's state, and the history of what was done.
type Store struct{ DB *store.DB }

// Seen reports whether the ledger holds eventID.
func (s Store) Seen(eventID string) (bool, error) {
	_, ok, err := s.DB.Seen(eventID)
	return ok, err
}

// Load returns the user's state; the zero State for a user never seen.
func (s Store) Load(key string) (handlers.State, error) {
	u, ok, err := s.DB.User(key)
	if err != nil || !ok {
		return handlers.State{}, err
	}
	return stateOf(u), nil
}

// stateOf is the handlers' part of a stored user state.
func stateOf(u store.UserState) handlers.State {
	return handlers.State{VCCUserID: u.VCCUserID, Checkpoint: u.Checkpoint, Snapshot: u.Snapshot, Synced: u.Synced, AgentID: u.AgentID}
}

// Commit stores a batch's records in one transaction: a ledger entry for
// each event applied without error, the last state of each user (its
// applied count raised by the events applied, duplicates aside), the
// users whose saga settled, and the history entries (historyEntry). It
// does not read the users first: the store adds the batch's applied
// counts to the stored ones (store.Batch.AddApplied).
func (s Store) Commit(recs []worker.Record[handlers.State]) error {
	b := store.Batch{AddApplied: true}
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
		var applied int64 // applied in this batch, before r
		if seen {
			applied = b.Users[prev].Applied
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
	return s.DB.Commit(b)
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

// Durable gives the handlers the store's agent-ID reservations (with the
// handlers' sentinel error), saga steps, write intents and links.
type Durable struct{ DB *store.DB }

// OpenIntent records that a VCC write for the user is under way.
func (a Durable) OpenIntent(key, eventID string) error {
	return a.DB.OpenIntent(key, store.Intent{EventID: eventID})
}

// IntentOpen reports whether a VCC write for the user was left under way.
func (a Durable) IntentOpen(key string) (bool, error) {
	_, ok, err := a.DB.OpenedIntent(key)
	return ok, err
}

// Link stores the VCC user the Salesforce user is linked to.
func (a Durable) Link(key, vccUserID string) error { return a.DB.LinkUser(key, vccUserID) }

// SetStep records the step a saga of the user reached.
func (a Durable) SetStep(key, saga, step, data string) error {
	return a.DB.SetSagaStep(key, store.SagaStep{Saga: saga, Step: step, Data: data})
}

// Step returns the step a saga of the user reached.
func (a Durable) Step(key, saga string) (string, string, bool, error) {
	s, ok, err := a.DB.SagaStep(key, saga)
	return s.Step, s.Data, ok, err
}

// Clear forgets a finished saga.
func (a Durable) Clear(key, saga string) error { return a.DB.ClearSaga(key, saga) }

// ReserveAgentID reserves the lowest free agent ID from start.
func (a Durable) ReserveAgentID(key string, start int, inUse func(string) bool) (string, error) {
	return a.DB.ReserveAgentID(key, start, inUse)
}

// ReleaseAgentID frees the user's reserved agent ID.
func (a Durable) ReleaseAgentID(key string) error { return a.DB.ReleaseAgentID(key) }

// ClaimAgentID reserves id for the user; an ID held by another user is
// handlers.ErrAgentIDTaken, naming the holder.
func (a Durable) ClaimAgentID(key, id string) error {
	err := a.DB.ClaimAgentID(key, id)
	if errors.Is(err, store.ErrAgentIDTaken) {
		holder, _, _ := a.DB.AgentIDHolder(id)
		return fmt.Errorf("%w: held by Salesforce user %s", handlers.ErrAgentIDTaken, holder)
	}
	return err
}

// Handler is the worker's Handler: it dispatches each decoded event to the
// domain handlers (a Salesforce snapshot to HandleUser, or VerifyUser when
// its source asks for a full VCC check; a command to HandleCommand).
type Handler struct{ Users *handlers.Handler }

// Handle applies ev to the user whose state is prev.
func (h Handler) Handle(ctx context.Context, ev *events.Event, prev handlers.State) (worker.Result[handlers.State], error) {
	switch {
	case ev.User != nil && events.VerifiesVCC(ev.Source):
		return result(h.Users.VerifyUser(ctx, ev.UserKey, ev.ID, prev, *ev.User))
	case ev.User != nil:
		return result(h.Users.HandleUser(ctx, ev.UserKey, ev.ID, prev, *ev.User))
	case ev.Command != nil:
		return result(h.Users.HandleCommand(ctx, ev.UserKey, ev.ID, prev, *ev.Command))
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
