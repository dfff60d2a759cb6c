package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Batch is what one Commit records: the ledger entries of the processed
// messages, the resulting user states and the lines they add to the users'
// histories.
type Batch struct {
	Ledger []LedgerEntry
	Users  []UserState
	// AddApplied makes each UserState.Applied in Users an increment: the
	// state is stored with the user's stored count (or the count stored
	// by an earlier state of the user in this batch) plus Applied. Commit
	// reads that count from the head of the record it replaces, so the
	// caller need not read the user first.
	AddApplied bool
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
	ledger := make([]ledgerRecord, len(b.Ledger))
	for i, e := range b.Ledger {
		if e.EventID == "" {
			return fmt.Errorf("commit batch: ledger entry %d: empty event id", i)
		}
		if e.At.IsZero() {
			e.At = now
		}
		ledger[i] = encodeLedger(e)
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
		users[i], userVals[i] = u, encodeUser(u)
	}
	history, err := encodeHistory(b.History, now)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}

	prune := min(max(2*len(b.Ledger), minCommitPrune), maxCommitPrune)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if len(ledger) > 0 {
			lowKey, lowTime := ledger[0].key, ledger[0].time
			for _, r := range ledger[1:] {
				lowKey, lowTime = lowest(lowKey, r.key), lowest(lowTime, r.time)
			}
			fillFor(tx.Bucket(bucketLedger), lowKey)
			fillFor(tx.Bucket(bucketLedgerByTime), lowTime)
		}
		for _, r := range ledger {
			if err := putLedger(tx, r); err != nil {
				return fmt.Errorf("ledger entry %s: %w", r.id, err)
			}
		}
		if len(users) > 0 {
			lowKey, lowVCC := []byte(users[0].Key), []byte(nil)
			for _, u := range users {
				lowKey = lowest(lowKey, []byte(u.Key))
				if u.VCCUserID != "" {
					lowVCC = lowest(lowVCC, vccKey(u.VCCUserID))
				}
			}
			fillFor(tx.Bucket(bucketUsers), lowKey)
			if lowVCC != nil {
				fillFor(tx.Bucket(bucketUsersByVCC), lowVCC)
			}
		}
		for i, u := range users {
			// With AddApplied, putUser adds the count of the record it
			// replaces: an earlier state of the same user in this batch
			// has been written already.
			if err := putUser(tx, u, userVals[i], b.AddApplied); err != nil {
				return fmt.Errorf("user %s: %w", u.Key, err)
			}
		}
		for _, key := range b.Settled {
			if err := closeIntent(tx, key); err != nil {
				return fmt.Errorf("close intent of %s: %w", key, err)
			}
		}
		if len(history) > 0 {
			hb := tx.Bucket(bucketHistory)
			fillFor(hb, []byte(history[0].key)) // users in key order
			for _, uh := range history {
				if err := appendHistory(hb, uh, db.opts.HistoryLimit); err != nil {
					return fmt.Errorf("history of %s: %w", uh.key, err)
				}
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

// lowest returns the lower of two keys, b when a is nil.
func lowest(a, b []byte) []byte {
	if a == nil || bytes.Compare(b, a) < 0 {
		return b
	}
	return a
}
