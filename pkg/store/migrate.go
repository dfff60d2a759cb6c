package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The buckets of schema version 1 that version 2 replaced. Open moves
// their records to the version 2 buckets (see doc.go).
var (
	v1Users        = []byte("users")          // user ID → UserState (JSON)
	v1UsersByVCC   = []byte("users_by_vcc")   // VCC user id → user ID
	v1Ledger       = []byte("ledger")         // event id → LedgerEntry (JSON)
	v1LedgerByTime = []byte("ledger_by_time") // 8-byte time ‖ event id → empty
	v1History      = []byte("history")        // user ID → bucket of sequence → HistoryEntry (JSON)

	v1Buckets = [][]byte{v1Users, v1UsersByVCC, v1Ledger, v1LedgerByTime, v1History}
)

// migrateChunk is how many version 1 records one migration transaction
// moves at most, so that a large file is migrated in bounded memory.
var migrateChunk = 4096

// hasV1 reports whether a bucket of version 1 is left.
func hasV1(tx *bolt.Tx) bool {
	for _, name := range v1Buckets {
		if tx.Bucket(name) != nil {
			return true
		}
	}
	return false
}

// migrateV1 moves the records of schema version 1 to the buckets of
// version 2, in write transactions of up to migrateChunk records each.
// Each transaction moves records (writes them to the new buckets and
// deletes them from the old), so an interrupted migration resumes where
// it stopped on the next Open. Ledger entries recorded before the
// retention are dropped rather than moved.
func (db *DB) migrateV1() error {
	cutoff := db.now().Add(-db.opts.LedgerRetention)
	for {
		var done bool
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			var err error
			done, err = migrateStep(tx, cutoff, db.opts.HistoryLimit)
			return err
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateStep moves up to migrateChunk records of version 1, in this
// order: the users, the VCC-id index, the ledger, the histories; it
// deletes each version 1 bucket once it is empty, and the ledger's time
// index (rebuilt from the entries) at once. It reports whether nothing of
// version 1 is left.
func migrateStep(tx *bolt.Tx, cutoff time.Time, historyLimit int) (bool, error) {
	if tx.Bucket(v1LedgerByTime) != nil {
		if err := tx.DeleteBucket(v1LedgerByTime); err != nil {
			return false, fmt.Errorf("delete bucket %s: %w", v1LedgerByTime, err)
		}
	}
	steps := []struct {
		name []byte
		move func(tx *bolt.Tx, old *bolt.Bucket) (int, error)
	}{
		{v1Users, moveUsers},
		{v1UsersByVCC, moveVCCIndex},
		{v1Ledger, func(tx *bolt.Tx, old *bolt.Bucket) (int, error) { return moveLedger(tx, old, cutoff) }},
		{v1History, func(tx *bolt.Tx, old *bolt.Bucket) (int, error) { return moveHistory(tx, old, historyLimit) }},
	}
	for _, st := range steps {
		old := tx.Bucket(st.name)
		if old == nil {
			continue
		}
		n, err := st.move(tx, old)
		if err != nil {
			return false, fmt.Errorf("bucket %s: %w", st.name, err)
		}
		if n > 0 {
			return false, nil
		}
		if err := tx.DeleteBucket(st.name); err != nil {
			return false, fmt.Errorf("delete bucket %s: %w", st.name, err)
		}
	}
	return true, nil
}

// moveUsers moves users from the version 1 bucket (JSON) to users_v2.
func moveUsers(tx *bolt.Tx, old *bolt.Bucket) (int, error) {
	type rec struct {
		key []byte
		val []byte
	}
	var recs []rec
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(recs) < migrateChunk; k, v = c.Next() {
		if v == nil {
			return 0, fmt.Errorf("user %q: a bucket, want a record", k)
		}
		var u UserState
		if err := json.Unmarshal(v, &u); err != nil {
			return 0, fmt.Errorf("decode user %s: %w", k, err)
		}
		u.Key = string(k)
		recs = append(recs, rec{bytes.Clone(k), encodeUser(u)})
	}
	if len(recs) == 0 {
		return 0, nil
	}
	users := tx.Bucket(bucketUsers)
	fillFor(users, recs[0].key)
	for _, r := range recs {
		if err := users.Put(r.key, r.val); err != nil {
			return 0, err
		}
		if err := old.Delete(r.key); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

// moveVCCIndex moves the VCC-id index to users_by_vcc_v2, rewriting its keys.
func moveVCCIndex(tx *bolt.Tx, old *bolt.Bucket) (int, error) {
	var keys, vals [][]byte
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(keys) < migrateChunk; k, v = c.Next() {
		if v == nil {
			return 0, fmt.Errorf("VCC user %q: a bucket, want a record", k)
		}
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
	}
	byVCC := tx.Bucket(bucketUsersByVCC)
	for i, k := range keys {
		if err := byVCC.Put(vccKey(string(k)), vals[i]); err != nil {
			return 0, err
		}
		if err := old.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// moveLedger moves ledger entries to ledger_v2 and its time index,
// dropping those recorded before cutoff.
func moveLedger(tx *bolt.Tx, old *bolt.Bucket, cutoff time.Time) (int, error) {
	var (
		keys [][]byte
		recs []ledgerRecord
	)
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(keys) < migrateChunk; k, v = c.Next() {
		if v == nil {
			return 0, fmt.Errorf("ledger entry %q: a bucket, want a record", k)
		}
		var e LedgerEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, fmt.Errorf("decode ledger entry %s: %w", k, err)
		}
		keys = append(keys, bytes.Clone(k))
		if e.At.Before(cutoff) {
			continue
		}
		e.EventID = string(k)
		recs = append(recs, encodeLedger(e))
	}
	for _, r := range recs {
		if err := putLedger(tx, r); err != nil {
			return 0, fmt.Errorf("ledger entry %s: %w", r.id, err)
		}
	}
	for _, k := range keys {
		if err := old.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// moveHistory moves whole users' histories (at least one user, about
// migrateChunk entries) to history_v2, in the order they were appended.
func moveHistory(tx *bolt.Tx, old *bolt.Bucket, limit int) (int, error) {
	var (
		users []userHistory
		n     int
	)
	c := old.Cursor()
	for k, v := c.First(); k != nil && n < migrateChunk; k, v = c.Next() {
		ub := old.Bucket(k)
		if v != nil || ub == nil {
			return 0, fmt.Errorf("history of %q: a record, want a bucket", k)
		}
		uh := userHistory{key: string(k)}
		err := ub.ForEach(func(hk, hv []byte) error {
			if hv == nil {
				return fmt.Errorf("history of %s: entry %x: a bucket, want a record", k, hk)
			}
			var e HistoryEntry
			if err := json.Unmarshal(hv, &e); err != nil {
				return fmt.Errorf("history of %s: decode entry %x: %w", k, hk, err)
			}
			uh.entries = append(uh.entries, encodedEntry{at: e.At, body: encodeHistoryEntry(uh.key, e)})
			return nil
		})
		if err != nil {
			return 0, err
		}
		users = append(users, uh)
		n += 1 + len(uh.entries)
	}
	if len(users) == 0 {
		return 0, nil
	}
	hb := tx.Bucket(bucketHistory)
	fillFor(hb, []byte(users[0].key))
	for _, uh := range users {
		if uh.key == "" {
			return 0, fmt.Errorf("history of an empty user key")
		}
		if err := appendHistory(hb, uh, limit); err != nil {
			return 0, fmt.Errorf("history of %s: %w", uh.key, err)
		}
		if err := old.DeleteBucket([]byte(uh.key)); err != nil {
			return 0, fmt.Errorf("history of %s: delete version 1 bucket: %w", uh.key, err)
		}
	}
	return len(users), nil
}
