package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LedgerEntry records that an event (by its CloudEvents id) was processed.
type LedgerEntry struct {
	EventID string    `json:"eventId"`
	UserKey string    `json:"userKey,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
	At      time.Time `json:"at"`
}

// Seen returns the ledger entry of eventID, and whether there is one.
func (db *DB) Seen(eventID string) (LedgerEntry, bool, error) {
	var (
		e  LedgerEntry
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLedger).Get([]byte(eventID))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &e)
	})
	if err != nil {
		return LedgerEntry{}, false, fmt.Errorf("read ledger entry %s: %w", eventID, err)
	}
	return e, ok, nil
}

// PruneLedger deletes up to max ledger entries recorded before the given
// time, oldest first, in one write transaction, and returns how many it
// deleted. max <= 0 means no limit.
func (db *DB) PruneLedger(before time.Time, max int) (int, error) {
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = pruneLedger(tx, before, max)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune ledger: %w", err)
	}
	return n, nil
}

// timeKey is the ledger_by_time key of an entry: the big-endian
// nanoseconds since the epoch of At (so keys sort by time), then the event id.
func timeKey(at time.Time, eventID string) []byte {
	k := make([]byte, 8+len(eventID))
	binary.BigEndian.PutUint64(k, nanos(at))
	copy(k[8:], eventID)
	return k
}

func nanos(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 || t.IsZero() {
		return 0
	}
	return uint64(n)
}

// putLedger records e (encoded as v), replacing an earlier entry for the
// same event id and its time-index key.
func putLedger(tx *bolt.Tx, e LedgerEntry, v []byte) error {
	ledger, byTime := tx.Bucket(bucketLedger), tx.Bucket(bucketLedgerByTime)
	id := []byte(e.EventID)
	if old := ledger.Get(id); old != nil {
		var o LedgerEntry
		if err := json.Unmarshal(old, &o); err != nil {
			return fmt.Errorf("decode ledger entry %s: %w", e.EventID, err)
		}
		if err := byTime.Delete(timeKey(o.At, o.EventID)); err != nil {
			return err
		}
	}
	if err := ledger.Put(id, v); err != nil {
		return err
	}
	return byTime.Put(timeKey(e.At, e.EventID), nil)
}

// pruneLedger deletes up to max entries (no limit if max <= 0) older than
// before, walking the time index from its oldest key.
func pruneLedger(tx *bolt.Tx, before time.Time, max int) (int, error) {
	ledger, byTime := tx.Bucket(bucketLedger), tx.Bucket(bucketLedgerByTime)
	limit := nanos(before)
	var keys [][]byte
	c := byTime.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if max > 0 && len(keys) >= max {
			break
		}
		if len(k) < 8 {
			return 0, errors.New("malformed ledger time key")
		}
		if binary.BigEndian.Uint64(k) >= limit {
			break
		}
		// Keys are only valid for the life of the transaction and must not
		// be used after the cursor moves past a deletion; copy them.
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := byTime.Delete(k); err != nil {
			return 0, err
		}
		if err := ledger.Delete(k[8:]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
