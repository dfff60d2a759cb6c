package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// lastTxID returns the id of the last committed write transaction.
func lastTxID(t *testing.T, db *DB) int {
	t.Helper()
	var id int
	if err := db.bolt.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSeenAfterCommit(t *testing.T) {
	db := mustOpen(t)
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	if err := db.Commit(Batch{Ledger: []LedgerEntry{
		{EventID: "04l5e00000AbCdEAAV", UserKey: userKey(1), Outcome: "updated", At: at},
		{EventID: "cdc-42", UserKey: userKey(2), Outcome: "unchanged"}, // zero At: set to the commit time
	}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id       string
		wantOK   bool
		wantUser string
		wantOut  string
	}{
		// The user key is not stored: Seen returns it empty.
		{"04l5e00000AbCdEAAV", true, "", "updated"},
		{"cdc-42", true, "", "unchanged"},
		{"never-seen", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			e, ok, err := db.Seen(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || e.UserKey != tt.wantUser || e.Outcome != tt.wantOut {
				t.Fatalf("Seen(%q) = %+v, %v; want user %q outcome %q, %v", tt.id, e, ok, tt.wantUser, tt.wantOut, tt.wantOK)
			}
			if ok && e.EventID != tt.id {
				t.Errorf("EventID = %q, want %q", e.EventID, tt.id)
			}
			if ok && (e.At.IsZero() || time.Since(e.At) > time.Hour) {
				t.Errorf("At = %v, want a recent time", e.At)
			}
		})
	}
	if e, _, _ := db.Seen("04l5e00000AbCdEAAV"); !e.At.Equal(at) {
		t.Errorf("At = %v, want %v", e.At, at)
	}
}

func TestCommitEmptyBatchIsNoTransaction(t *testing.T) {
	db := mustOpen(t)
	before := lastTxID(t, db)
	for _, b := range []Batch{{}, {Ledger: []LedgerEntry{}, Users: []UserState{}}} {
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	if after := lastTxID(t, db); after != before {
		t.Errorf("empty Commit wrote a transaction (txid %d → %d)", before, after)
	}
	if err := db.Commit(Batch{Ledger: []LedgerEntry{{EventID: "e"}}}); err != nil {
		t.Fatal(err)
	}
	if after := lastTxID(t, db); after != before+1 {
		t.Errorf("Commit wrote %d transactions, want 1", after-before)
	}
}

func TestCommitManyUsersInOneBatch(t *testing.T) {
	for _, n := range []int{1, 256, 5000} {
		t.Run(fmt.Sprintf("%d users", n), func(t *testing.T) {
			db := mustOpen(t)
			var b Batch
			for i := range n {
				id := "ev-" + userKey(i)
				b.Ledger = append(b.Ledger, LedgerEntry{EventID: id, UserKey: userKey(i), Outcome: "created"})
				b.Users = append(b.Users, UserState{Key: userKey(i), LastEventID: id, Outcome: "created", Applied: 1,
					VCCUserID: "vcc-" + userKey(i)})
			}
			before := lastTxID(t, db)
			if err := db.Commit(b); err != nil {
				t.Fatal(err)
			}
			if got := lastTxID(t, db) - before; got != 1 {
				t.Errorf("Commit used %d write transactions, want 1", got)
			}
			var seen int
			prev := ""
			err := db.ForEachUser(func(u UserState) error {
				if u.Key <= prev {
					t.Errorf("ForEachUser order: %q after %q", u.Key, prev)
				}
				prev = u.Key
				if u.UpdatedAt.IsZero() {
					t.Errorf("user %s: zero UpdatedAt, want the commit time", u.Key)
				}
				seen++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != n {
				t.Errorf("ForEachUser saw %d users, want %d", seen, n)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				if _, ok, err := db.Seen("ev-" + userKey(i)); err != nil || !ok {
					t.Errorf("Seen(ev-%s) = %v, %v", userKey(i), ok, err)
				}
				if u, ok, err := db.UserByVCCID("vcc-" + userKey(i)); err != nil || !ok || u.Key != userKey(i) {
					t.Errorf("UserByVCCID(vcc-%s) = %q, %v, %v", userKey(i), u.Key, ok, err)
				}
			}
		})
	}
}

func TestCommitLaterStateOfSameUserWins(t *testing.T) {
	db := mustOpen(t)
	err := db.Commit(Batch{Users: []UserState{
		{Key: userKey(1), Outcome: "created", VCCUserID: "vcc-old", Applied: 1},
		{Key: userKey(1), Outcome: "updated", VCCUserID: "vcc-new", Applied: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	u, _, _ := db.User(userKey(1))
	if u.Outcome != "updated" || u.Applied != 2 {
		t.Errorf("state = %+v, want the later one", u)
	}
	if _, ok, _ := db.UserByVCCID("vcc-old"); ok {
		t.Error("index still links vcc-old")
	}
}

func TestCommitIsAllOrNothing(t *testing.T) {
	tests := []struct {
		name  string
		batch Batch
	}{
		{"empty user key", Batch{
			Ledger: []LedgerEntry{{EventID: "ev-1"}},
			Users:  []UserState{{Key: userKey(1)}, {Key: ""}},
		}},
		{"empty event id", Batch{
			Ledger: []LedgerEntry{{EventID: "ev-1"}, {EventID: ""}},
			Users:  []UserState{{Key: userKey(1)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			if err := db.Commit(tt.batch); err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			if _, ok, _ := db.Seen("ev-1"); ok {
				t.Error("ledger entry of a failed batch was recorded")
			}
			if _, ok, _ := db.User(userKey(1)); ok {
				t.Error("user state of a failed batch was recorded")
			}
		})
	}
}

func TestForEachUserStopsAtError(t *testing.T) {
	db := mustOpen(t)
	var b Batch
	for i := range 10 {
		b.Users = append(b.Users, UserState{Key: userKey(i)})
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err := db.ForEachUser(func(UserState) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Errorf("ForEachUser = %v after %d calls, want the callback's error after 3", err, calls)
	}
}

func TestPruneLedger(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	ages := []time.Duration{ // entry i is ages[i] old
		40 * 24 * time.Hour, 35 * 24 * time.Hour, 31 * 24 * time.Hour, 30*24*time.Hour + time.Second,
		29 * 24 * time.Hour, time.Hour, 0,
	}
	cutoff := now.Add(-30 * 24 * time.Hour)
	tests := []struct {
		name      string
		max       int
		wantN     int
		wantGone  []int
		wantKept  []int
		secondRun int // what a second call with the same bound deletes
	}{
		{"bounded", 2, 2, []int{0, 1}, []int{2, 3, 4, 5, 6}, 2},
		{"bound above backlog", 10, 4, []int{0, 1, 2, 3}, []int{4, 5, 6}, 0},
		{"unbounded", 0, 4, []int{0, 1, 2, 3}, []int{4, 5, 6}, 0},
		{"one", 1, 1, []int{0}, []int{1, 2, 3, 4, 5, 6}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			var b Batch
			// Committed in reverse order: pruning must follow time, not insertion.
			for i := len(ages) - 1; i >= 0; i-- {
				b.Ledger = append(b.Ledger, LedgerEntry{EventID: eventID(i), At: now.Add(-ages[i])})
			}
			db.now = func() time.Time { return now.Add(-365 * 24 * time.Hour) } // no pruning inside Commit
			if err := db.Commit(b); err != nil {
				t.Fatal(err)
			}
			n, err := db.PruneLedger(cutoff, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN {
				t.Errorf("PruneLedger deleted %d, want %d", n, tt.wantN)
			}
			for _, i := range tt.wantGone {
				if _, ok, _ := db.Seen(eventID(i)); ok {
					t.Errorf("entry %d (%s old) kept, want pruned", i, ages[i])
				}
			}
			for _, i := range tt.wantKept {
				if _, ok, _ := db.Seen(eventID(i)); !ok {
					t.Errorf("entry %d (%s old) pruned, want kept", i, ages[i])
				}
			}
			if n, _ := db.PruneLedger(cutoff, tt.max); n != tt.secondRun {
				t.Errorf("second PruneLedger deleted %d, want %d", n, tt.secondRun)
			}
			assertTimeIndexConsistent(t, db)
		})
	}
}

func eventID(i int) string { return "ev-" + string(rune('a'+i)) }

func TestCommitPrunesBoundedBacklog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	const backlog = 1000
	old := time.Now().Add(-60 * 24 * time.Hour)

	// A store that kept entries for a year now holds a backlog of expired ones.
	db, err := Open(path, Options{LedgerRetention: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := range backlog {
		b.Ledger = append(b.Ledger, LedgerEntry{EventID: "old-" + userKey(i), At: old.Add(time.Duration(i) * time.Second)})
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenAt(t, path, Options{}) // default retention: 7 days
	tests := []struct {
		batch     int // ledger entries in the commit
		wantLeft  int // expired entries left after it
		wantFresh int
	}{
		{1, backlog - 64, 1},              // at least 64
		{100, backlog - 64 - 200, 101},    // twice the batch
		{0, backlog - 64 - 200 - 64, 101}, // users only: still 64
		{400, 0, 501},                     // 800 > what is left
	}
	fresh := 0
	for step, tt := range tests {
		var b Batch
		for range tt.batch {
			b.Ledger = append(b.Ledger, LedgerEntry{EventID: "new-" + userKey(fresh)})
			fresh++
		}
		b.Users = []UserState{{Key: userKey(step)}}
		if err := db.Commit(b); err != nil {
			t.Fatal(err)
		}
		left, total := countLedger(t, db, "old-", backlog)
		if left != tt.wantLeft || total-left != tt.wantFresh {
			t.Errorf("step %d: %d expired and %d fresh entries left, want %d and %d", step, left, total-left, tt.wantLeft, tt.wantFresh)
		}
		// Oldest first: the entries left are the newest of the backlog.
		if left > 0 {
			if _, ok, _ := db.Seen("old-" + userKey(backlog-left-1)); ok {
				t.Errorf("step %d: a newer expired entry was pruned before an older one", step)
			}
			if _, ok, _ := db.Seen("old-" + userKey(backlog-left)); !ok {
				t.Errorf("step %d: expired entries pruned out of order", step)
			}
		}
	}
	assertTimeIndexConsistent(t, db)
}

// countLedger returns how many of the ids prefix+userKey(0..n-1) the
// ledger holds, and how many entries it holds in all.
func countLedger(t *testing.T, db *DB, prefix string, n int) (matching, total int) {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + userKey(i)
	}
	for _, id := range ids {
		_, ok, err := db.Seen(id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			matching++
		}
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		total = tx.Bucket(bucketLedger).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return matching, total
}

func TestRecommitMovesTimeIndex(t *testing.T) {
	db := mustOpen(t)
	now := time.Now()
	for _, at := range []time.Time{now.Add(-40 * 24 * time.Hour), now} {
		db.now = func() time.Time { return now.Add(-365 * 24 * time.Hour) }
		if err := db.Commit(Batch{Ledger: []LedgerEntry{{EventID: "ev", At: at}}}); err != nil {
			t.Fatal(err)
		}
	}
	assertTimeIndexConsistent(t, db)
	if n, err := db.PruneLedger(now.Add(-30*24*time.Hour), 0); err != nil || n != 0 {
		t.Errorf("PruneLedger = %d, %v; the re-committed entry is recent and must stay", n, err)
	}
}

// assertTimeIndexConsistent checks that ledger and ledger_by_time hold the
// same entries.
func assertTimeIndexConsistent(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ledger, byTime := tx.Bucket(bucketLedger), tx.Bucket(bucketLedgerByTime)
		if a, b := ledger.Stats().KeyN, byTime.Stats().KeyN; a != b {
			t.Errorf("ledger has %d entries, time index %d", a, b)
		}
		return byTime.ForEach(func(k, _ []byte) error {
			v := ledger.Get(k[8:])
			if v == nil {
				t.Errorf("time index key %x has no ledger entry", k)
			} else if !bytes.Equal(v[:8], k[:8]) {
				t.Errorf("time index key %x: the entry has time %x", k, v[:8])
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommitAddApplied(t *testing.T) {
	db := mustOpen(t)
	// User 1 has a count stored; user 2 has none; user 1 appears twice in
	// the second batch.
	if err := db.Commit(Batch{Users: []UserState{{Key: userKey(1), Applied: 5, VCCUserID: "v1"}}}); err != nil {
		t.Fatal(err)
	}
	err := db.Commit(Batch{AddApplied: true, Users: []UserState{
		{Key: userKey(1), Applied: 2, Outcome: "updated", VCCUserID: "v1"},
		{Key: userKey(2), Applied: 1, Outcome: "created"},
		{Key: userKey(1), Applied: 1, Outcome: "unchanged", VCCUserID: "v2"},
		{Key: userKey(3), Applied: 0, Outcome: "duplicate"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int64{userKey(1): 8, userKey(2): 1, userKey(3): 0} {
		u, ok, err := db.User(key)
		if err != nil || !ok || u.Applied != want {
			t.Errorf("User(%s).Applied = %d (%v, %v), want %d", key, u.Applied, ok, err, want)
		}
	}
	if u, _, _ := db.User(userKey(1)); u.Outcome != "unchanged" || u.VCCUserID != "v2" {
		t.Errorf("user 1 = %+v, want the batch's last state", u)
	}
	if _, ok, _ := db.UserByVCCID("v1"); ok {
		t.Error("the VCC index still links v1")
	}
}

// With AddApplied, Commit reads only the head of the record it replaces
// (the count and the VCC link): the rest is not decoded.
func TestCommitReadsOnlyTheHeadOfTheOldRecord(t *testing.T) {
	db := mustOpen(t)
	head := encodeUser(UserState{Key: userKey(1), Applied: 41, VCCUserID: "v1"})[:1+1+1+len("v1")+1]
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).Put([]byte(userKey(1)), append(head, 0xff, 0xff, 0xff)) // a broken tail
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.User(userKey(1)); err == nil {
		t.Fatal("the broken record decodes: the test needs one that does not")
	}
	if err := db.Commit(Batch{AddApplied: true, Users: []UserState{{Key: userKey(1), Applied: 1, VCCUserID: "v1"}}}); err != nil {
		t.Fatal(err)
	}
	if u, _, err := db.User(userKey(1)); err != nil || u.Applied != 42 {
		t.Errorf("User = %+v, %v; want 42 applied", u, err)
	}
}
