package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Batch is what one Commit records: the ledger entries of the processed
// messages and the resulting user states.
type Batch struct {
	Ledger []LedgerEntry
	Users  []UserState
}

// Pruning bounds per Commit: twice the batch's ledger entries, at least
// minCommitPrune, at most maxCommitPrune. Twice the intake means the
// backlog of expired entries shrinks on every commit.
const (
	minCommitPrune = 64
	maxCommitPrune = 4096
)

// Commit records a batch in one write transaction: every ledger entry and
// user state, or none of them. Entries and states are written in order, so
// a later state of the same user wins. A zero LedgerEntry.At or
// UserState.UpdatedAt is set to the commit time. The same transaction
// deletes a bounded number of ledger entries older than the retention,
// oldest first, so that pruning never makes one commit slow. An empty
// batch does nothing.
func (db *DB) Commit(b Batch) error {
	if len(b.Ledger) == 0 && len(b.Users) == 0 {
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

	prune := min(max(2*len(b.Ledger), minCommitPrune), maxCommitPrune)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
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
