package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LedgerEntry records that an event (by its CloudEvents id) was processed.
// The ledger keeps a hash of EventID, Outcome and At: UserKey is not
// stored (since schema version 2), and Seen returns it empty.
type LedgerEntry struct {
	EventID string    `json:"eventId"`
	UserKey string    `json:"userKey,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
	At      time.Time `json:"at"`
}

// Seen returns the ledger entry of eventID, and whether there is one. The
// entry's EventID is eventID, its UserKey empty.
func (db *DB) Seen(eventID string) (LedgerEntry, bool, error) {
	var (
		e  LedgerEntry
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if eventID == "" {
			return nil
		}
		v := tx.Bucket(bucketLedger).Get(ledgerKey(eventID))
		if v == nil {
			return nil
		}
		var err error
		e, err = decodeLedger(eventID, v)
		ok = err == nil
		return err
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

// ledgerHashLen is the length of a ledger key: the first 16 bytes of the
// SHA-256 of the event id (see doc.go for the odds of a collision).
const ledgerHashLen = 16

// ledgerKey is the ledger_v2 key of an event id.
func ledgerKey(eventID string) []byte {
	h := sha256.Sum256([]byte(eventID))
	return h[:ledgerHashLen]
}

// timeKey is the ledger_by_time_v2 key of an entry: the big-endian
// nanoseconds of its time (so keys sort by time), then its ledger key.
func timeKey(ns uint64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, ns)
	return append(k, key...)
}

// maxNanos is the last time whose UnixNano fits an int64.
var maxNanos = time.Unix(0, math.MaxInt64)

// nanos returns t's nanoseconds since the epoch for a key: 0 for the zero
// time and times before 1970, math.MaxInt64 after 2262.
func nanos(t time.Time) uint64 {
	switch {
	case t.IsZero() || t.Before(time.Unix(0, 0)):
		return 0
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// exact reports whether ns stands for t exactly.
func exact(ns uint64, t time.Time) bool {
	return !t.IsZero() && time.Unix(0, int64(ns)).Equal(t)
}

// ledgerRecord is an encoded ledger entry.
type ledgerRecord struct {
	id   string // event id, for errors
	key  []byte // ledgerKey
	ns   uint64 // time-index nanoseconds
	val  []byte
	time []byte // timeKey
}

// encodeLedger encodes e: the value is the 8-byte big-endian time of its
// time-index key, the outcome (sym, outcomeTable) and, only when the
// nanoseconds do not give At exactly (before 1970, after 2262, zero), At.
func encodeLedger(e LedgerEntry) ledgerRecord {
	r := ledgerRecord{id: e.EventID, key: ledgerKey(e.EventID), ns: nanos(e.At)}
	w := enc{b: make([]byte, 8, 16)}
	binary.BigEndian.PutUint64(w.b, r.ns)
	w.sym(e.Outcome, outcomeTable)
	if !exact(r.ns, e.At) {
		w.time(e.At)
	}
	r.val, r.time = w.b, timeKey(r.ns, r.key)
	return r
}

func decodeLedger(eventID string, v []byte) (LedgerEntry, error) {
	if len(v) < 9 {
		return LedgerEntry{}, fmt.Errorf("ledger entry %s: %d bytes, want at least 9", eventID, len(v))
	}
	ns := binary.BigEndian.Uint64(v)
	d := dec{b: v[8:]}
	e := LedgerEntry{EventID: eventID, Outcome: d.sym(outcomeTable)}
	if len(d.b) > 0 {
		e.At = d.time()
	} else {
		e.At = time.Unix(0, int64(ns)).UTC()
	}
	if err := d.end(); err != nil {
		return LedgerEntry{}, fmt.Errorf("ledger entry %s: %w", eventID, err)
	}
	return e, nil
}

// putLedger records r, replacing an earlier entry for the same event id
// and its time-index key.
func putLedger(tx *bolt.Tx, r ledgerRecord) error {
	ledger, byTime := tx.Bucket(bucketLedger), tx.Bucket(bucketLedgerByTime)
	if old := ledger.Get(r.key); old != nil {
		if len(old) < 8 {
			return fmt.Errorf("ledger entry %x: %d bytes, want at least 9", r.key, len(old))
		}
		if err := byTime.Delete(timeKey(binary.BigEndian.Uint64(old), r.key)); err != nil {
			return err
		}
	}
	if err := ledger.Put(r.key, r.val); err != nil {
		return err
	}
	return byTime.Put(r.time, nil)
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
		if len(k) != 8+ledgerHashLen {
			return 0, fmt.Errorf("malformed ledger time key %x", k)
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
