package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// maxAgentScan bounds the candidates one ReserveAgentID call examines, so a
// predicate that reports everything in use fails instead of spinning.
const maxAgentScan = 1 << 20

// ReserveAgentID returns the agent ID reserved for userKey, reserving one
// first if there is none. A new reservation is the lowest n >= start that
// is not reserved for another user and for which inUse(strconv.Itoa(n)) is
// false. It is recorded durably in its own write transaction before
// ReserveAgentID returns, so a crash after the VCC user was created with it
// reuses the same ID.
//
// The search does not start at start every time, so that accounts with
// tens of thousands of agents do not pay for their size on each call. A
// floor per start value remembers where the last search ended: every ID
// below it was found reserved or in use. IDs released since (ReleaseAgentID,
// or a ClaimAgentID that replaced a reservation) are kept in a sorted list
// and tried first; then the search resumes at the floor, skipping reserved
// IDs with a cursor over the sorted reservations and asking inUse about the
// others. An ID that inUse reported in use is not offered again even if it
// is later freed in VCC (reusing a deleted agent's ID would mix two agents
// in reports).
//
// inUse may be nil (nothing in use). It is called inside the write
// transaction: it must be fast and must not use the store. ReserveAgentID
// returns an error wrapping ErrNoFreeAgentID when no ID is found.
func (db *DB) ReserveAgentID(userKey string, start int, inUse func(id string) bool) (string, error) {
	if userKey == "" {
		return "", errors.New("reserve agent id: empty user key")
	}
	if start < 0 {
		return "", fmt.Errorf("reserve agent id: negative start %d", start)
	}
	if inUse == nil {
		inUse = func(string) bool { return false }
	}
	var id string
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		ids, byUser, floors := tx.Bucket(bucketAgentIDs), tx.Bucket(bucketAgentByUser), tx.Bucket(bucketAgentFloor)
		if v := byUser.Get([]byte(userKey)); v != nil {
			id = string(v)
			return nil
		}
		floorKey := []byte(strconv.Itoa(start))
		floor := start
		if v := floors.Get(floorKey); v != nil {
			f, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("agent id floor %q: %w", v, err)
			}
			floor = max(floor, f)
		}
		n, ok, err := reuseReleased(tx, start, floor, inUse)
		if err != nil {
			return err
		}
		if !ok {
			if n, err = searchFrom(ids, floor, inUse); err != nil {
				return fmt.Errorf("%w from %d: %w", ErrNoFreeAgentID, start, err)
			}
			if err := floors.Put(floorKey, []byte(strconv.Itoa(n+1))); err != nil {
				return err
			}
		}
		id = strconv.Itoa(n)
		if err := tx.Bucket(bucketAgentFree).Delete(numKey(n)); err != nil {
			return err
		}
		return reserve(tx, userKey, id)
	})
	if err != nil {
		return "", fmt.Errorf("reserve agent id for %s: %w", userKey, err)
	}
	return id, nil
}

// reuseReleased returns the lowest released ID in [start, floor) that is
// neither reserved nor in use. Released IDs it finds taken are dropped from
// the list.
func reuseReleased(tx *bolt.Tx, start, floor int, inUse func(string) bool) (int, bool, error) {
	ids, free := tx.Bucket(bucketAgentIDs), tx.Bucket(bucketAgentFree)
	var taken [][]byte
	found, n := false, 0
	c := free.Cursor()
	for k, _ := c.Seek(numKey(start)); k != nil && isNumKey(k); k, _ = c.Next() {
		v, err := strconv.Atoi(string(k[1:]))
		if err != nil {
			return 0, false, fmt.Errorf("released agent id key %q: %w", k, err)
		}
		if v >= floor {
			break
		}
		if ids.Get(k) != nil || inUse(strconv.Itoa(v)) {
			taken = append(taken, append([]byte(nil), k...))
			continue
		}
		found, n = true, v
		break
	}
	for _, k := range taken {
		if err := free.Delete(k); err != nil {
			return 0, false, err
		}
	}
	return n, found, nil
}

// searchFrom returns the lowest n >= from that is not reserved and not in
// use, stepping over reserved runs with a cursor.
func searchFrom(ids *bolt.Bucket, from int, inUse func(string) bool) (int, error) {
	n := from
	c := ids.Cursor()
	k, _ := c.Seek(numKey(n))
	for scanned := 0; ; scanned++ {
		if scanned >= maxAgentScan || n == math.MaxInt {
			return 0, fmt.Errorf("gave up at %d after %d candidates", n, scanned)
		}
		// Keep the cursor at the first reserved key >= n.
		for k != nil && isNumKey(k) && bytes.Compare(k, numKey(n)) < 0 {
			k, _ = c.Next()
		}
		if k != nil && bytes.Equal(k, numKey(n)) {
			n++
			k, _ = c.Next()
			continue
		}
		if inUse(strconv.Itoa(n)) {
			n++
			continue
		}
		return n, nil
	}
}

// ClaimAgentID records id, chosen elsewhere (for example the user's NVM
// Agent Id in Salesforce), as userKey's agent ID, releasing any other ID
// userKey held. It returns an error wrapping ErrAgentIDTaken if another user
// holds id. IDs are compared as strings: "042" and "42" are different IDs.
func (db *DB) ClaimAgentID(userKey, id string) error {
	if userKey == "" || id == "" {
		return fmt.Errorf("claim agent id: empty user key or id (%q, %q)", userKey, id)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if holder := tx.Bucket(bucketAgentIDs).Get(agentKey(id)); holder != nil {
			if string(holder) == userKey {
				return nil
			}
			return fmt.Errorf("%w (held by %s)", ErrAgentIDTaken, holder)
		}
		if err := release(tx, userKey); err != nil {
			return err
		}
		return reserve(tx, userKey, id)
	})
	if err != nil {
		return fmt.Errorf("claim agent id %s for %s: %w", id, userKey, err)
	}
	return nil
}

// ReleaseAgentID drops userKey's agent ID reservation, if any, so the ID can
// be reserved again.
func (db *DB) ReleaseAgentID(userKey string) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error { return release(tx, userKey) })
	if err != nil {
		return fmt.Errorf("release agent id of %s: %w", userKey, err)
	}
	return nil
}

// AgentID returns the agent ID reserved for userKey, and whether there is one.
func (db *DB) AgentID(userKey string) (string, bool, error) {
	var (
		id string
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketAgentByUser).Get([]byte(userKey)); v != nil {
			id, ok = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("read agent id of %s: %w", userKey, err)
	}
	return id, ok, nil
}

// AgentIDHolder returns the user that holds the agent ID id, and whether
// one does.
func (db *DB) AgentIDHolder(id string) (string, bool, error) {
	var (
		key string
		ok  bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketAgentIDs).Get(agentKey(id)); v != nil {
			key, ok = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("read holder of agent id %s: %w", id, err)
	}
	return key, ok, nil
}

func reserve(tx *bolt.Tx, userKey, id string) error {
	ids, byUser := tx.Bucket(bucketAgentIDs), tx.Bucket(bucketAgentByUser)
	fillFor(ids, agentKey(id)) // IDs found by ReserveAgentID come in order
	fillFor(byUser, []byte(userKey))
	if err := ids.Put(agentKey(id), []byte(userKey)); err != nil {
		return err
	}
	return byUser.Put([]byte(userKey), []byte(id))
}

// release drops userKey's reservation and lists a decimal ID as released,
// so that ReserveAgentID offers it again.
func release(tx *bolt.Tx, userKey string) error {
	ids, byUser := tx.Bucket(bucketAgentIDs), tx.Bucket(bucketAgentByUser)
	v := byUser.Get([]byte(userKey))
	if v == nil {
		return nil
	}
	id := string(v)
	if err := byUser.Delete([]byte(userKey)); err != nil {
		return err
	}
	if string(ids.Get(agentKey(id))) == userKey {
		if err := ids.Delete(agentKey(id)); err != nil {
			return err
		}
	}
	if n, ok := canonicalNum(id); ok {
		return tx.Bucket(bucketAgentFree).Put(numKey(n), nil)
	}
	return nil
}

// Agent IDs are keyed so that canonical decimal numbers sort by value
// ("n" and 20 zero-padded digits) and anything else sorts after them
// ("s" and the ID as given).
func agentKey(id string) []byte {
	if n, ok := canonicalNum(id); ok {
		return numKey(n)
	}
	return append([]byte("s"), id...)
}

func numKey(n int) []byte { return fmt.Appendf(nil, "n%020d", n) }

func isNumKey(k []byte) bool { return len(k) > 0 && k[0] == 'n' }

// canonicalNum reports whether id is a non-negative decimal number written
// without leading zeros or sign, and its value.
func canonicalNum(id string) (int, bool) {
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || strconv.Itoa(n) != id {
		return 0, false
	}
	return n, true
}
