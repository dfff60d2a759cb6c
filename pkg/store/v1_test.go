package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// v1Store writes files of schema version 1 the way vccsync did before
// version 2: the code of that version's Commit, trimmed to what the
// migration tests and the size benchmark's baseline need. Users, ledger
// and history are JSON; each user's history is a nested bucket keyed by
// sequence; the ledger is keyed by event id with a time index.
type v1Store struct {
	bolt      *bolt.DB
	limit     int
	retention time.Duration
}

// openV1 creates a file of schema version 1 at path.
func openV1(tb testing.TB, path string, noSync bool) *v1Store {
	tb.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: time.Second, NoSync: noSync, FreelistType: bolt.FreelistMapType, NoFreelistSync: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		names := [][]byte{bucketMeta, v1Ledger, v1LedgerByTime, v1Users, v1UsersByVCC, bucketAgentIDs,
			bucketAgentByUser, bucketAgentFloor, bucketAgentFree, bucketSagas, v1History, bucketIntents}
		for _, name := range names {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("1"))
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &v1Store{bolt: b, limit: DefaultHistoryLimit, retention: 30 * 24 * time.Hour}
}

func (s *v1Store) close(tb testing.TB) {
	tb.Helper()
	if err := s.bolt.Close(); err != nil {
		tb.Fatal(err)
	}
}

// commit is version 1's DB.Commit.
func (s *v1Store) commit(b Batch, now time.Time) error {
	ledger := make([]LedgerEntry, len(b.Ledger))
	ledgerVals := make([][]byte, len(b.Ledger))
	for i, e := range b.Ledger {
		if e.At.IsZero() {
			e.At = now
		}
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		ledger[i], ledgerVals[i] = e, v
	}
	users := make([]UserState, len(b.Users))
	userVals := make([][]byte, len(b.Users))
	for i, u := range b.Users {
		if u.UpdatedAt.IsZero() {
			u.UpdatedAt = now
		}
		v, err := json.Marshal(u)
		if err != nil {
			return err
		}
		users[i], userVals[i] = u, v
	}
	keys := make([]string, 0, len(b.History))
	for k := range b.History {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return s.bolt.Update(func(tx *bolt.Tx) error {
		for i, e := range ledger {
			if err := v1PutLedger(tx, e, ledgerVals[i]); err != nil {
				return err
			}
		}
		for i, u := range users {
			if err := v1PutUser(tx, u, userVals[i]); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := v1AppendHistory(tx, k, b.History[k], now, s.limit); err != nil {
				return err
			}
		}
		prune := min(max(2*len(b.Ledger), minCommitPrune), maxCommitPrune)
		return v1PruneLedger(tx, now.Add(-s.retention), prune)
	})
}

func v1TimeKey(at time.Time, eventID string) []byte {
	k := make([]byte, 8+len(eventID))
	binary.BigEndian.PutUint64(k, nanos(at))
	copy(k[8:], eventID)
	return k
}

func v1PutLedger(tx *bolt.Tx, e LedgerEntry, v []byte) error {
	ledger, byTime := tx.Bucket(v1Ledger), tx.Bucket(v1LedgerByTime)
	if old := ledger.Get([]byte(e.EventID)); old != nil {
		var o LedgerEntry
		if err := json.Unmarshal(old, &o); err != nil {
			return err
		}
		if err := byTime.Delete(v1TimeKey(o.At, o.EventID)); err != nil {
			return err
		}
	}
	if err := ledger.Put([]byte(e.EventID), v); err != nil {
		return err
	}
	return byTime.Put(v1TimeKey(e.At, e.EventID), nil)
}

func v1PruneLedger(tx *bolt.Tx, before time.Time, max int) error {
	ledger, byTime := tx.Bucket(v1Ledger), tx.Bucket(v1LedgerByTime)
	var keys [][]byte
	c := byTime.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < max; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k) >= nanos(before) {
			break
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := byTime.Delete(k); err != nil {
			return err
		}
		if err := ledger.Delete(k[8:]); err != nil {
			return err
		}
	}
	return nil
}

func v1PutUser(tx *bolt.Tx, u UserState, v []byte) error {
	users, byVCC := tx.Bucket(v1Users), tx.Bucket(v1UsersByVCC)
	key := []byte(u.Key)
	var old struct {
		VCCUserID string `json:"vccUserId"`
	}
	if v := users.Get(key); v != nil {
		if err := json.Unmarshal(v, &old); err != nil {
			return err
		}
	}
	if old.VCCUserID != "" && old.VCCUserID != u.VCCUserID && string(byVCC.Get([]byte(old.VCCUserID))) == u.Key {
		if err := byVCC.Delete([]byte(old.VCCUserID)); err != nil {
			return err
		}
	}
	if u.VCCUserID != "" {
		if err := byVCC.Put([]byte(u.VCCUserID), key); err != nil {
			return err
		}
	}
	return users.Put(key, v)
}

func v1AppendHistory(tx *bolt.Tx, key string, entries []HistoryEntry, now time.Time, limit int) error {
	if len(entries) == 0 {
		return nil
	}
	if key == "" {
		return errors.New("history: empty user key")
	}
	ub, err := tx.Bucket(v1History).CreateBucketIfNotExists([]byte(key))
	if err != nil {
		return err
	}
	var seq uint64
	for _, e := range entries {
		if e.At.IsZero() {
			e.At = now
		}
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if seq, err = ub.NextSequence(); err != nil {
			return err
		}
		if err := ub.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
	}
	if limit <= 0 || seq <= uint64(limit) {
		return nil
	}
	cutoff := seq - uint64(limit)
	var keys [][]byte
	c := ub.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= cutoff; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := ub.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// reserveAgentIDs records agent-ID reservations (user key → ID), as both
// versions do.
func (s *v1Store) reserveAgentIDs(pairs map[string]string) error {
	return s.bolt.Update(func(tx *bolt.Tx) error {
		for _, k := range slices.Sorted(maps.Keys(pairs)) {
			if err := reserve(tx, k, pairs[k]); err != nil {
				return err
			}
		}
		return nil
	})
}

// put writes raw records in a bucket that both versions share.
func (s *v1Store) put(bucket []byte, kv map[string]any) error {
	return s.bolt.Update(func(tx *bolt.Tx) error {
		for k, v := range kv {
			var raw []byte
			switch v := v.(type) {
			case string:
				raw = []byte(v)
			default:
				var err error
				if raw, err = json.Marshal(v); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucket).Put([]byte(k), raw); err != nil {
				return fmt.Errorf("put %s/%s: %w", bucket, k, err)
			}
		}
		return nil
	})
}

// v1Contents is what version 1 reads from its file: every user, ledger
// entry and history (newest first), decoded as that version did.
type v1Contents struct {
	users   map[string]UserState
	ledger  map[string]LedgerEntry
	history map[string][]HistoryEntry
	byVCC   map[string]string
}

func (s *v1Store) contents(tb testing.TB) v1Contents {
	tb.Helper()
	c := v1Contents{users: map[string]UserState{}, ledger: map[string]LedgerEntry{},
		history: map[string][]HistoryEntry{}, byVCC: map[string]string{}}
	err := s.bolt.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(v1Users).ForEach(func(k, v []byte) error {
			var u UserState
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			c.users[string(k)] = u
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(v1UsersByVCC).ForEach(func(k, v []byte) error {
			c.byVCC[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(v1Ledger).ForEach(func(k, v []byte) error {
			var e LedgerEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			c.ledger[string(k)] = e
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(v1History).ForEachBucket(func(k []byte) error {
			cur := tx.Bucket(v1History).Bucket(k).Cursor()
			for hk, hv := cur.Last(); hk != nil; hk, hv = cur.Prev() {
				var e HistoryEntry
				if err := json.Unmarshal(hv, &e); err != nil {
					return err
				}
				c.history[string(k)] = append(c.history[string(k)], e)
			}
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
