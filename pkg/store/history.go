package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultHistoryLimit is how many history entries are kept per user when
// Options.HistoryLimit is zero.
const DefaultHistoryLimit = 100

// FieldChange is one field of a user that an event changed, old → new. An
// empty Old or New means the field had or has no value.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// HistoryEntry is one line of a user's history: what an event or an
// operator command did to the user, for status and history views. The JSON
// names are the on-disk format.
type HistoryEntry struct {
	At          time.Time     `json:"at"`                    // when it was applied; zero is set to the commit time
	EventID     string        `json:"eventId,omitempty"`     // CloudEvents id of the event or command
	Type        string        `json:"type,omitempty"`        // event type, e.g. salesforce.user.changed or vccsync.command.set-webrtc
	Action      string        `json:"action,omitempty"`      // command action, "" for Salesforce events
	RequestedBy string        `json:"requestedBy,omitempty"` // who asked (commands)
	Reason      string        `json:"reason,omitempty"`      // why (commands)
	Outcome     string        `json:"outcome,omitempty"`     // created, updated, unchanged, archived, refused, dead_lettered, ...
	Changes     []FieldChange `json:"changes,omitempty"`     // fields changed, old → new
	Error       string        `json:"error,omitempty"`       // the error, for a refusal or a failure
	ErrorClass  string        `json:"errorClass,omitempty"`  // dead-letter class of the error: poison, permanent or exhausted
}

// History returns the user's history, newest first: at most limit entries,
// or every entry kept when limit <= 0. A user without history has none (a
// nil slice and no error).
func (db *DB) History(userKey string, limit int) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHistory)
		if hb == nil || userKey == "" {
			return nil
		}
		ub := hb.Bucket([]byte(userKey))
		if ub == nil {
			return nil
		}
		c := ub.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if limit > 0 && len(out) >= limit {
				break
			}
			var e HistoryEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", userKey, err)
	}
	return out, nil
}

// userHistory is the encoded history of one user in a batch.
type userHistory struct {
	key  string
	vals [][]byte
}

// encodeHistory checks and encodes a batch's history, users in key order,
// each user's entries in the order given. A zero At is set to now.
func encodeHistory(h map[string][]HistoryEntry, now time.Time) ([]userHistory, error) {
	keys := make([]string, 0, len(h))
	for k, entries := range h {
		if len(entries) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]userHistory, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			return nil, errors.New("history: empty user key")
		}
		uh := userHistory{key: k, vals: make([][]byte, len(h[k]))}
		for i, e := range h[k] {
			if e.At.IsZero() {
				e.At = now
			}
			v, err := json.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("history of %s: encode entry %d: %w", k, i, err)
			}
			uh.vals[i] = v
		}
		out = append(out, uh)
	}
	return out, nil
}

// appendHistory appends the encoded entries to the user's history bucket
// (created if needed) under the next sequence numbers, then deletes the
// oldest entries beyond limit.
func appendHistory(tx *bolt.Tx, uh userHistory, limit int) error {
	ub, err := tx.Bucket(bucketHistory).CreateBucketIfNotExists([]byte(uh.key))
	if err != nil {
		return fmt.Errorf("create history bucket: %w", err)
	}
	var seq uint64
	for _, v := range uh.vals {
		if seq, err = ub.NextSequence(); err != nil {
			return err
		}
		if err := ub.Put(historyKey(seq), v); err != nil {
			return err
		}
	}
	return trimHistory(ub, seq, limit)
}

// trimHistory deletes every entry whose sequence is at most last-limit, so
// that no more than limit entries remain (last is the newest sequence).
func trimHistory(ub *bolt.Bucket, last uint64, limit int) error {
	if limit <= 0 || last <= uint64(limit) {
		return nil
	}
	cutoff := last - uint64(limit)
	var keys [][]byte
	c := ub.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("malformed history key %x", k)
		}
		if binary.BigEndian.Uint64(k) > cutoff {
			break
		}
		// Keys must not be used after the cursor moves past a deletion; copy them.
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := ub.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// historyKey is the key of the entry with sequence seq: 8 bytes, big-endian,
// so keys sort oldest first.
func historyKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}
