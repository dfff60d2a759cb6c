package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mustOpen opens a store in a fresh temporary directory and closes it when
// the test ends.
func mustOpen(t testing.TB) *DB {
	t.Helper()
	return mustOpenAt(t, filepath.Join(t.TempDir(), "vccsync.db"), Options{})
}

func mustOpenAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// userKey returns a distinct 18-character key for test user i.
func userKey(i int) string { return fmt.Sprintf("005TEST%011d", i) }

func TestOpenCreatesParentDirAndBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "vccsync.db")
	db := mustOpenAt(t, path, Options{})
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("schema version %q, want %d", v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckAfterClose(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "vccsync.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Check(); err == nil {
		t.Fatal("Check after Close: want an error")
	}
}

func TestSecondOpenFailsWithinTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	mustOpenAt(t, path, Options{})
	for _, timeout := range []time.Duration{50 * time.Millisecond, 500 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			begin := time.Now()
			db, err := Open(path, Options{Timeout: timeout})
			elapsed := time.Since(begin)
			if err == nil {
				_ = db.Close()
				t.Fatal("second Open succeeded, want ErrLocked")
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("error %v, want ErrLocked", err)
			}
			if !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say the file is locked and which file", err)
			}
			// bbolt retries the lock every 50ms and gives up one retry early.
			if elapsed < timeout-100*time.Millisecond || elapsed > timeout+2*time.Second {
				t.Errorf("failed after %s, want about %s", elapsed, timeout)
			}
		})
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr error
	}{
		{"current", fmt.Sprint(SchemaVersion), nil},
		{"newer", fmt.Sprint(SchemaVersion + 1), ErrSchemaTooNew},
		{"much newer", "99", ErrSchemaTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vccsync.db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			setSchemaVersion(t, path, tt.version)

			db, err = Open(path, Options{})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = db.Close()
				return
			}
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open succeeded, want %v", tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "version "+tt.version) {
				t.Errorf("error %q does not name the file's version", err)
			}
			// The refusal must leave the file as it was and unlocked.
			setSchemaVersion(t, path, fmt.Sprint(SchemaVersion))
			mustOpenAt(t, path, Options{})
		})
	}
}

func setSchemaVersion(t *testing.T, path, v string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	at := time.Date(2026, 11, 20, 10, 15, 1, 0, time.UTC)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := UserState{Key: userKey(1), VCCUserID: "vcc-1", Checkpoint: at, LastEventID: "ev-1",
		Snapshot: sampleUser(), Synced: map[string]string{"email": "jane@acme.example"},
		AgentID: "1000", Outcome: "created", UpdatedAt: at, Applied: 3}
	if err := db.Commit(Batch{
		Ledger: []LedgerEntry{{EventID: "ev-1", UserKey: userKey(1), Outcome: "created", At: time.Now()}},
		Users:  []UserState{want},
	}); err != nil {
		t.Fatal(err)
	}
	id, err := db.ReserveAgentID(userKey(1), 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimAgentID(userKey(2), "7"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenAt(t, path, Options{})
	if _, ok, err := db.Seen("ev-1"); err != nil || !ok {
		t.Errorf("Seen(ev-1) after reopen = %v, %v", ok, err)
	}
	got, ok, err := db.User(userKey(1))
	if err != nil || !ok {
		t.Fatalf("User after reopen = %v, %v", ok, err)
	}
	assertUserEqual(t, got, want)
	if got, ok, err := db.UserByVCCID("vcc-1"); err != nil || !ok || got.Key != userKey(1) {
		t.Errorf("UserByVCCID after reopen = %q, %v, %v", got.Key, ok, err)
	}
	if again, err := db.ReserveAgentID(userKey(1), 1000, nil); err != nil || again != id {
		t.Errorf("ReserveAgentID after reopen = %q, %v, want %q", again, err, id)
	}
	if err := db.ClaimAgentID(userKey(3), "7"); !errors.Is(err, ErrAgentIDTaken) {
		t.Errorf("ClaimAgentID of a claimed ID after reopen: %v, want ErrAgentIDTaken", err)
	}
}
