package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

// Keys of State.Synced for Salesforce membership.
const (
	fContactCenter = "contactCenter" // the contact center vccsync last saw the user in
	fAlias         = "alias"         // the alias the user was (re-)added with
)

// The alias saga (seed 004): remove the user from the contact center,
// change the alias (the change-alias command; a change made in Salesforce
// is already done), add the user back so the telephony username follows
// the alias. Its data is "<contact center>|<new alias>".
const (
	sagaAlias     = "alias"
	stepRemove    = "remove"
	stepSetAlias  = "set-alias"
	stepAddBack   = "add"
	addBatchDelay = 20 * time.Millisecond
)

var aliasSteps = []string{stepRemove, stepSetAlias, stepAddBack}

// EnableContactCenters makes the handlers keep Salesforce contact-center
// membership too: active users in the contact center the mapping gives
// their profile, inactive ones removed, and the remove-and-re-add of seed
// 004 when a member's alias changes.
func (h *Handler) EnableContactCenters(cc ContactCenters) error {
	if !h.m.ManagesContactCenters() {
		return fmt.Errorf("mapping: contact-center sync needs contactCenters or defaultContactCenter")
	}
	h.cc = guardedCC{cc}
	h.members = newMemberBatcher(cc, addBatchDelay)
	return nil
}

// syncContactCenter brings the user's membership in line after the VCC
// part of an event: finishes an interrupted alias saga, moves the user to
// the contact center of its profile (or out of it), and re-adds a member
// whose alias changed.
func (h *Handler) syncContactCenter(ctx context.Context, key string, res *Result, active bool, changed []string) error {
	st := &res.State
	if err := h.resumeAliasSaga(ctx, key, res); err != nil {
		return err
	}
	snap := st.Snapshot
	want := ""
	if active {
		want = h.m.contactCenter(snap)
	}
	cur := st.Synced[fContactCenter]
	if snap.CallCenterID.Set { // Salesforce's own word, when the event carries it
		cur = ""
		if id, err := events.NormalizeID(snap.CallCenterID.Get()); err == nil {
			cur = id
		}
	}
	alias, last := snap.Alias.Get(), st.Synced[fAlias]
	switch {
	case cur != want:
		if cur != "" {
			if err := h.cc.RemoveMember(ctx, cur, key); err != nil {
				return fmt.Errorf("remove Salesforce user %s from contact center %s: %w", key, cur, err)
			}
			res.Changes = append(res.Changes, Change{Field: "contactCenter", Old: cur, New: ""})
		}
		if want != "" {
			if err := h.addMember(ctx, want, key); err != nil {
				return err
			}
			res.Changes = append(res.Changes, Change{Field: "contactCenter", Old: "", New: want})
		}
		markUpdated(res)
	case cur != "" && (alias != "" && last != "" && alias != last || last == "" && slices.Contains(changed, "Alias")):
		// A member's alias changed in Salesforce: its telephony username
		// still carries the old one, which breaks SSO until it is re-added.
		if err := h.runAliasSaga(ctx, key, cur, "", stepRemove); err != nil {
			return err
		}
		res.Changes = append(res.Changes, Change{Field: "alias", Old: last, New: alias + " (re-added to " + cur + ")"})
		markUpdated(res)
	}
	st.Synced[fContactCenter] = want
	if alias != "" {
		st.Synced[fAlias] = alias
	}
	return nil
}

func markUpdated(res *Result) {
	if res.Outcome == OutcomeUnchanged {
		res.Outcome = OutcomeUpdated
	}
}

// addMember adds the user through the batcher; a refusal is permanent,
// with Salesforce's code and message.
func (h *Handler) addMember(ctx context.Context, ccID, key string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	r, err := h.members.Add(ctx, ccID, key)
	if err != nil {
		return fmt.Errorf("add Salesforce user %s to contact center %s: %w", key, ccID, err)
	}
	if !r.OK {
		return permanent("contact center %s refused Salesforce user %s: %s: %s", ccID, key, r.Code, r.Message)
	}
	return nil
}

// runAliasSaga runs the alias saga from step on, recording each step in
// bbolt before doing it, so a crash resumes at that step and the user is
// never left out of the contact center.
func (h *Handler) runAliasSaga(ctx context.Context, key, ccID, newAlias, from string) error {
	data := ccID + "|" + newAlias
	for _, step := range aliasSteps[slices.Index(aliasSteps, from):] {
		if step == stepSetAlias && newAlias == "" {
			continue
		}
		if err := h.sagas.SetStep(key, sagaAlias, step, data); err != nil {
			return fmt.Errorf("record alias step %s: %w", step, err)
		}
		var err error
		switch step {
		case stepRemove:
			err = h.cc.RemoveMember(ctx, ccID, key)
		case stepSetAlias:
			err = h.cc.SetAlias(ctx, key, newAlias)
		case stepAddBack:
			err = h.addMember(ctx, ccID, key)
		}
		if err != nil {
			return fmt.Errorf("alias change of Salesforce user %s, step %s (resumed on the next attempt): %w", key, step, err)
		}
	}
	if err := h.sagas.Clear(key, sagaAlias); err != nil {
		return fmt.Errorf("record alias change done: %w", err)
	}
	return nil
}

// resumeAliasSaga finishes an alias saga a crash interrupted.
func (h *Handler) resumeAliasSaga(ctx context.Context, key string, res *Result) error {
	step, data, ok, err := h.sagas.Step(key, sagaAlias)
	if err != nil || !ok {
		return err
	}
	ccID, newAlias, _ := strings.Cut(data, "|")
	if err := h.runAliasSaga(ctx, key, ccID, newAlias, step); err != nil {
		return err
	}
	res.Changes = append(res.Changes, Change{Field: "alias", New: "interrupted change finished at step " + step})
	if newAlias != "" {
		res.State.Snapshot.Alias = events.Val(newAlias)
		res.State.Synced[fAlias] = newAlias
	}
	markUpdated(res)
	return nil
}

// changeAlias is the change-alias command: seed 004's order for a member
// (remove, change the alias, add back), just the alias otherwise.
func (h *Handler) changeAlias(ctx context.Context, key string, prev State, alias string) (Result, error) {
	res := Result{State: prev.clone(), Outcome: OutcomeUnchanged}
	if h.cc == nil {
		return Result{}, permanent("change-alias refused: syncworker has no Salesforce connection (configure the Salesforce endpoint and contact centers)")
	}
	if err := h.resumeAliasSaga(ctx, key, &res); err != nil {
		return Result{}, err
	}
	old := res.State.Snapshot.Alias.Get()
	if old == alias && (res.State.Synced[fAlias] == alias || res.State.Synced[fContactCenter] == "") {
		return res, nil
	}
	if cc := res.State.Synced[fContactCenter]; cc != "" {
		if err := h.runAliasSaga(ctx, key, cc, alias, stepRemove); err != nil {
			return Result{}, err
		}
	} else if err := h.cc.SetAlias(ctx, key, alias); err != nil {
		return Result{}, refusal("change-alias", fmt.Errorf("set alias of Salesforce user %s: %w", key, err))
	}
	res.State.Snapshot.Alias = events.Val(alias)
	res.State.Synced[fAlias] = alias
	res.Changes = append(res.Changes, Change{Field: "alias", Old: old, New: alias})
	res.Outcome = OutcomeUpdated
	return res, nil
}
