package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SagaStep is the step a multi-step change of one user has reached.
type SagaStep struct {
	Saga string    `json:"saga"` // e.g. "create", "alias"
	Step string    `json:"step"` // the step about to run or just done
	Data string    `json:"data,omitempty"`
	At   time.Time `json:"at"`
}

func sagaKey(userKey, saga string) []byte { return []byte(userKey + "\x00" + saga) }

// SetSagaStep records durably, in its own transaction, that the user's
// saga has reached step. Call it before the step's external call, so a
// crash leaves the step to resume.
func (db *DB) SetSagaStep(userKey string, s SagaStep) error {
	if userKey == "" || s.Saga == "" || s.Step == "" {
		return fmt.Errorf("set saga step: user key, saga and step are required (got %q, %q, %q)", userKey, s.Saga, s.Step)
	}
	if s.At.IsZero() {
		s.At = time.Now().UTC()
	}
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode saga step: %w", err)
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSagas).Put(sagaKey(userKey, s.Saga), v); err != nil {
			return fmt.Errorf("put saga step %s/%s: %w", userKey, s.Saga, err)
		}
		return nil
	})
}

// SagaStep returns the step the user's saga has reached, if one is in
// progress.
func (db *DB) SagaStep(userKey, saga string) (SagaStep, bool, error) {
	var s SagaStep
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSagas).Get(sagaKey(userKey, saga))
		if v == nil {
			return nil
		}
		ok = true
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode saga step %s/%s: %w", userKey, saga, err)
		}
		return nil
	})
	return s, ok, err
}

// ClearSaga records that the user's saga is complete.
func (db *DB) ClearSaga(userKey, saga string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSagas).Delete(sagaKey(userKey, saga)); err != nil {
			return fmt.Errorf("clear saga %s/%s: %w", userKey, saga, err)
		}
		return nil
	})
}

// SagaSteps returns every saga of the user in progress.
func (db *DB) SagaSteps(userKey string) ([]SagaStep, error) {
	var out []SagaStep
	prefix := []byte(userKey + "\x00")
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSagas).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var s SagaStep
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode saga step %q: %w", k, err)
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}
