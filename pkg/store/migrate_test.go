package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// v1Fixture writes a file of schema version 1 at path with users (with and
// without snapshot, VCC link, Synced), ledger entries recent and older
// than the default retention, histories (one whose times go backwards,
// two entries in the same nanosecond, one beyond the bound), an open
// intent, a saga step and agent-ID reservations. It returns what version
// 1 reads from it.
func v1Fixture(t *testing.T, path string, now time.Time) v1Contents {
	t.Helper()
	s := openV1(t, path, false)
	s.limit = 4
	at := now.Add(-time.Hour).Truncate(time.Second).Add(123456789) // nanoseconds survive JSON
	var users []UserState
	for i := range 25 {
		u := UserState{Key: userKey(i), Checkpoint: at.Add(time.Duration(i) * time.Millisecond),
			LastEventID: "cdc-" + userKey(i) + "-0002343d-9d90-e395-ed20-cf416ba652ad-1", Outcome: "updated",
			Applied: int64(i), UpdatedAt: at}
		switch i % 3 {
		case 0:
			u.VCCUserID = fmt.Sprintf("8e22b1fe-0000-4000-8000-%012d", i) // a UUID
		case 1:
			u.VCCUserID = fmt.Sprintf("vcc-%d", i)
		}
		if i%5 != 4 {
			snap := sampleUser()
			snap.ID = userKey(i)
			u.Snapshot = snap
			u.Synced = map[string]string{"username": "jane.smith@acme.example", "active": "false", "agentDisplayId": "1042",
				"contactCenter": "Support EMEA", "custom": "x"}
			u.AgentID = "1042"
		}
		users = append(users, u)
	}
	users[1].Synced = map[string]string{} // stored as absent
	users[2].LastError = "vcc: 409 conflict"
	if err := s.commit(Batch{Users: users}, at); err != nil {
		t.Fatal(err)
	}
	var ledger []LedgerEntry
	for i := range 10 {
		ledger = append(ledger, LedgerEntry{EventID: fmt.Sprintf("ev-recent-%d", i), UserKey: userKey(i), Outcome: "updated", At: at})
		ledger = append(ledger, LedgerEntry{EventID: fmt.Sprintf("ev-old-%d", i), UserKey: userKey(i), Outcome: "created",
			At: now.Add(-10 * 24 * time.Hour)})
	}
	ledger = append(ledger, LedgerEntry{EventID: "ev-custom", Outcome: "a new outcome", At: at})
	if err := s.commit(Batch{Ledger: ledger}, at); err != nil {
		t.Fatal(err)
	}
	h := func(n int, at time.Time) HistoryEntry {
		e := entry(n)
		e.At = at
		return e
	}
	cmd := HistoryEntry{At: at.Add(3 * time.Second), EventID: "cmd-1", Type: "vccsync.command.set-webrtc", Action: "set-webrtc",
		RequestedBy: "ops@acme.example", Reason: "INC-42", Outcome: "refused", Error: "user is archived", ErrorClass: "permanent"}
	for _, b := range []map[string][]HistoryEntry{
		{userKey(0): {h(1, at), h(2, at.Add(time.Second))}, userKey(1): {h(1, at)}},
		{userKey(0): {h(3, at.Add(-time.Minute)), h(4, at.Add(2*time.Second)), h(5, at.Add(2*time.Second)), cmd}},
		{userKey(2): {h(6, at)}, userKey(24): {h(7, at)}},
	} {
		if err := s.commit(Batch{History: b}, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.reserveAgentIDs(map[string]string{userKey(0): "1000", userKey(1): "1001", userKey(2): "A-7"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		bucket []byte
		kv     map[string]any
	}{
		{bucketAgentFloor, map[string]any{"1000": "1002"}},
		{bucketIntents, map[string]any{userKey(3): Intent{At: at, EventID: "ev-recent-3"}}},
		{bucketSagas, map[string]any{userKey(4) + "\x00create": SagaStep{Saga: "create", Step: "create-and-copy", Data: "tmpl", At: at}}},
	} {
		if err := s.put(p.bucket, p.kv); err != nil {
			t.Fatal(err)
		}
	}
	c := s.contents(t)
	s.close(t)
	if len(c.users) != 25 || len(c.ledger) != 21 || len(c.history[userKey(0)]) != 4 {
		t.Fatalf("fixture: %d users, %d ledger entries, %d history entries of user 0; want 25, 21, 4 (the bound)",
			len(c.users), len(c.ledger), len(c.history[userKey(0)]))
	}
	return c
}

// assertMigrated checks that db reads back what version 1 read, but the
// ledger entries older than the retention, and holds nothing of version 1.
func assertMigrated(t *testing.T, db *DB, want v1Contents, now time.Time) {
	t.Helper()
	for key, w := range want.users {
		got, ok, err := db.User(key)
		if err != nil || !ok {
			t.Fatalf("User(%s) = %v, %v", key, ok, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("user %s (-version 1 +version 2):\n%s", key, diff)
		}
	}
	for vcc, key := range want.byVCC {
		if u, ok, err := db.UserByVCCID(vcc); err != nil || !ok || u.Key != key {
			t.Errorf("UserByVCCID(%s) = %s, %v, %v; want %s", vcc, u.Key, ok, err, key)
		}
	}
	for id, w := range want.ledger {
		got, ok, err := db.Seen(id)
		if err != nil {
			t.Fatal(err)
		}
		if expired := w.At.Before(now.Add(-DefaultLedgerRetention)); expired {
			if ok {
				t.Errorf("Seen(%s): an entry older than the retention was kept", id)
			}
			continue
		}
		w.UserKey = "" // not stored since version 2
		if diff := cmp.Diff(w, got); !ok || diff != "" {
			t.Errorf("Seen(%s) = %v (-version 1 +version 2):\n%s", id, ok, diff)
		}
	}
	assertTimeIndexConsistent(t, db)
	for key, w := range want.history {
		if diff := cmp.Diff(w, mustHistory(t, db, key, 0)); diff != "" {
			t.Errorf("history of %s (-version 1 +version 2):\n%s", key, diff)
		}
	}
	if in, ok, err := db.OpenedIntent(userKey(3)); err != nil || !ok || in.EventID != "ev-recent-3" {
		t.Errorf("OpenedIntent = %+v, %v, %v", in, ok, err)
	}
	if st, ok, err := db.SagaStep(userKey(4), "create"); err != nil || !ok || st.Step != "create-and-copy" || st.Data != "tmpl" {
		t.Errorf("SagaStep = %+v, %v, %v", st, ok, err)
	}
	for key, id := range map[string]string{userKey(0): "1000", userKey(1): "1001", userKey(2): "A-7"} {
		if got, ok, err := db.AgentID(key); err != nil || !ok || got != id {
			t.Errorf("AgentID(%s) = %s, %v, %v; want %s", key, got, ok, err, id)
		}
	}
	if id, err := db.ReserveAgentID(userKey(5), 1000, nil); err != nil || id != "1002" {
		t.Errorf("ReserveAgentID after the migration = %s, %v; want 1002 (the floor kept)", id, err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range v1Buckets {
			if tx.Bucket(name) != nil {
				return fmt.Errorf("version 1 bucket %s left", name)
			}
		}
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != "2" {
			return fmt.Errorf("schema version %q, want 2", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func setMigrateChunk(t *testing.T, n int) {
	old := migrateChunk
	migrateChunk = n
	t.Cleanup(func() { migrateChunk = old })
}

func TestMigrateFromV1(t *testing.T) {
	for _, chunk := range []int{4096, 3, 1} {
		t.Run(fmt.Sprintf("chunks of %d", chunk), func(t *testing.T) {
			setMigrateChunk(t, chunk)
			path := filepath.Join(t.TempDir(), "vccsync.db")
			now := time.Now()
			want := v1Fixture(t, path, now)
			db := mustOpenAt(t, path, Options{HistoryLimit: 4})
			assertMigrated(t, db, want, now)

			// A commit on the migrated file appends to the histories.
			if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(0): {entry(9)}}}); err != nil {
				t.Fatal(err)
			}
			if h := mustHistory(t, db, userKey(0), 0); len(h) != 4 || h[0].EventID != entry(9).EventID || h[1].EventID != "cmd-1" {
				t.Errorf("history after a new entry: %v", eventIDs(h))
			}
		})
	}
}

// An interrupted migration is resumed by the next Open, and an older build
// refuses the file meanwhile (its version is already 2).
func TestMigrateResumes(t *testing.T) {
	setMigrateChunk(t, 2)
	path := filepath.Join(t.TempDir(), "vccsync.db")
	now := time.Now()
	want := v1Fixture(t, path, now)

	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // the schema, then four steps, each its own transaction
		err = b.Update(func(tx *bolt.Tx) error {
			if _, err := initSchema(tx); err != nil {
				return err
			}
			_, err := migrateStep(tx, now.Add(-DefaultLedgerRetention), 4)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = b.View(func(tx *bolt.Tx) error {
		if !hasV1(tx) {
			return errors.New("migration finished already: the test needs it half done")
		}
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != "2" {
			return fmt.Errorf("schema version %q during the migration, want 2", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	assertMigrated(t, mustOpenAt(t, path, Options{HistoryLimit: 4}), want, now)
}

func TestMigrateRefusesCorruptRecord(t *testing.T) {
	for _, tt := range []struct {
		name   string
		bucket []byte
		key    string
	}{
		{"user", v1Users, userKey(7)},
		{"ledger entry", v1Ledger, "ev-recent-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vccsync.db")
			v1Fixture(t, path, time.Now())
			s := openV1(t, path, false)
			if err := s.put(tt.bucket, map[string]any{tt.key: "{not json"}); err != nil {
				t.Fatal(err)
			}
			s.close(t)
			db, err := Open(path, Options{})
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), "migrate") {
				t.Errorf("error %q does not say the migration failed and on which record", err)
			}
		})
	}
}
