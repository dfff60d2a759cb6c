package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketReplay holds the Pub/Sub replay positions of a ReplayStore.
var bucketReplay = []byte("replay")

// ReplayStore keeps the replay position of each Salesforce Pub/Sub topic
// a subscriber reads, in a bbolt file of its own (the subscriber's state,
// beside the listener, not the worker's store): topic → the opaque replay
// id of the last event published to JetStream. Save commits (and syncs)
// before it returns, so a restart resumes right after the last event
// stored downstream. It is safe for concurrent use.
type ReplayStore struct {
	bolt *bolt.DB
	path string
}

// OpenReplayStore opens (creating if needed) the replay store at path,
// creating its directory. Another process holding the file is waited on
// for a second, then an error: two subscribers must not share a position.
func OpenReplayStore(path string) (*ReplayStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open replay store: create directory: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open replay store %s: in use by another process", path)
		}
		return nil, fmt.Errorf("open replay store %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketReplay)
		return err
	})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open replay store %s: %w", path, err)
	}
	return &ReplayStore{bolt: b, path: path}, nil
}

// Load returns the replay id stored for topic, nil when none is.
func (r *ReplayStore) Load(_ context.Context, topic string) ([]byte, error) {
	var id []byte
	err := r.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketReplay).Get([]byte(topic)); v != nil {
			id = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load replay id of %s: %w", topic, err)
	}
	return id, nil
}

// Save stores id as topic's replay position; an empty id clears it.
func (r *ReplayStore) Save(_ context.Context, topic string, id []byte) error {
	err := r.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReplay)
		if len(id) == 0 {
			return b.Delete([]byte(topic))
		}
		return b.Put([]byte(topic), id)
	})
	if err != nil {
		return fmt.Errorf("save replay id of %s: %w", topic, err)
	}
	return nil
}

// Path is the file's path.
func (r *ReplayStore) Path() string { return r.path }

// Close closes the file.
func (r *ReplayStore) Close() error { return r.bolt.Close() }
