package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Intent records that a user's targets (VCC, Salesforce) may hold writes the
// user's committed state does not show yet: it is opened before the first
// write of an event and closed by the Commit that records a state
// accounting for every such write (Batch.Settled).
type Intent struct {
	At      time.Time `json:"at"`                // when it was opened
	EventID string    `json:"eventId,omitempty"` // the event whose write opened it, if known
}

// OpenIntent records durably that userKey's targets may be about to change,
// unless an intent of the user is open already (the first one is kept). It
// returns once the record is on disk. Concurrent calls are written in one
// transaction (bbolt's Batch), so users applied in parallel share an fsync.
func (db *DB) OpenIntent(userKey string, in Intent) error {
	if userKey == "" {
		return fmt.Errorf("open intent: empty user key")
	}
	if in.At.IsZero() {
		in.At = db.now().UTC()
	}
	v, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("open intent of %s: encode: %w", userKey, err)
	}
	err = db.bolt.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		if b.Get([]byte(userKey)) != nil {
			return nil
		}
		return b.Put([]byte(userKey), v)
	})
	if err != nil {
		return fmt.Errorf("open intent of %s: %w", userKey, err)
	}
	return nil
}

// OpenedIntent returns the user's open intent, and whether there is one.
func (db *DB) OpenedIntent(userKey string) (Intent, bool, error) {
	var (
		in Intent
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketIntents).Get([]byte(userKey))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &in)
	})
	if err != nil {
		return Intent{}, false, fmt.Errorf("read intent of %s: %w", userKey, err)
	}
	return in, ok, nil
}

// LinkUser records at once, in its own transaction, that the Salesforce
// user userKey is linked to the VCC user vccUserID: a user created by a
// step whose batch is not committed yet (or never will be, when a later
// step fails) is found by its link. The rest of the user's state is kept;
// a user with no state yet gets one holding just the link.
func (db *DB) LinkUser(userKey, vccUserID string) error {
	if userKey == "" || vccUserID == "" {
		return fmt.Errorf("link user: user key and VCC user id are required (got %q, %q)", userKey, vccUserID)
	}
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		u, ok, err := getUser(tx, userKey)
		if err != nil {
			return err
		}
		if ok && u.VCCUserID == vccUserID {
			return nil
		}
		if !ok {
			u = UserState{Key: userKey, UpdatedAt: db.now()}
		}
		u.VCCUserID = vccUserID
		return putUser(tx, u, encodeUser(u), false)
	})
	if err != nil {
		return fmt.Errorf("link user %s to VCC user %s: %w", userKey, vccUserID, err)
	}
	return nil
}

// closeIntent deletes the user's intent. It runs in Commit's transaction.
func closeIntent(tx *bolt.Tx, userKey string) error {
	return tx.Bucket(bucketIntents).Delete([]byte(userKey))
}
