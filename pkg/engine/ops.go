package engine

import (
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
	"github.com/vccsync/vccsync/pkg/store"
)

// OpsStore is the bbolt store as the operators' service (status, history,
// plan) reads it. It writes nothing.
type OpsStore struct{ DB *store.DB }

var (
	_ opsapi.Store     = OpsStore{}
	_ opsapi.PlanStore = OpsStore{}
)

// User returns the user's stored record.
func (s OpsStore) User(key string) (opsapi.User, bool, error) {
	u, ok, err := s.DB.User(key)
	if err != nil || !ok {
		return opsapi.User{}, false, err
	}
	return opsapi.User{
		State:       stateOf(u),
		LastEventID: u.LastEventID, Outcome: u.Outcome, LastError: u.LastError, UpdatedAt: u.UpdatedAt, Applied: u.Applied,
	}, true, nil
}

// SagaSteps returns the user's unfinished saga steps.
func (s OpsStore) SagaSteps(key string) ([]events.PendingStep, error) {
	steps, err := s.DB.SagaSteps(key)
	var out []events.PendingStep
	for _, st := range steps {
		out = append(out, events.PendingStep{Saga: st.Saga, Step: st.Step, Data: st.Data, At: st.At})
	}
	return out, err
}

// SagaStep returns the step a saga of the user reached.
func (s OpsStore) SagaStep(key, saga string) (string, string, bool, error) {
	st, ok, err := s.DB.SagaStep(key, saga)
	return st.Step, st.Data, ok, err
}

// OpenedIntent returns the user's open write intent.
func (s OpsStore) OpenedIntent(key string) (opsapi.Intent, bool, error) {
	in, open, err := s.DB.OpenedIntent(key)
	return opsapi.Intent{EventID: in.EventID, At: in.At}, open, err
}

// History returns up to limit of the user's history entries, newest first.
func (s OpsStore) History(key string, limit int) ([]events.HistoryItem, error) {
	entries, err := s.DB.History(key, limit)
	out := make([]events.HistoryItem, 0, len(entries))
	for _, e := range entries {
		h := events.HistoryItem{At: e.At, EventID: e.EventID, Type: e.Type, Action: e.Action, RequestedBy: e.RequestedBy,
			Reason: e.Reason, Outcome: e.Outcome, Error: e.Error, ErrorClass: e.ErrorClass}
		for _, c := range e.Changes {
			h.Changes = append(h.Changes, events.FieldChange{Field: c.Field, Old: c.Old, New: c.New})
		}
		out = append(out, h)
	}
	return out, err
}

// AgentID returns the agent ID reserved for the user.
func (s OpsStore) AgentID(key string) (string, bool, error) { return s.DB.AgentID(key) }

// AgentIDHolder returns the user holding an agent ID.
func (s OpsStore) AgentIDHolder(id string) (string, bool, error) { return s.DB.AgentIDHolder(id) }
