package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// statusView answers operators' questions about one user: what vccsync
// knows (status) and what it did (history).
type statusView struct {
	db   *store.DB
	w    *worker.Worker[handlers.State]
	plan *planner
}

func (v statusView) status(id string) (events.UserStatus, error) {
	key, err := events.UserKey(id)
	if err != nil {
		return events.UserStatus{}, err
	}
	st := events.UserStatus{UserID: key, Worker: events.WorkerStatus{Consuming: v.w.Running()}}
	if on, reason, since := v.w.Quarantined(); on {
		st.Worker.Quarantined, st.Worker.Reason, st.Worker.Since = true, reason, &since
	}
	u, ok, err := v.db.User(key)
	if err != nil {
		return st, fmt.Errorf("read state of %s: %w", key, err)
	}
	if ok {
		st.Known, st.VCCUserID, st.AgentID, st.Applied = true, u.VCCUserID, u.AgentID, u.Applied
		st.LastEventID, st.LastOutcome, st.LastError = u.LastEventID, u.Outcome, u.LastError
		st.ContactCenter, st.Alias = u.Synced["contactCenter"], u.Snapshot.Alias.Get()
		if !u.Checkpoint.IsZero() {
			st.Checkpoint = &u.Checkpoint
		}
		if !u.UpdatedAt.IsZero() {
			st.UpdatedAt = &u.UpdatedAt
		}
		if u.Snapshot.IsActive.Known() {
			a := u.Snapshot.IsActive.Value
			st.Active = &a
		}
	}
	steps, err := v.db.SagaSteps(key)
	if err != nil {
		return st, fmt.Errorf("read pending steps of %s: %w", key, err)
	}
	for _, s := range steps {
		st.PendingSteps = append(st.PendingSteps, events.PendingStep{Saga: s.Saga, Step: s.Step, Data: s.Data, At: s.At})
	}
	in, open, err := v.db.OpenedIntent(key)
	if err != nil {
		return st, fmt.Errorf("read write intent of %s: %w", key, err)
	}
	if open {
		// A write may be missing from the state above: the next change
		// reads VCC in full first.
		st.PendingSteps = append(st.PendingSteps, events.PendingStep{Saga: "write-intent", Step: "unrecorded writes possible: VCC is read in full before the next change",
			Data: in.EventID, At: in.At})
	}
	return st, nil
}

func (v statusView) history(id string, limit int) ([]events.HistoryItem, error) {
	key, err := events.UserKey(id)
	if err != nil {
		return nil, err
	}
	entries, err := v.db.History(key, limit)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", key, err)
	}
	out := make([]events.HistoryItem, 0, len(entries))
	for _, e := range entries {
		h := events.HistoryItem{At: e.At, EventID: e.EventID, Type: e.Type, Action: e.Action, RequestedBy: e.RequestedBy,
			Reason: e.Reason, Outcome: e.Outcome, Error: e.Error}
		for _, c := range e.Changes {
			h.Changes = append(h.Changes, events.FieldChange{Field: c.Field, Old: c.Old, New: c.New})
		}
		out = append(out, h)
	}
	return out, nil
}

// routes adds GET /v1/users/{id}/status and /v1/users/{id}/history?limit=N.
func (v statusView) routes(mux *http.ServeMux) {
	reply := func(w http.ResponseWriter, body any, err error) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case errors.Is(err, events.ErrNotUserID):
			w.WriteHeader(http.StatusBadRequest)
			body = map[string]string{"error": err.Error()}
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
			body = map[string]string{"error": err.Error()}
		}
		_ = json.NewEncoder(w).Encode(body)
	}
	mux.HandleFunc("GET /v1/users/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := v.status(r.PathValue("id"))
		reply(w, st, err)
	})
	mux.HandleFunc("GET /v1/users/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		h, err := v.history(r.PathValue("id"), limit)
		reply(w, h, err)
	})
}

// serveNATS registers the status service as a NATS micro service (visible
// with `nats micro ls`), endpoints status and history.
func (v statusView) serveNATS(nc *nats.Conn) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName, Version: "0.1.0",
		Description: "vccsync: per-user status and history"})
	if err != nil {
		return nil, fmt.Errorf("status service: %w", err)
	}
	respond := func(req micro.Request, body any, err error) {
		switch {
		case errors.Is(err, events.ErrNotUserID):
			_ = req.Error("400", err.Error(), nil)
		case err != nil:
			_ = req.Error("500", err.Error(), nil)
		default:
			_ = req.RespondJSON(body)
		}
	}
	err = svc.AddEndpoint("status", micro.HandlerFunc(func(req micro.Request) {
		r := parseStatusRequest(req.Data())
		st, err := v.status(r.UserID)
		respond(req, st, err)
	}), micro.WithEndpointSubject(events.StatusSubject))
	if err == nil {
		err = svc.AddEndpoint("history", micro.HandlerFunc(func(req micro.Request) {
			r := parseStatusRequest(req.Data())
			h, err := v.history(r.UserID, r.Limit)
			respond(req, h, err)
		}), micro.WithEndpointSubject(events.HistorySubject))
	}
	if err == nil && v.plan != nil {
		err = svc.AddEndpoint("plan", micro.HandlerFunc(func(req micro.Request) {
			var r events.PlanRequest
			if err := json.Unmarshal(req.Data(), &r); err != nil {
				_ = req.Error("400", "plan request: "+err.Error(), nil)
				return
			}
			if err := r.User.Validate(); err != nil {
				_ = req.Error("400", err.Error(), nil)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			reply, err := v.plan.plan(ctx, r.User)
			respond(req, reply, err)
		}), micro.WithEndpointSubject(events.PlanSubject))
	}
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("status service: %w", err)
	}
	return svc, nil
}

// parseStatusRequest takes a JSON StatusRequest or a bare user ID.
func parseStatusRequest(b []byte) events.StatusRequest {
	var r events.StatusRequest
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		_ = json.Unmarshal(t, &r)
		return r
	}
	r.UserID = string(bytes.TrimSpace(b))
	return r
}
