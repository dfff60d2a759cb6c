package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// A planner is the handlers with ports that read for real and write
// nothing: what an event would do, for publisher sync --dry-run. It runs
// next to the worker and touches no state.
type planner struct {
	client handlers.Client
	db     *store.DB
	m      handlers.Mapping
	cc     bool // contact centers are managed
}

// plan runs the handlers on the snapshot against the user's stored state,
// recording the writes they would make.
func (p *planner) plan(ctx context.Context, u events.User) (events.PlanReply, error) {
	key, err := events.UserKey(u.ID)
	if err != nil {
		return events.PlanReply{}, err
	}
	rec := &writeRecorder{}
	h, err := handlers.New(dryVCC{p.client, rec}, dryState{p.db}, p.m)
	if err != nil {
		return events.PlanReply{}, err
	}
	if p.cc {
		if err := h.EnableContactCenters(dryCC{rec}); err != nil {
			return events.PlanReply{}, err
		}
	}
	prev, err := stateStore{p.db}.Load(key)
	if err != nil {
		return events.PlanReply{}, err
	}
	reply := events.PlanReply{UserID: key}
	res, err := h.HandleUser(ctx, key, "plan", prev, u)
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

// dryVCC reads VCC and records writes instead of making them.
type dryVCC struct {
	handlers.Client
	rec *writeRecorder
}

func (d dryVCC) CreateUser(_ context.Context, u *vcc.User) (*vcc.User, error) {
	d.rec.add("POST %s (create %s)", vcc.RouteUsers, u.Username)
	c := *u
	c.UserID = "(new)"
	return &c, nil
}

func (d dryVCC) PatchUser(ctx context.Context, id string, p *vcc.User) (*vcc.User, error) {
	d.rec.add("PATCH %s", vcc.RouteUser)
	if id == "(new)" {
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

// The lists of a user not created yet are empty.
func (d dryVCC) GetSkills(ctx context.Context, id string) ([]vcc.Skill, error) {
	if id == "(new)" {
		return nil, nil
	}
	return d.Client.GetSkills(ctx, id)
}

func (d dryVCC) GetGroups(ctx context.Context, id string) ([]vcc.Group, error) {
	if id == "(new)" {
		return nil, nil
	}
	return d.Client.GetGroups(ctx, id)
}

func (d dryVCC) GetCallbackNumbers(ctx context.Context, id string) ([]vcc.CallbackNumberRef, error) {
	if id == "(new)" {
		return nil, nil
	}
	return d.Client.GetCallbackNumbers(ctx, id)
}

func (d dryVCC) GetGroupPermissions(ctx context.Context, id string) ([]vcc.GroupPermission, error) {
	if id == "(new)" {
		return nil, nil
	}
	return d.Client.GetGroupPermissions(ctx, id)
}

// dryState reads agent IDs and saga steps and reserves or records nothing.
type dryState struct{ db *store.DB }

func (d dryState) ReserveAgentID(key string, start int, _ func(string) bool) (string, error) {
	if id, ok, err := d.db.AgentID(key); err != nil || ok {
		return id, err
	}
	return fmt.Sprintf("(next free from %d)", start), nil
}

func (d dryState) ReleaseAgentID(string) error { return nil }

func (d dryState) ClaimAgentID(key, id string) error {
	holder, ok, err := d.db.AgentIDHolder(id)
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
	s, ok, err := d.db.SagaStep(key, saga)
	return s.Step, s.Data, ok, err
}

func (d dryState) Clear(string, string) error { return nil }

func (d dryState) OpenIntent(string, string) error { return nil }

// IntentOpen is read for real: a plan for a user whose writes may be
// unrecorded reads VCC in full, as the worker would.
func (d dryState) IntentOpen(key string) (bool, error) {
	_, ok, err := d.db.OpenedIntent(key)
	return ok, err
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
