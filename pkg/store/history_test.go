package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// entry returns a history entry for event n of a Salesforce user change.
func entry(n int) HistoryEntry {
	return HistoryEntry{
		At:      time.Date(2026, 11, 20, 10, 0, n, 0, time.UTC),
		EventID: fmt.Sprintf("ev-%03d", n),
		Type:    "salesforce.user.changed",
		Outcome: "updated",
		Changes: []FieldChange{{Field: "Alias", Old: fmt.Sprintf("a%d", n-1), New: fmt.Sprintf("a%d", n)}},
	}
}

// eventIDs returns the event ids of entries, in order.
func eventIDs(entries []HistoryEntry) []string {
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.EventID)
	}
	return ids
}

// wantIDs returns the event ids of entry(from) down to entry(to).
func wantIDs(from, to int) []string {
	var ids []string
	for n := from; n >= to; n-- {
		ids = append(ids, entry(n).EventID)
	}
	return ids
}

func mustHistory(t *testing.T, db *DB, key string, limit int) []HistoryEntry {
	t.Helper()
	h, err := db.History(key, limit)
	if err != nil {
		t.Fatalf("History(%s, %d): %v", key, limit, err)
	}
	return h
}

func TestHistoryAppendedInCommit(t *testing.T) {
	db := mustOpen(t)
	commitAt := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return commitAt }
	cmd := HistoryEntry{
		EventID: "cmd-1", Type: "vccsync.command.set-webrtc", Action: "set-webrtc",
		RequestedBy: "ops@acme.example", Reason: "INC-42", Outcome: "refused",
		Error: "user is archived",
	}
	before := lastTxID(t, db)
	err := db.Commit(Batch{
		Ledger: []LedgerEntry{{EventID: "ev-001", UserKey: userKey(1)}, {EventID: "cmd-1", UserKey: userKey(1)}},
		Users:  []UserState{{Key: userKey(1), Outcome: "updated"}},
		History: map[string][]HistoryEntry{
			userKey(1): {entry(1), cmd}, // cmd has a zero At: set to the commit time
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := lastTxID(t, db) - before; got != 1 {
		t.Errorf("Commit used %d write transactions, want 1", got)
	}
	cmd.At = commitAt
	want := []HistoryEntry{cmd, entry(1)}
	if diff := cmp.Diff(want, mustHistory(t, db, userKey(1), 0)); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
}

func TestHistoryOnlyBatch(t *testing.T) {
	db := mustOpen(t)
	before := lastTxID(t, db)
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): {}, userKey(2): nil}}); err != nil {
		t.Fatal(err)
	}
	if after := lastTxID(t, db); after != before {
		t.Errorf("a batch of empty histories wrote a transaction (txid %d → %d)", before, after)
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): {entry(1)}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantIDs(1, 1), eventIDs(mustHistory(t, db, userKey(1), 0))); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if _, ok, _ := db.User(userKey(1)); ok {
		t.Error("a history-only batch wrote a user state")
	}
}

func TestHistoryAllOrNothing(t *testing.T) {
	tests := []struct {
		name  string
		batch Batch
	}{
		{"empty event id in the ledger", Batch{
			Ledger:  []LedgerEntry{{EventID: "ev-1"}, {EventID: ""}},
			History: map[string][]HistoryEntry{userKey(1): {entry(1)}},
		}},
		{"empty user key in the history", Batch{
			Ledger:  []LedgerEntry{{EventID: "ev-1"}},
			Users:   []UserState{{Key: userKey(1)}},
			History: map[string][]HistoryEntry{userKey(1): {entry(1)}, "": {entry(2)}},
		}},
		{"empty user key in the states", Batch{
			Ledger:  []LedgerEntry{{EventID: "ev-1"}},
			Users:   []UserState{{Key: ""}},
			History: map[string][]HistoryEntry{userKey(1): {entry(1)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			before := lastTxID(t, db)
			if err := db.Commit(tt.batch); err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			if after := lastTxID(t, db); after != before {
				t.Errorf("a failed batch wrote a transaction (txid %d → %d)", before, after)
			}
			if _, ok, _ := db.Seen("ev-1"); ok {
				t.Error("ledger entry of a failed batch was recorded")
			}
			if h := mustHistory(t, db, userKey(1), 0); len(h) != 0 {
				t.Errorf("history of a failed batch was recorded: %v", eventIDs(h))
			}
		})
	}
}

func TestHistoryFailedTransactionWritesNeither(t *testing.T) {
	db := mustOpenAt(t, filepath.Join(t.TempDir(), "vccsync.db"), Options{HistoryLimit: 1})
	// A bucket where user 1's oldest entry is: trimming the history fails
	// inside the transaction, after the ledger entry was put.
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		_, err := tx.Bucket(bucketHistory).CreateBucket(historyKey([]byte(userKey(1)), 1, 0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Commit(Batch{
		Ledger:  []LedgerEntry{{EventID: "ev-1", UserKey: userKey(1)}},
		Users:   []UserState{{Key: userKey(2)}},
		History: map[string][]HistoryEntry{userKey(1): {entry(1)}, userKey(2): {entry(2)}},
	})
	if err == nil {
		t.Fatal("Commit succeeded, want an error")
	}
	if _, ok, _ := db.Seen("ev-1"); ok {
		t.Error("ledger entry recorded although the history write failed")
	}
	if _, ok, _ := db.User(userKey(2)); ok {
		t.Error("user state recorded although the history write failed")
	}
	if h := mustHistory(t, db, userKey(2), 0); len(h) != 0 {
		t.Errorf("another user's history recorded although the transaction failed: %v", eventIDs(h))
	}
}

func TestHistoryNewestFirstAndLimit(t *testing.T) {
	db := mustOpen(t)
	// Five entries in three commits, one of them with two entries.
	for _, ns := range [][]int{{1}, {2, 3}, {4, 5}} {
		var entries []HistoryEntry
		for _, n := range ns {
			entries = append(entries, entry(n))
		}
		if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): entries}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{0, wantIDs(5, 1)},
		{-1, wantIDs(5, 1)},
		{1, wantIDs(5, 5)},
		{3, wantIDs(5, 3)},
		{5, wantIDs(5, 1)},
		{10, wantIDs(5, 1)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, eventIDs(mustHistory(t, db, userKey(1), tt.limit))); diff != "" {
				t.Errorf("History (-want +got):\n%s", diff)
			}
		})
	}
	for _, key := range []string{userKey(2), ""} {
		if h, err := db.History(key, 0); err != nil || h != nil {
			t.Errorf("History(%q) = %v, %v; want nil, nil", key, h, err)
		}
	}
}

// storedIDs returns the event ids of the entries stored under the user's
// keys, oldest first, by walking the bucket (not through History).
func storedIDs(t *testing.T, db *DB, key string) []string {
	t.Helper()
	var ids []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := c.Seek([]byte(key)); k != nil && bytes.HasPrefix(k, []byte(key)); k, v = c.Next() {
			if len(k) != len(key)+historyKeyExtra {
				continue
			}
			e, err := decodeHistoryEntry(key, k[len(key):], v)
			if err != nil {
				return err
			}
			ids = append(ids, e.EventID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// ids returns the event ids of entry(n) for each n.
func ids(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, entry(n).EventID)
	}
	return out
}

func TestHistoryBound(t *testing.T) {
	db := mustOpenAt(t, filepath.Join(t.TempDir(), "vccsync.db"), Options{HistoryLimit: 3})
	steps := []struct {
		entries    []int // entry numbers appended in one Commit
		wantIDs    []string
		wantStored []string // oldest first
	}{
		{[]int{1, 2}, wantIDs(2, 1), ids(1, 2)},
		{[]int{3}, wantIDs(3, 1), ids(1, 2, 3)},
		{[]int{4}, wantIDs(4, 2), ids(2, 3, 4)},
		{[]int{5, 6}, wantIDs(6, 4), ids(4, 5, 6)},
		{[]int{7, 8, 9, 10, 11}, wantIDs(11, 9), ids(9, 10, 11)}, // more than the bound at once
	}
	for i, st := range steps {
		var entries []HistoryEntry
		for _, n := range st.entries {
			entries = append(entries, entry(n))
		}
		if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): entries}}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st.wantIDs, eventIDs(mustHistory(t, db, userKey(1), 0))); diff != "" {
			t.Errorf("step %d: History (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(st.wantStored, storedIDs(t, db, userKey(1))); diff != "" {
			t.Errorf("step %d: stored entries (-want +got):\n%s", i, diff)
		}
	}
}

func TestHistoryDefaultBound(t *testing.T) {
	db := mustOpen(t)
	var entries []HistoryEntry
	for n := 1; n <= DefaultHistoryLimit+20; n++ {
		entries = append(entries, entry(n))
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): entries}}); err != nil {
		t.Fatal(err)
	}
	h := mustHistory(t, db, userKey(1), 0)
	if len(h) != DefaultHistoryLimit || h[0].EventID != entry(DefaultHistoryLimit+20).EventID || h[len(h)-1].EventID != entry(21).EventID {
		t.Errorf("History kept %d entries, %s … %s; want %d, the newest", len(h), h[0].EventID, h[len(h)-1].EventID, DefaultHistoryLimit)
	}
}

func TestHistorySurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []HistoryEntry
	for n := 1; n <= 5; n++ {
		entries = append(entries, entry(n))
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): entries}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a lower bound: the history is kept until the user's
	// next entry, then trimmed.
	db = mustOpenAt(t, path, Options{HistoryLimit: 2})
	if diff := cmp.Diff(wantIDs(5, 1), eventIDs(mustHistory(t, db, userKey(1), 0))); diff != "" {
		t.Errorf("History after reopen (-want +got):\n%s", diff)
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): {entry(6)}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantIDs(6, 5), eventIDs(mustHistory(t, db, userKey(1), 0))); diff != "" {
		t.Errorf("History after the next entry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids(5, 6), storedIDs(t, db, userKey(1))); diff != "" {
		t.Errorf("stored entries (-want +got):\n%s", diff)
	}
}

func TestHistoryUsersAreSeparate(t *testing.T) {
	db := mustOpenAt(t, filepath.Join(t.TempDir(), "vccsync.db"), Options{HistoryLimit: 2})
	err := db.Commit(Batch{History: map[string][]HistoryEntry{
		userKey(1): {entry(1), entry(2), entry(3)},
		userKey(2): {entry(4)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(2): {entry(5)}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want []string
	}{
		{userKey(1), wantIDs(3, 2)},
		{userKey(2), wantIDs(5, 4)},
		{userKey(3), nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, eventIDs(mustHistory(t, db, tt.key, 0))); diff != "" {
			t.Errorf("History(%s) (-want +got):\n%s", tt.key, diff)
		}
	}
	// Trimming one user's history leaves the other's entries alone.
	if diff := cmp.Diff(ids(4, 5), storedIDs(t, db, userKey(2))); diff != "" {
		t.Errorf("user 2 stored entries (-want +got):\n%s", diff)
	}
}

func TestHistoryOnFileWithoutHistoryBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(Batch{Ledger: []LedgerEntry{{EventID: "ev-old"}}, Users: []UserState{{Key: userKey(1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A file that lacks a bucket (say, written before it was added).
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketHistory) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenAt(t, path, Options{})
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketHistory) == nil {
			return fmt.Errorf("bucket %s not created on Open", bucketHistory)
		}
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("schema version %q, want %d", v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Seen("ev-old"); !ok {
		t.Error("ledger entry lost")
	}
	if err := db.Commit(Batch{Ledger: []LedgerEntry{{EventID: "ev-001"}}, History: map[string][]HistoryEntry{userKey(1): {entry(1)}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantIDs(1, 1), eventIDs(mustHistory(t, db, userKey(1), 0))); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
}

func TestHistoryEntryJSON(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 15, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		e    HistoryEntry
		want string
	}{
		{
			name: "salesforce event",
			e: HistoryEntry{At: at, EventID: "04l5e00000AbCdEAAV", Type: "salesforce.user.changed", Outcome: "updated",
				Changes: []FieldChange{
					{Field: "Alias", Old: "jsmith", New: "jsmith2"},
					{Field: "Email", Old: "", New: "jane@acme.example"},
					{Field: "FederationIdentifier", Old: "jsmith", New: ""},
				}},
			want: `{"at":"2026-11-20T10:15:00.123456789Z","eventId":"04l5e00000AbCdEAAV","type":"salesforce.user.changed","outcome":"updated",` +
				`"changes":[{"field":"Alias","old":"jsmith","new":"jsmith2"},{"field":"Email","old":"","new":"jane@acme.example"},` +
				`{"field":"FederationIdentifier","old":"jsmith","new":""}]}`,
		},
		{
			name: "refused command",
			e: HistoryEntry{At: at, EventID: "cmd-7", Type: "vccsync.command.set-webrtc", Action: "set-webrtc",
				RequestedBy: "ops@acme.example", Reason: "INC-42 — “webrtc” off", Outcome: "refused", Error: "user is archived"},
			want: `{"at":"2026-11-20T10:15:00.123456789Z","eventId":"cmd-7","type":"vccsync.command.set-webrtc","action":"set-webrtc",` +
				`"requestedBy":"ops@acme.example","reason":"INC-42 — “webrtc” off","outcome":"refused","error":"user is archived"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("JSON\n got %s\nwant %s", b, tt.want)
			}
			// Through the store: what History returns is what was committed.
			db := mustOpen(t)
			if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): {tt.e}}}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]HistoryEntry{tt.e}, mustHistory(t, db, userKey(1), 0)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// A user key that starts another one's (not so for Salesforce IDs, all 18
// characters) keeps its history apart in the shared bucket.
func TestHistoryOfKeysThatArePrefixes(t *testing.T) {
	db := mustOpenAt(t, filepath.Join(t.TempDir(), "vccsync.db"), Options{HistoryLimit: 2})
	short, long := "005A", "005A\x01\x80x"
	for _, n := range []int{1, 2, 3} {
		err := db.Commit(Batch{History: map[string][]HistoryEntry{short: {entry(n)}, long: {entry(10 + n)}, "005B": {entry(20 + n)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string][]string{short: wantIDs(3, 2), long: wantIDs(13, 12), "005B": wantIDs(23, 22)} {
		if diff := cmp.Diff(want, eventIDs(mustHistory(t, db, key, 0))); diff != "" {
			t.Errorf("History(%q) (-want +got):\n%s", key, diff)
		}
	}
}
