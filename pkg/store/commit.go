package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Batch is what one Commit records: the ledger entries of the processed
// messages, the resulting user states and the lines they add to the users'
// histories.
type Batch struct {
	Ledger []LedgerEntry
	Users  []UserState
	// History maps a user key (the Salesforce user ID, as in UserState.Key)
	// to the entries to append to that user's history, oldest first. Users
	// are written in key order; a user's entries in slice order.
	History map[string][]HistoryEntry
	// Settled lists users whose state in this batch accounts for every
	// write made to their targets: their open intents are closed.
	Settled []string
}

// Pruning bounds per Commit: twice the batch's ledger entries, at least
// minCommitPrune, at most maxCommitPrune. Twice the intake means the
// backlog of expired entries shrinks on every commit.
const (
	minCommitPrune = 64
	maxCommitPrune = 4096
)

// Commit records a batch in one write transaction: every ledger entry,
// user state and history entry, and the closing of the settled users'
// intents, or none of them. Entries and states are
// written in order, so a later state of the same user wins. History entries
// are appended to each user's history, which then keeps only the newest
// Options.HistoryLimit entries. A zero LedgerEntry.At, UserState.UpdatedAt
// or HistoryEntry.At is set to the commit time. The same transaction
// deletes a bounded number of ledger entries older than the retention,
// oldest first, so that pruning never makes one commit slow. An empty
// batch does nothing.
func (db *DB) Commit(b Batch) error {
	if len(b.Ledger) == 0 && len(b.Users) == 0 && !hasHistory(b.History) && len(b.Settled) == 0 {
		return nil
	}
	now := db.now()

	// Encode outside the transaction to keep the write lock short.
	ledger := make([]LedgerEntry, len(b.Ledger))
	ledgerVals := make([][]byte, len(b.Ledger))
	for i, e := range b.Ledger {
		if e.EventID == "" {
			return fmt.Errorf("commit batch: ledger entry %d: empty event id", i)
		}
		if e.At.IsZero() {
			e.At = now
		}
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("commit batch: encode ledger entry %s: %w", e.EventID, err)
		}
		ledger[i], ledgerVals[i] = e, v
	}
	users := make([]UserState, len(b.Users))
	userVals := make([][]byte, len(b.Users))
	for i, u := range b.Users {
		if u.Key == "" {
			return fmt.Errorf("commit batch: user state %d: empty key", i)
		}
		if u.UpdatedAt.IsZero() {
			u.UpdatedAt = now
		}
		v, err := json.Marshal(u)
		if err != nil {
			return fmt.Errorf("commit batch: encode user %s: %w", u.Key, err)
		}
		users[i], userVals[i] = u, v
	}
	history, err := encodeHistory(b.History, now)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}

	prune := min(max(2*len(b.Ledger), minCommitPrune), maxCommitPrune)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for i, e := range ledger {
			if err := putLedger(tx, e, ledgerVals[i]); err != nil {
				return fmt.Errorf("ledger entry %s: %w", e.EventID, err)
			}
		}
		for i, u := range users {
			if err := putUser(tx, u, userVals[i]); err != nil {
				return fmt.Errorf("user %s: %w", u.Key, err)
			}
		}
		for _, key := range b.Settled {
			if err := closeIntent(tx, key); err != nil {
				return fmt.Errorf("close intent of %s: %w", key, err)
			}
		}
		for _, uh := range history {
			if err := appendHistory(tx, uh, db.opts.HistoryLimit); err != nil {
				return fmt.Errorf("history of %s: %w", uh.key, err)
			}
		}
		if _, err := pruneLedger(tx, now.Add(-db.opts.LedgerRetention), prune); err != nil {
			return fmt.Errorf("prune ledger: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

func hasHistory(h map[string][]HistoryEntry) bool {
	for _, entries := range h {
		if len(entries) > 0 {
			return true
		}
	}
	return false
}
