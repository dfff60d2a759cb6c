package handlers

import (
	"context"
	"fmt"
	"sync"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// Journal is what the handlers record durably at once, outside the
// worker's batch commit, because a crash must not lose it.
type Journal interface {
	// OpenIntent records, before the first write of an event to VCC or
	// Salesforce, that the user's targets may hold writes the committed
	// state does not show. It returns once the record is durable; an open
	// intent is kept as it is. The worker closes it when it commits a
	// state that accounts for every write (see package worker).
	OpenIntent(userKey, eventID string) error
	// IntentOpen reports whether such a record is open.
	IntentOpen(userKey string) (bool, error)
	// Link records that the Salesforce user is linked to the VCC user,
	// right after the VCC user is created, before any later step.
	Link(userKey, vccUserID string) error
}

// Durable is the handlers' durable state: agent-ID reservations, the steps
// of multi-step changes and the journal.
type Durable interface {
	AgentIDs
	Sagas
	Journal
}

// intentKey is the context key of the run's writeGuard.
type intentKey struct{}

// writeGuard opens the user's intent before the first write of one handler
// run. Every write of the handlers goes through the guarded ports, which
// call open; a run without writes records nothing.
type writeGuard struct {
	j       Journal
	key, ev string

	once sync.Once
	err  error
}

// guarded returns ctx carrying the run's write guard for the user.
func (h *Handler) guarded(ctx context.Context, key, eventID string) context.Context {
	return context.WithValue(ctx, intentKey{}, &writeGuard{j: h.d, key: key, ev: eventID})
}

// beforeWrite opens the intent of the run in ctx, once. A write outside a
// handler run (no guard in ctx) is an error: it would not be accounted for.
func beforeWrite(ctx context.Context) error {
	g, _ := ctx.Value(intentKey{}).(*writeGuard)
	if g == nil {
		return fmt.Errorf("write outside a handler run: no intent can be recorded")
	}
	g.once.Do(func() {
		if err := g.j.OpenIntent(g.key, g.ev); err != nil {
			g.err = fmt.Errorf("record write intent of Salesforce user %s: %w", g.key, err)
		}
	})
	return g.err
}

// guardedVCC is the VCC client with the intent opened before every write.
type guardedVCC struct{ Client }

var _ Client = guardedVCC{}

func (g guardedVCC) CreateUser(ctx context.Context, u *vcc.User) (*vcc.User, error) {
	if err := beforeWrite(ctx); err != nil {
		return nil, err
	}
	return g.Client.CreateUser(ctx, u)
}

func (g guardedVCC) PatchUser(ctx context.Context, id string, patch *vcc.User) (*vcc.User, error) {
	if err := beforeWrite(ctx); err != nil {
		return nil, err
	}
	return g.Client.PatchUser(ctx, id, patch)
}

func (g guardedVCC) PutSkills(ctx context.Context, id string, s []vcc.Skill) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.PutSkills(ctx, id, s)
}

func (g guardedVCC) PutGroups(ctx context.Context, id string, gr []vcc.Group) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.PutGroups(ctx, id, gr)
}

func (g guardedVCC) PutCallbackNumbers(ctx context.Context, id string, n []vcc.CallbackNumberRef) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.PutCallbackNumbers(ctx, id, n)
}

func (g guardedVCC) DeleteUser(ctx context.Context, id string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.DeleteUser(ctx, id)
}

func (g guardedVCC) PutGroupPermissions(ctx context.Context, id string, p []vcc.GroupPermission) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.PutGroupPermissions(ctx, id, p)
}

func (g guardedVCC) UnlockUser(ctx context.Context, id string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.UnlockUser(ctx, id)
}

func (g guardedVCC) ResetPassword(ctx context.Context, id string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.Client.ResetPassword(ctx, id)
}

// guardedCC is the contact-center port with the intent opened before every
// write. Adds go through the batcher, whose requests carry no run's
// context: addMember opens the intent before queueing.
type guardedCC struct{ ContactCenters }

func (g guardedCC) RemoveMember(ctx context.Context, ccID, userID string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.ContactCenters.RemoveMember(ctx, ccID, userID)
}

func (g guardedCC) SetAlias(ctx context.Context, userID, alias string) error {
	if err := beforeWrite(ctx); err != nil {
		return err
	}
	return g.ContactCenters.SetAlias(ctx, userID, alias)
}
