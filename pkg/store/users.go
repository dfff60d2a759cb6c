package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vccsync/vccsync/pkg/events"
)

// UserState is what vccsync knows about one Salesforce user, keyed by the
// 18-character Salesforce user ID. The JSON names are the on-disk format.
type UserState struct {
	Key         string            `json:"key"`                   // Salesforce user ID (18)
	VCCUserID   string            `json:"vccUserId,omitempty"`   // link to the VCC user, "" if none
	Checkpoint  time.Time         `json:"checkpoint"`            // last applied Salesforce timestamp (SystemModstamp / LastModifiedDate)
	LastEventID string            `json:"lastEventId,omitempty"` // id of the last event applied
	Snapshot    events.User       `json:"snapshot"`              // merged last known Salesforce user
	Synced      map[string]string `json:"synced,omitempty"`      // what vccsync last wrote/saw in VCC, field → value
	AgentID     string            `json:"agentId,omitempty"`     // agent ID of the VCC user
	Outcome     string            `json:"outcome,omitempty"`     // last outcome (created, updated, archived, unchanged, ...)
	LastError   string            `json:"lastError,omitempty"`   // last error, "" after a success
	UpdatedAt   time.Time         `json:"updatedAt"`             // when this state was committed
	Applied     int64             `json:"applied"`               // count of events applied for this user
}

// User returns the state of the user with the given key, and whether there
// is one.
func (db *DB) User(key string) (UserState, bool, error) {
	var (
		u  UserState
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		u, ok, err = getUser(tx, key)
		return err
	})
	if err != nil {
		return UserState{}, false, fmt.Errorf("read user %s: %w", key, err)
	}
	return u, ok, nil
}

// UserByVCCID returns the state of the user linked to the VCC user
// vccUserID, and whether there is one.
func (db *DB) UserByVCCID(vccUserID string) (UserState, bool, error) {
	var (
		u  UserState
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if vccUserID == "" {
			return nil
		}
		key := tx.Bucket(bucketUsersByVCC).Get([]byte(vccUserID))
		if key == nil {
			return nil
		}
		var err error
		u, ok, err = getUser(tx, string(key))
		return err
	})
	if err != nil {
		return UserState{}, false, fmt.Errorf("read user by vcc id %s: %w", vccUserID, err)
	}
	return u, ok, nil
}

// ForEachUser calls fn for every user state, in key order, inside one read
// transaction; it stops at and returns the first error fn returns. fn must
// not write to the store (a write waiting on the read transaction can
// deadlock when the file grows).
func (db *DB) ForEachUser(fn func(UserState) error) error {
	var fnErr error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u UserState
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode user %s: %w", k, err)
			}
			if err := fn(u); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("iterate users: %w", err)
	}
	return nil
}

func getUser(tx *bolt.Tx, key string) (UserState, bool, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(key))
	if v == nil {
		return UserState{}, false, nil
	}
	var u UserState
	if err := json.Unmarshal(v, &u); err != nil {
		return UserState{}, false, fmt.Errorf("decode user %s: %w", key, err)
	}
	return u, true, nil
}

// putUser stores u (encoded as v) and keeps the VCC-ID index in step: the
// old link is removed when it pointed at this user, the new one is set.
func putUser(tx *bolt.Tx, u UserState, v []byte) error {
	users, byVCC := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByVCC)
	key := []byte(u.Key)
	var old struct {
		VCCUserID string `json:"vccUserId"`
	}
	if v := users.Get(key); v != nil {
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("decode user %s: %w", u.Key, err)
		}
	}
	if old.VCCUserID != "" && old.VCCUserID != u.VCCUserID {
		if string(byVCC.Get([]byte(old.VCCUserID))) == u.Key {
			if err := byVCC.Delete([]byte(old.VCCUserID)); err != nil {
				return err
			}
		}
	}
	if u.VCCUserID != "" {
		if err := byVCC.Put([]byte(u.VCCUserID), key); err != nil {
			return err
		}
	}
	return users.Put(key, v)
}
