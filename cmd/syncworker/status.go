package main

import (
	"net/http"
	"runtime/debug"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/opsapi"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// statusView is the operators' service (pkg/opsapi: status, history and
// plan) over this worker and its bbolt store.
type statusView struct {
	db   *store.DB
	w    *worker.Worker[handlers.State]
	plan opsapi.PlanFunc // nil: no plan endpoint
}

func (v statusView) service() *opsapi.Service { return opsapi.NewService(opsStore{v.db}, v.w, v.plan) }

func (v statusView) status(id string) (events.UserStatus, error) { return v.service().Status(id) }

// routes adds GET /v1/users/{id}/status and /v1/users/{id}/history?limit=N.
func (v statusView) routes(mux *http.ServeMux) { v.service().Routes(mux) }

// serveNATS registers the NATS micro service (`nats micro ls`).
func (v statusView) serveNATS(nc *nats.Conn) (micro.Service, error) {
	return v.service().ServeNATS(nc, buildVersion())
}

// newPlanner plans with the VCC client and the store, writing to neither.
func newPlanner(client handlers.Client, db *store.DB, m handlers.Mapping) opsapi.PlanFunc {
	return opsapi.NewPlanner(client, opsStore{db}, m)
}

// buildVersion is the module version this binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

// opsStore is the bbolt store as the operators' service reads it.
type opsStore struct{ db *store.DB }

var (
	_ opsapi.Store     = opsStore{}
	_ opsapi.PlanStore = opsStore{}
)

func (s opsStore) User(key string) (opsapi.User, bool, error) {
	u, ok, err := s.db.User(key)
	if err != nil || !ok {
		return opsapi.User{}, false, err
	}
	return opsapi.User{
		State:       handlers.State{VCCUserID: u.VCCUserID, Checkpoint: u.Checkpoint, Snapshot: u.Snapshot, Synced: u.Synced, AgentID: u.AgentID},
		LastEventID: u.LastEventID, Outcome: u.Outcome, LastError: u.LastError, UpdatedAt: u.UpdatedAt, Applied: u.Applied,
	}, true, nil
}

func (s opsStore) SagaSteps(key string) ([]events.PendingStep, error) {
	steps, err := s.db.SagaSteps(key)
	var out []events.PendingStep
	for _, st := range steps {
		out = append(out, events.PendingStep{Saga: st.Saga, Step: st.Step, Data: st.Data, At: st.At})
	}
	return out, err
}

func (s opsStore) SagaStep(key, saga string) (string, string, bool, error) {
	st, ok, err := s.db.SagaStep(key, saga)
	return st.Step, st.Data, ok, err
}

func (s opsStore) OpenedIntent(key string) (opsapi.Intent, bool, error) {
	in, open, err := s.db.OpenedIntent(key)
	return opsapi.Intent{EventID: in.EventID, At: in.At}, open, err
}

func (s opsStore) History(key string, limit int) ([]events.HistoryItem, error) {
	entries, err := s.db.History(key, limit)
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

func (s opsStore) AgentID(key string) (string, bool, error) { return s.db.AgentID(key) }

func (s opsStore) AgentIDHolder(id string) (string, bool, error) { return s.db.AgentIDHolder(id) }
