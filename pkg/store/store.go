package store

import (
	"bytes"
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
// refuses a file with a newer version ([ErrSchemaTooNew]) and migrates a
// file of version 1 in place (see doc.go).
const SchemaVersion = 2

// Defaults for [Options].
const (
	DefaultTimeout = time.Second
	// DefaultLedgerRetention is how long processed event ids are kept by
	// default: far longer than JetStream's duplicate window (2 minutes)
	// and the worker's whole redelivery schedule (under an hour), and than
	// the 72 hours Salesforce keeps change events for a replay. See doc.go.
	DefaultLedgerRetention = 7 * 24 * time.Hour
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
	// exceed the time an applied message can wait to be delivered again
	// (JetStream's duplicate window, the redelivery schedule, a replay of
	// Salesforce's change events, the oldest message an operator may
	// publish again with the same id): an event delivered after its
	// ledger entry was pruned is applied a second time (handlers are
	// convergent and the checkpoint makes an older snapshot stale, so that
	// writes nothing new, but it is counted, and a command is carried out
	// again). Default DefaultLedgerRetention (7 days).
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
	bucketLedger       = []byte("ledger_v2")
	bucketLedgerByTime = []byte("ledger_by_time_v2")
	bucketUsers        = []byte("users_v2")
	bucketUsersByVCC   = []byte("users_by_vcc_v2")
	bucketAgentIDs     = []byte("agent_ids")
	bucketAgentByUser  = []byte("agent_ids_by_user")
	bucketAgentFloor   = []byte("agent_id_floor")
	bucketAgentFree    = []byte("agent_ids_released")
	bucketSagas        = []byte("sagas")
	bucketHistory      = []byte("history_v2")
	bucketIntents      = []byte("intents")

	allBuckets = [][]byte{
		bucketMeta, bucketLedger, bucketLedgerByTime, bucketUsers, bucketUsersByVCC,
		bucketAgentIDs, bucketAgentByUser, bucketAgentFloor, bucketAgentFree, bucketSagas,
		bucketHistory, bucketIntents,
	}

	keySchemaVersion = []byte("schema_version")
)

// allocSize is the step in which the file grows once it is larger than
// that (bbolt's default is 16 MiB): the unused tail of the file is at most
// this. Each step costs a truncate and an fsync.
const allocSize = 4 << 20

// appendFill is the FillPercent of a bucket whose new keys all sort after
// its last key (see fillFor).
const appendFill = 1.0

// fillFor sets b's FillPercent for a write transaction whose lowest new
// key is lowest. bbolt splits a page that outgrew its size into pages
// filled to FillPercent: half (the default) suits keys arriving in random
// order, but leaves half-empty pages behind keys that arrive in order.
// When every new key sorts after the bucket's last key (a first sync in
// Salesforce ID order, the time indexes), pages are filled completely.
func fillFor(b *bolt.Bucket, lowest []byte) {
	if k, _ := b.Cursor().Last(); k == nil || bytes.Compare(lowest, k) > 0 {
		b.FillPercent = appendFill
	}
}

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
	b.AllocSize = allocSize
	db := &DB{bolt: b, path: path, opts: opts, now: time.Now}
	var migrate bool
	if err := b.Update(func(tx *bolt.Tx) error {
		var err error
		migrate, err = initSchema(tx)
		return err
	}); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if migrate {
		if err := db.migrateV1(); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("open store %s: migrate from schema version 1: %w", path, err)
		}
	}
	return db, nil
}

// initSchema checks the schema version, records this build's and creates
// the buckets. It reports whether data of version 1 is left to migrate:
// then the version recorded is already 2, so that an older build refuses
// a file whose migration was interrupted, and the next Open resumes it.
func initSchema(tx *bolt.Tx) (bool, error) {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return false, fmt.Errorf("create bucket %s: %w", bucketMeta, err)
	}
	if v := meta.Get(keySchemaVersion); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return false, fmt.Errorf("schema version %q: %w", v, err)
		}
		if n > SchemaVersion {
			return false, fmt.Errorf("%w: file has version %d, this build supports up to %d (upgrade vccsync)",
				ErrSchemaTooNew, n, SchemaVersion)
		}
		if n < 1 {
			return false, fmt.Errorf("schema version %d: unknown", n)
		}
	}
	if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return false, fmt.Errorf("write schema version: %w", err)
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return false, fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return hasV1(tx), nil
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
