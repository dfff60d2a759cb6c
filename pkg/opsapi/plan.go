package opsapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// PlanStore is what a plan reads of the worker's store. It records nothing.
type PlanStore interface {
	// User returns what is recorded of the user (its State is the
	// handlers' previous state); ok is false if nothing is.
	User(key string) (u User, ok bool, err error)
	// AgentID returns the agent ID reserved for or held by the user.
	AgentID(key string) (id string, ok bool, err error)
	// AgentIDHolder returns the Salesforce user that holds an agent ID.
	AgentIDHolder(id string) (key string, ok bool, err error)
	// SagaStep returns the step a multi-step change of the user has reached.
	SagaStep(key, saga string) (step, data string, ok bool, err error)
	// OpenedIntent returns the user's open write intent, if any.
	OpenedIntent(key string) (in Intent, open bool, err error)
}

// The dry ports stand in for the handlers' real ones.
var (
	_ handlers.Client         = dryVCC{}
	_ handlers.Durable        = dryState{}
	_ handlers.ContactCenters = dryCC{}
)

// NewPlanner returns the handlers with ports that read for real and write
// nothing: client is read, every write (VCC, and contact-center membership
// and aliases when m manages contact centers) is recorded in the reply's
// Writes instead of made, and st is read, never written.
func NewPlanner(client handlers.Client, st PlanStore, m handlers.Mapping) PlanFunc {
	return func(ctx context.Context, u events.User) (events.PlanReply, error) {
		return plan(ctx, client, st, m, u)
	}
}

// plan runs the handlers on the snapshot against the user's stored state,
// recording the writes they would make.
func plan(ctx context.Context, client handlers.Client, st PlanStore, m handlers.Mapping, u events.User) (events.PlanReply, error) {
	key, err := events.UserKey(u.ID)
	if err != nil {
		return events.PlanReply{}, err
	}
	rec := &writeRecorder{}
	h, err := handlers.New(dryVCC{client, rec}, dryState{st}, m)
	if err != nil {
		return events.PlanReply{}, err
	}
	if m.ManagesContactCenters() {
		if err := h.EnableContactCenters(dryCC{rec}); err != nil {
			return events.PlanReply{}, err
		}
	}
	prev, _, err := st.User(key)
	if err != nil {
		return events.PlanReply{}, err
	}
	reply := events.PlanReply{UserID: key}
	res, err := h.HandleUser(ctx, key, "plan", prev.State, u)
	if err != nil {
		var perm *handlers.PermanentError
		if !errors.As(err, &perm) {
			return reply, err
		}
		reply.Outcome, reply.Error = "refused", err.Error()
	} else {
		reply.Outcome, reply.VCCUserID, reply.Note = res.Outcome, res.State.VCCUserID, res.Note
		for _, c := range res.Changes {
			reply.Changes = append(reply.Changes, events.FieldChange{Field: c.Field, Old: c.Old, New: c.New})
		}
	}
	reply.Writes = rec.list()
	return reply, nil
}

// writeRecorder lists the writes a plan would make.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *writeRecorder) add(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, fmt.Sprintf(format, a...))
}

func (r *writeRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// newUserID is the VCC user ID of a user a plan would create.
const newUserID = "(new)"

// dryVCC reads VCC and records writes instead of making them.
type dryVCC struct {
	handlers.Client
	rec *writeRecorder
}

func (d dryVCC) CreateUser(_ context.Context, u *vcc.User) (*vcc.User, error) {
	d.rec.add("POST %s (create %s)", vcc.RouteUsers, u.Username)
	c := *u
	c.UserID = newUserID
	return &c, nil
}

func (d dryVCC) PatchUser(ctx context.Context, id string, p *vcc.User) (*vcc.User, error) {
	d.rec.add("PATCH %s", vcc.RouteUser)
	if id == newUserID {
		c := *p
		c.UserID = id
		return &c, nil
	}
	return d.Client.GetUser(ctx, id)
}

func (d dryVCC) PutSkills(context.Context, string, []vcc.Skill) error {
	d.rec.add("PUT %s", vcc.RouteUserSkills)
	return nil
}

func (d dryVCC) PutGroups(context.Context, string, []vcc.Group) error {
	d.rec.add("PUT %s", vcc.RouteUserGroups)
	return nil
}

func (d dryVCC) PutCallbackNumbers(context.Context, string, []vcc.CallbackNumberRef) error {
	d.rec.add("PUT %s", vcc.RouteUserCallbackNumbers)
	return nil
}

func (d dryVCC) PutGroupPermissions(context.Context, string, []vcc.GroupPermission) error {
	d.rec.add("PUT %s", vcc.RouteUserGroupPermissions)
	return nil
}

func (d dryVCC) DeleteUser(context.Context, string) error {
	d.rec.add("DELETE %s", vcc.RouteUser)
	return nil
}

func (d dryVCC) UnlockUser(context.Context, string) error {
	d.rec.add("POST %s", vcc.RouteUserUnlock)
	return nil
}

func (d dryVCC) ResetPassword(context.Context, string) error {
	d.rec.add("POST %s", vcc.RouteUserForgotPassword)
	return nil
}

// The lists of a user not created yet are empty.
func (d dryVCC) GetSkills(ctx context.Context, id string) ([]vcc.Skill, error) {
	if id == newUserID {
		return nil, nil
	}
	return d.Client.GetSkills(ctx, id)
}

func (d dryVCC) GetGroups(ctx context.Context, id string) ([]vcc.Group, error) {
	if id == newUserID {
		return nil, nil
	}
	return d.Client.GetGroups(ctx, id)
}

func (d dryVCC) GetCallbackNumbers(ctx context.Context, id string) ([]vcc.CallbackNumberRef, error) {
	if id == newUserID {
		return nil, nil
	}
	return d.Client.GetCallbackNumbers(ctx, id)
}

func (d dryVCC) GetGroupPermissions(ctx context.Context, id string) ([]vcc.GroupPermission, error) {
	if id == newUserID {
		return nil, nil
	}
	return d.Client.GetGroupPermissions(ctx, id)
}

// dryState reads agent IDs and saga steps and reserves or records nothing.
type dryState struct{ st PlanStore }

func (d dryState) ReserveAgentID(key string, start int, _ func(string) bool) (string, error) {
	if id, ok, err := d.st.AgentID(key); err != nil || ok {
		return id, err
	}
	return fmt.Sprintf("(next free from %d)", start), nil
}

func (d dryState) ReleaseAgentID(string) error { return nil }

func (d dryState) ClaimAgentID(key, id string) error {
	holder, ok, err := d.st.AgentIDHolder(id)
	if err != nil {
		return err
	}
	if ok && holder != key {
		return fmt.Errorf("%w: held by Salesforce user %s", handlers.ErrAgentIDTaken, holder)
	}
	return nil
}

func (d dryState) SetStep(string, string, string, string) error { return nil }

func (d dryState) Step(key, saga string) (string, string, bool, error) {
	return d.st.SagaStep(key, saga)
}

func (d dryState) Clear(string, string) error { return nil }

func (d dryState) OpenIntent(string, string) error { return nil }

// IntentOpen is read for real: a plan for a user whose writes may be
// unrecorded reads VCC in full, as the worker would.
func (d dryState) IntentOpen(key string) (bool, error) {
	_, open, err := d.st.OpenedIntent(key)
	return open, err
}

func (d dryState) Link(string, string) error { return nil }

// dryCC records contact-center changes instead of making them.
type dryCC struct{ rec *writeRecorder }

func (d dryCC) AddMembers(_ context.Context, ccID string, ids []string) ([]handlers.MemberResult, error) {
	out := make([]handlers.MemberResult, len(ids))
	for i, id := range ids {
		d.rec.add("add %s to contact center %s", id, ccID)
		out[i] = handlers.MemberResult{UserID: id, OK: true}
	}
	return out, nil
}

func (d dryCC) RemoveMember(_ context.Context, ccID, id string) error {
	d.rec.add("remove %s from contact center %s", id, ccID)
	return nil
}

func (d dryCC) SetAlias(_ context.Context, id, alias string) error {
	d.rec.add("set the alias of %s to %s", id, alias)
	return nil
}
