package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// psMerge gathers the changes of one PublishMerged transaction.
type psMerge struct {
	tx      *psTx
	changes []psChange
}

// PublishMerged makes the same change to several users in one
// transaction, as an administrator's mass update would, and publishes it
// as Salesforce does: one UPDATE whose recordIds name every user the
// change left with the same changed fields and values (a merged event),
// instead of an event per user. change is applied to each user as by
// [Salesforce.ModifyUser] (its record rules apply); all of them get the
// same LastModifiedDate. A user the change leaves as it was gets no
// event; users whose changes differ get one event per distinct change,
// in the transaction's sequence. A user the org refuses the change for is
// reported in the error and left out.
func (p *PubSub) PublishMerged(change func(*SFUser), userIDs ...string) error {
	ids, err := p.orgUserIDs(userIDs)
	if err != nil {
		return fmt.Errorf("pubsub: publish merged: %w", err)
	}
	// One LastModifiedDate for the transaction, after every user's own.
	stamp := p.sf.now().UTC().Truncate(time.Millisecond)
	for _, id := range ids {
		if u, ok := p.sf.User(id); ok && !stamp.After(u.SystemModstamp) {
			stamp = u.SystemModstamp.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
		}
	}

	p.mu.Lock()
	for _, id := range ids {
		if p.merging[id] != nil {
			p.mu.Unlock()
			return fmt.Errorf("pubsub: publish merged: user %s is already in a merge under way", id)
		}
	}
	m := &psMerge{tx: p.newTxLocked(psSetupOrigin, psSetupUserID)}
	for _, id := range ids {
		p.merging[id] = m
	}
	p.mu.Unlock()

	var errs []error
	for _, id := range ids {
		err := p.sf.ModifyUser(id, func(u *SFUser) {
			change(u)
			u.LastModifiedDate, u.SystemModstamp = stamp, stamp
		})
		if err != nil {
			errs = append(errs, err)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		delete(p.merging, id)
	}
	var order []string
	groups := map[string][]psChange{}
	for _, c := range m.changes {
		k := psChangeKey(c)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		g := groups[k]
		recordIDs := make([]string, len(g))
		for i, c := range g {
			recordIDs[i] = c.userID
		}
		m.tx.seq++
		p.appendChangeLocked(m.tx, recordIDs, g[0])
	}
	if len(errs) > 0 {
		return fmt.Errorf("pubsub: publish merged: %w", errors.Join(errs...))
	}
	return nil
}

// psChangeKey identifies a change by its changed fields and their values,
// the user aside: changes with the same key merge into one event.
func psChangeKey(c psChange) string {
	var b strings.Builder
	for _, path := range c.changed {
		if path == psPathLastModifiedByID {
			continue // the same commit user for the whole transaction
		}
		fmt.Fprintf(&b, "%s=%#v;", path, c.vals[path])
	}
	return b.String()
}
