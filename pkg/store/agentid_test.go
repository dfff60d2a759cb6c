package store

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func set(ids ...string) func(string) bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return func(id string) bool { return m[id] }
}

func TestReserveAgentID(t *testing.T) {
	type step struct {
		op    string // reserve, claim, release
		user  int
		start int
		inUse []string
		id    string // claim: the ID; reserve: the wanted result
		err   error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first from start", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
		}},
		{"stable per user", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 1, start: 1000, inUse: []string{"1000"}, id: "1000"},
			{op: "reserve", user: 1, start: 5000, id: "1000"},
		}},
		{"skips IDs in use", []step{
			{op: "reserve", user: 1, start: 1000, inUse: []string{"1000", "1001", "1003"}, id: "1002"},
			{op: "reserve", user: 2, start: 1000, inUse: []string{"1000", "1001", "1003"}, id: "1004"},
		}},
		{"skips other users' reservations", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 1000, id: "1001"},
			{op: "reserve", user: 3, start: 1000, id: "1002"},
		}},
		{"skips claimed IDs", []step{
			{op: "claim", user: 1, id: "1000"},
			{op: "claim", user: 2, id: "1001"},
			{op: "claim", user: 3, id: "1003"},
			{op: "reserve", user: 4, start: 1000, id: "1002"},
			{op: "reserve", user: 5, start: 1000, id: "1004"},
		}},
		{"skips reserved and in use together", []step{
			{op: "claim", user: 1, id: "11"},
			{op: "claim", user: 2, id: "13"},
			{op: "reserve", user: 3, start: 10, inUse: []string{"10", "12", "14"}, id: "15"},
		}},
		{"released ID is offered again", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 1000, id: "1001"},
			{op: "reserve", user: 3, start: 1000, id: "1002"},
			{op: "release", user: 2},
			{op: "release", user: 2}, // nothing reserved: no-op
			{op: "reserve", user: 4, start: 1000, id: "1001"},
			{op: "reserve", user: 5, start: 1000, id: "1003"},
		}},
		{"released ID in use is skipped", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 1000, id: "1001"},
			{op: "release", user: 1},
			{op: "reserve", user: 3, start: 1000, inUse: []string{"1000"}, id: "1002"},
		}},
		{"released ID above the floor is found by the search", []step{
			{op: "claim", user: 1, id: "1002"},
			{op: "release", user: 1},
			{op: "reserve", user: 2, start: 1000, id: "1000"},
			{op: "reserve", user: 3, start: 1000, id: "1001"},
			{op: "reserve", user: 4, start: 1000, id: "1002"},
			{op: "reserve", user: 5, start: 1000, id: "1003"},
		}},
		{"released ID claimed meanwhile is not offered", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 1000, id: "1001"},
			{op: "release", user: 1},
			{op: "claim", user: 3, id: "1000"},
			{op: "reserve", user: 4, start: 1000, id: "1002"},
		}},
		{"released ID below another start is not offered", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 1000, id: "1001"},
			{op: "release", user: 1},
			{op: "reserve", user: 3, start: 1001, id: "1002"},
			{op: "reserve", user: 4, start: 1000, id: "1000"},
		}},
		{"ID found in use is not offered again", []step{
			{op: "reserve", user: 1, start: 1000, inUse: []string{"1000"}, id: "1001"},
			{op: "reserve", user: 2, start: 1000, id: "1002"},
		}},
		{"starts are independent", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "reserve", user: 2, start: 2000, id: "2000"},
			{op: "reserve", user: 3, start: 1000, id: "1001"},
			{op: "reserve", user: 4, start: 999, id: "999"},
			{op: "reserve", user: 5, start: 999, id: "1002"},
		}},
		{"claim conflict", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "claim", user: 2, id: "1000", err: ErrAgentIDTaken},
			{op: "claim", user: 1, id: "1000"}, // own ID: no-op
			{op: "claim", user: 2, id: "abc"},
			{op: "claim", user: 3, id: "abc", err: ErrAgentIDTaken},
			{op: "claim", user: 3, id: "01000"}, // a different string
		}},
		{"claim moves the user's reservation", []step{
			{op: "reserve", user: 1, start: 1000, id: "1000"},
			{op: "claim", user: 1, id: "4242"},
			{op: "reserve", user: 1, start: 1000, id: "4242"},
			{op: "reserve", user: 2, start: 1000, id: "1000"},
		}},
		{"start zero", []step{
			{op: "reserve", user: 1, start: 0, inUse: []string{"0"}, id: "1"},
		}},
		{"everything in use", []step{
			{op: "reserve", user: 1, start: 1000, id: "", err: ErrNoFreeAgentID},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			for i, st := range tt.steps {
				var (
					got string
					err error
				)
				switch st.op {
				case "reserve":
					inUse := set(st.inUse...)
					if st.err == ErrNoFreeAgentID {
						inUse = func(string) bool { return true }
					}
					got, err = db.ReserveAgentID(userKey(st.user), st.start, inUse)
				case "claim":
					err = db.ClaimAgentID(userKey(st.user), st.id)
				case "release":
					err = db.ReleaseAgentID(userKey(st.user))
				}
				if st.err != nil {
					if !errors.Is(err, st.err) {
						t.Fatalf("step %d %s user %d: err %v, want %v", i, st.op, st.user, err, st.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d %s user %d: %v", i, st.op, st.user, err)
				}
				if st.op == "reserve" && got != st.id {
					t.Fatalf("step %d: ReserveAgentID(user %d, %d) = %q, want %q", i, st.user, st.start, got, st.id)
				}
			}
			assertAgentIndexConsistent(t, db)
		})
	}
}

func TestAgentIDsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vccsync.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for u := range 5 {
		id, err := db.ReserveAgentID(userKey(u), 1000, set("1002"))
		if err != nil {
			t.Fatal(err)
		}
		want[u] = id
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenAt(t, path, Options{})
	for u, id := range want {
		got, err := db.ReserveAgentID(userKey(u), 1000, nil)
		if err != nil || got != id {
			t.Errorf("user %d after reopen: %q, %v; want %q", u, got, err, id)
		}
		if got, ok, err := db.AgentID(userKey(u)); err != nil || !ok || got != id {
			t.Errorf("AgentID(user %d) = %q, %v, %v; want %q", u, got, ok, err, id)
		}
		if holder, ok, err := db.AgentIDHolder(id); err != nil || !ok || holder != userKey(u) {
			t.Errorf("AgentIDHolder(%s) = %q, %v, %v", id, holder, ok, err)
		}
	}
	if got, _ := db.ReserveAgentID(userKey(99), 1000, set("1002")); got != "1006" {
		t.Errorf("next reservation after reopen = %q, want 1006", got)
	}
}

// TestReserveAgentIDDoesNotRescan checks that a large account does not pay
// for its size on every reservation: the search resumes where the last one
// ended instead of asking about every ID from the start.
func TestReserveAgentIDDoesNotRescan(t *testing.T) {
	db := mustOpen(t)
	const start, existing = 1000, 20000
	inVCC := make(map[string]bool, existing)
	for i := range existing { // agents created before vccsync: 1000..20999, with gaps
		if i%1000 != 999 {
			inVCC[strconv.Itoa(start+i)] = true
		}
	}
	calls := 0
	inUse := func(id string) bool { calls++; return inVCC[id] }

	id, err := db.ReserveAgentID(userKey(0), start, inUse)
	if err != nil || id != "1999" {
		t.Fatalf("first reservation = %q, %v; want the first gap 1999", id, err)
	}
	if calls < 999 {
		t.Fatalf("first reservation asked about %d IDs, want the whole run", calls)
	}
	for u := 1; u <= 100; u++ {
		calls = 0
		if _, err := db.ReserveAgentID(userKey(u), start, inUse); err != nil {
			t.Fatal(err)
		}
		if calls > 1001 {
			t.Fatalf("reservation %d asked about %d IDs: it rescanned from the start", u, calls)
		}
	}
	// A released ID is offered again without walking the range once more.
	if err := db.ReleaseAgentID(userKey(0)); err != nil {
		t.Fatal(err)
	}
	for _, u := range []int{200, 201} {
		calls = 0
		id, err := db.ReserveAgentID(userKey(u), start, inUse)
		if err != nil {
			t.Fatal(err)
		}
		if u == 200 && id != "1999" {
			t.Errorf("reservation after a release = %s, want the released 1999", id)
		}
		if calls > 1 {
			t.Errorf("reservation %s after a release asked about %d IDs, want 1", id, calls)
		}
	}
	// Reserved runs are skipped with the cursor, not with inUse.
	calls = 0
	if _, err := db.ReserveAgentID(userKey(300), 21000, func(string) bool { calls++; return false }); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("reservation above a reserved run asked inUse about %d IDs, want 1", calls)
	}
}

// assertAgentIndexConsistent checks that agent_ids and agent_ids_by_user
// mirror each other.
func assertAgentIndexConsistent(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ids, byUser := tx.Bucket(bucketAgentIDs), tx.Bucket(bucketAgentByUser)
		if a, b := ids.Stats().KeyN, byUser.Stats().KeyN; a != b {
			t.Errorf("agent_ids has %d keys, agent_ids_by_user %d", a, b)
		}
		return byUser.ForEach(func(user, id []byte) error {
			if got := ids.Get(agentKey(string(id))); string(got) != string(user) {
				t.Errorf("agent ID %s: user %s holds it by user, %q by ID", id, user, got)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAgentKeyOrder(t *testing.T) {
	tests := []struct{ a, b string }{ // a sorts before b
		{"9", "10"}, {"999", "1000"}, {"0", "1"}, {"1000", "01000"}, {"99999", "abc"}, {"01", "1a"},
	}
	for _, tt := range tests {
		if string(agentKey(tt.a)) >= string(agentKey(tt.b)) {
			t.Errorf("agentKey(%q) = %q does not sort before agentKey(%q) = %q", tt.a, agentKey(tt.a), tt.b, agentKey(tt.b))
		}
	}
}
