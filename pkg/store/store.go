package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the on-disk layout this build writes. Open
// refuses a file with a newer version ([ErrSchemaTooNew]).
const SchemaVersion = 1

// Defaults for [Options].
const (
	DefaultTimeout         = time.Second
	DefaultLedgerRetention = 30 * 24 * time.Hour
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrLocked is returned by Open when another process (or another DB in
	// this process) holds the file lock and it was not released within
	// Options.Timeout. It wraps bbolt's timeout error.
	ErrLocked = errors.New("database file is locked by another process")

	// ErrSchemaTooNew is returned by Open when the file was written by a
	// newer vccsync with a layout this build does not know.
	ErrSchemaTooNew = errors.New("schema version is newer than this build supports")

	// ErrAgentIDTaken is returned by ClaimAgentID when another user holds
	// the agent ID.
	ErrAgentIDTaken = errors.New("agent ID is reserved for another user")

	// ErrNoFreeAgentID is returned by ReserveAgentID when no free agent ID
	// was found (the ID space is exhausted, or inUse reports every
	// candidate in use).
	ErrNoFreeAgentID = errors.New("no free agent ID")
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout is how long Open waits for the file lock; a second process
	// on the same file fails with ErrLocked after it. Default 1s.
	Timeout time.Duration

	// LedgerRetention is how long processed event ids are kept. It must
	// exceed the stream's max age and the oldest replay an operator can
	// publish again with the same id: an event redelivered after its
	// ledger entry was pruned is applied a second time (handlers are
	// convergent, so that writes nothing new, but it is counted and
	// non-convergent effects rely on their own intent records). Default
	// 30 days.
	LedgerRetention time.Duration

	// HistoryLimit is how many history entries are kept per user; Commit
	// deletes the oldest beyond it when it appends to a user's history.
	// Zero or negative means DefaultHistoryLimit (100).
	HistoryLimit int

	// NoSync skips fsync on commit. For benchmarks only: a crash can lose
	// or corrupt committed data.
	NoSync bool
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.LedgerRetention <= 0 {
		o.LedgerRetention = DefaultLedgerRetention
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = DefaultHistoryLimit
	}
	return o
}

// Bucket names (see doc.go for the layout).
var (
	bucketMeta         = []byte("meta")
	bucketLedger       = []byte("ledger")
	bucketLedgerByTime = []byte("ledger_by_time")
	bucketUsers        = []byte("users")
	bucketUsersByVCC   = []byte("users_by_vcc")
	bucketAgentIDs     = []byte("agent_ids")
	bucketAgentByUser  = []byte("agent_ids_by_user")
	bucketAgentFloor   = []byte("agent_id_floor")
	bucketAgentFree    = []byte("agent_ids_released")
	bucketSagas        = []byte("sagas")
	bucketHistory      = []byte("history")
	bucketIntents      = []byte("intents")

	allBuckets = [][]byte{
		bucketMeta, bucketLedger, bucketLedgerByTime, bucketUsers, bucketUsersByVCC,
		bucketAgentIDs, bucketAgentByUser, bucketAgentFloor, bucketAgentFree, bucketSagas,
		bucketHistory, bucketIntents,
	}

	keySchemaVersion = []byte("schema_version")
)

// DB is vccsync's state in one bbolt file. It is safe for concurrent use by
// multiple goroutines; writes are serialised by bbolt.
type DB struct {
	bolt *bolt.DB
	path string
	opts Options
	now  func() time.Time
}

// Open opens (creating if needed) the store at path. It creates the parent
// directory and the buckets, records the schema version in a new file and
// refuses a file written with a newer one.
func Open(path string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open store: create directory: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.Timeout,
		NoSync:         opts.NoSync,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w (waited %s): %w", path, ErrLocked, opts.Timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, opts: opts, now: time.Now}
	if err := b.Update(initSchema); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// initSchema checks or records the schema version and creates the buckets.
func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketMeta, err)
	}
	if v := meta.Get(keySchemaVersion); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("schema version %q: %w", v, err)
		}
		if n > SchemaVersion {
			return fmt.Errorf("%w: file has version %d, this build supports up to %d (upgrade vccsync)",
				ErrSchemaTooNew, n, SchemaVersion)
		}
	}
	// Older versions are migrated here when there are any; version 1 is the first.
	if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// Close closes the file and releases its lock.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Path returns the file path the store was opened with.
func (db *DB) Path() string { return db.path }

// Check runs a cheap read transaction; it fails when the store is closed or
// unreadable. Meant for readiness probes.
func (db *DB) Check() error {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("meta bucket missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check store: %w", err)
	}
	return nil
}
