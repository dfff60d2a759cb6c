package opsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
)

// Store is what the status and history views read of the worker's store.
type Store interface {
	// User returns what is recorded of the user; ok is false if nothing is.
	User(key string) (u User, ok bool, err error)
	// SagaSteps returns the user's multi-step changes in progress.
	SagaSteps(key string) ([]events.PendingStep, error)
	// OpenedIntent returns the user's open write intent, if any.
	OpenedIntent(key string) (in Intent, open bool, err error)
	// History returns up to limit entries of the user's history, newest
	// first; limit 0: every entry kept.
	History(key string, limit int) ([]events.HistoryItem, error)
}

// User is what the store records of a Salesforce user: the handlers' state
// and the worker's bookkeeping.
type User struct {
	handlers.State
	LastEventID string // the last event applied
	Outcome     string // its outcome
	LastError   string // its error, "" after a success
	UpdatedAt   time.Time
	Applied     int64 // events applied
}

// Intent is an open write intent: the user's targets may hold writes its
// recorded state does not show.
type Intent struct {
	EventID string
	At      time.Time
}

// Worker is the state of the worker that answers.
type Worker interface {
	Running() bool
	Quarantined() (on bool, reason string, since time.Time)
}

// PlanFunc plans a Salesforce snapshot: what applying it would do, writing
// nothing. A refusal the handlers would meet is in the reply (Error), not
// an error.
type PlanFunc func(ctx context.Context, u events.User) (events.PlanReply, error)

// ErrNoPlanner is returned by [Service.Plan] of a service built without a
// planner.
var ErrNoPlanner = errors.New("opsapi: no planner")

// Service answers operators' questions about one user. Serve it with
// [Service.Routes] and [Service.ServeNATS].
type Service struct {
	st   Store
	w    Worker
	plan PlanFunc
}

// NewService returns the service over a store and a worker. plan may be
// nil: the service then has no plan endpoint.
func NewService(st Store, w Worker, plan PlanFunc) *Service {
	return &Service{st: st, w: w, plan: plan}
}

// Status is what vccsync knows of the user id (15 or 18 characters) and
// the state of the worker. The error about an id that is not a Salesforce
// user ID wraps events.ErrNotUserID.
func (s *Service) Status(id string) (events.UserStatus, error) {
	key, err := events.UserKey(id)
	if err != nil {
		return events.UserStatus{}, err
	}
	st := events.UserStatus{UserID: key, Worker: events.WorkerStatus{Consuming: s.w.Running()}}
	if on, reason, since := s.w.Quarantined(); on {
		st.Worker.Quarantined, st.Worker.Reason, st.Worker.Since = true, reason, &since
	}
	u, ok, err := s.st.User(key)
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
	steps, err := s.st.SagaSteps(key)
	if err != nil {
		return st, fmt.Errorf("read pending steps of %s: %w", key, err)
	}
	for _, p := range steps {
		if !handlers.SagaDone(p.Saga, p.Step) {
			st.PendingSteps = append(st.PendingSteps, p)
		}
	}
	in, open, err := s.st.OpenedIntent(key)
	if err != nil {
		return st, fmt.Errorf("read write intent of %s: %w", key, err)
	}
	if open {
		// A write may be missing from the state above: the next change
		// reads VCC in full first.
		st.PendingSteps = append(st.PendingSteps, events.PendingStep{Saga: "write-intent",
			Step: "unrecorded writes possible: VCC is read in full before the next change", Data: in.EventID, At: in.At})
	}
	return st, nil
}

// History is what vccsync did for the user id, newest first, at most
// limit entries (0: every entry kept).
func (s *Service) History(id string, limit int) ([]events.HistoryItem, error) {
	key, err := events.UserKey(id)
	if err != nil {
		return nil, err
	}
	h, err := s.st.History(key, limit)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", key, err)
	}
	if h == nil {
		h = []events.HistoryItem{} // JSON [], not null
	}
	return h, nil
}

// Plan is what applying the snapshot u would do. The snapshot must be valid.
func (s *Service) Plan(ctx context.Context, u events.User) (events.PlanReply, error) {
	if s.plan == nil {
		return events.PlanReply{}, ErrNoPlanner
	}
	if err := u.Validate(); err != nil {
		return events.PlanReply{}, badRequest{err}
	}
	return s.plan(ctx, u)
}

// badRequest is an error about the request, not the service: answered with
// code 400, as events.ErrNotUserID is.
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }
func (e badRequest) Unwrap() error { return e.err }

// isBadRequest reports whether err is about the request.
func isBadRequest(err error) bool {
	var b badRequest
	return errors.As(err, &b) || errors.Is(err, events.ErrNotUserID)
}
