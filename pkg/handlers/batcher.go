package handlers

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemberResult is the outcome of adding one user to a contact center.
type MemberResult struct {
	UserID  string
	OK      bool
	Code    string // Salesforce's error code when not OK
	Message string
}

// ContactCenters is what the handlers need of Salesforce contact-center
// membership and aliases.
type ContactCenters interface {
	// AddMembers adds users to a contact center (at most MaxAddMembers a
	// request) and
	// returns a result per user.
	AddMembers(ctx context.Context, ccID string, userIDs []string) ([]MemberResult, error)
	// RemoveMember removes a user from a contact center; removing a
	// non-member succeeds.
	RemoveMember(ctx context.Context, ccID, userID string) error
	// SetAlias changes a Salesforce user's alias.
	SetAlias(ctx context.Context, userID, alias string) error
}

// MaxAddMembers is the most users added to a contact center in one
// request: the records of one sObject Collections update of
// User.CallCenterId (reference §4, §5).
const MaxAddMembers = 200

// memberBatcher coalesces the adds of concurrent callers (the worker applies
// users in parallel) into requests of up to MaxAddMembers per contact
// center: the first add opens a batch, which is sent when it is full or
// when window has passed.
type memberBatcher struct {
	cc     ContactCenters
	window time.Duration

	mu      sync.Mutex
	pending map[string]*memberBatch // by contact center
}

type memberBatch struct {
	ids     []string
	waiters []chan memberOutcome
	sent    bool
}

type memberOutcome struct {
	res MemberResult
	err error
}

func newMemberBatcher(cc ContactCenters, window time.Duration) *memberBatcher {
	return &memberBatcher{cc: cc, window: window, pending: map[string]*memberBatch{}}
}

// Add adds one user, in a batch with whatever other users are being added
// to the same contact center at the same time.
func (b *memberBatcher) Add(ctx context.Context, ccID, userID string) (MemberResult, error) {
	ch := make(chan memberOutcome, 1)
	b.mu.Lock()
	batch, ok := b.pending[ccID]
	if !ok {
		batch = &memberBatch{}
		b.pending[ccID] = batch
		time.AfterFunc(b.window, func() { b.flush(ccID, batch) })
	}
	batch.ids = append(batch.ids, userID)
	batch.waiters = append(batch.waiters, ch)
	full := len(batch.ids) >= MaxAddMembers
	if full {
		delete(b.pending, ccID) // closed: the next caller opens a new batch
	}
	b.mu.Unlock()
	if full {
		go b.flush(ccID, batch)
	}
	select {
	case out := <-ch:
		return out.res, out.err
	case <-ctx.Done():
		// The batch goes on; adding is idempotent, so a retry is safe.
		return MemberResult{}, ctx.Err()
	}
}

func (b *memberBatcher) flush(ccID string, batch *memberBatch) {
	b.mu.Lock()
	if batch.sent {
		b.mu.Unlock()
		return
	}
	batch.sent = true
	if b.pending[ccID] == batch {
		delete(b.pending, ccID)
	}
	ids, waiters := batch.ids, batch.waiters
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := b.cc.AddMembers(ctx, ccID, ids)
	byID := make(map[string]MemberResult, len(results))
	for _, r := range results {
		byID[r.UserID] = r
	}
	for i, id := range ids {
		out := memberOutcome{err: err}
		if err == nil {
			r, ok := byID[id]
			if !ok {
				out.err = fmt.Errorf("add %s to contact center %s: no result for the user in Salesforce's reply", id, ccID)
			}
			out.res = r
		}
		waiters[i] <- out
	}
}
