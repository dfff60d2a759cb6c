package store

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/vccsync/vccsync/pkg/events"
)

// cmpStored compares states as the store returns them: an empty Synced
// map or ChangedFields list reads back as nil.
var cmpStored = cmpopts.EquateEmpty()

// stored is u as the codec keeps it: the Value of an absent or null field
// is dropped.
func stored(u UserState) UserState {
	f := fieldsOf(&u.Snapshot)
	for _, p := range f.str {
		if !p.Known() {
			p.Value = ""
		}
	}
	if !f.act.Known() {
		f.act.Value = false
	}
	for _, p := range []*events.Field[events.Time]{f.lmd, f.sms} {
		if !p.Known() {
			p.Value = events.Time{}
		}
	}
	return u
}

func roundTrip(t *testing.T, u UserState) UserState {
	t.Helper()
	v := encodeUser(u)
	got, err := decodeUser(u.Key, v)
	if err != nil {
		t.Fatalf("decode %x: %v", v, err)
	}
	return got
}

func TestUserCodecRoundTrip(t *testing.T) {
	key := "0055e000001AbCdAAK"
	at := time.Date(2026, 11, 20, 10, 15, 0, 123456789, time.UTC)
	full := sampleUser()
	full.ID = key
	full.LastName = events.Val("Smith")
	full.FirstName = events.Val("Jane")
	full.Email = events.Val("jane.smith@acme.example") // same as Username: stored as a reference
	full.LastModifiedDate = events.Val(events.Time{Time: at})
	tests := []struct {
		name string
		u    UserState
	}{
		{"key only", UserState{Key: key}},
		{"every field", UserState{
			Key: key, VCCUserID: "8e22b1fe-0001-4a5b-9c3d-0123456789ab", Checkpoint: at,
			LastEventID: "cdc-" + key + "-0002343d-9d90-e395-ed20-cf416ba652ad-1",
			Snapshot:    full,
			Synced: map[string]string{
				"username": "jane.smith@acme.example", "name": "Jane Smith", "email": "jane.smith@acme.example",
				"ssoExternalId": "jsmith", "active": "false", "agentDisplayId": "1042", "provisioned": "template@acme.example",
				"contactCenter": "Support EMEA", "alias": "jsmith", "notes": "ümlaut ✓ \"quoted\"", "": "",
			},
			AgentID: "1042", Outcome: "updated", LastError: "vcc: 409 conflict", UpdatedAt: at, Applied: 1 << 40,
		}},
		{"not a canonical UUID", UserState{Key: key, VCCUserID: "8E22B1FE-0001-4A5B-9C3D-0123456789AB"}},
		{"negative count, unknown outcome", UserState{Key: key, Applied: -3, Outcome: "something new"}},
		{"snapshot of another user", UserState{Key: key, Snapshot: events.User{ID: "0055e000009ZzZzAAA"}}},
		{"key twice in the event id", UserState{Key: key, LastEventID: key + "-" + key}},
		{"times far apart", UserState{Key: key,
			Checkpoint: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			UpdatedAt:  time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Snapshot: events.User{
				SystemModstamp:   events.Val(events.Time{Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}), // = checkpoint
				LastModifiedDate: events.Val(events.Time{Time: time.Date(1960, 1, 1, 0, 0, 0, 5e6, time.UTC)}),
			}}},
		{"a time in another zone", UserState{Key: key, Checkpoint: at.In(time.FixedZone("CET", 3600))}},
		{"every field null", UserState{Key: key, Snapshot: events.User{
			ID: key, Username: events.Null[string](), Alias: events.Null[string](),
			Email: events.Null[string](), FirstName: events.Null[string](), LastName: events.Null[string](),
			IsActive: events.Null[bool](), FederationIdentifier: events.Null[string](),
			ProfileID: events.Null[string](), CallCenterID: events.Null[string](), AgentID: events.Null[string](),
			LastModifiedDate: events.Null[events.Time](), SystemModstamp: events.Null[events.Time](),
		}}},
		{"values behind absent and null fields", UserState{Key: key, Snapshot: events.User{
			Username: events.Field[string]{Value: "dropped"}, Alias: events.Field[string]{Set: true, Null: true, Value: "dropped"},
			Email: events.Val("dropped"), IsActive: events.Field[bool]{Set: true, Null: true, Value: true},
		}, Synced: map[string]string{"username": "dropped", "email": "dropped"}}},
		{"empty values", UserState{Key: key, Snapshot: events.User{
			Username: events.Val(""), Alias: events.Val(""), IsActive: events.Val(true),
		}, Synced: map[string]string{"alias": "", "active": "true"}}},
		{"empty synced map", UserState{Key: key, Synced: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(stored(tt.u), roundTrip(t, tt.u), cmpStored); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// The snapshot's three states of every field survive, and a string equal to
// an earlier one is stored as a reference to it.
func TestUserCodecReferences(t *testing.T) {
	key := "0055e000001AbCdAAK"
	long := strings.Repeat("x", 60)
	u := UserState{Key: key, Snapshot: events.User{ID: key, Username: events.Val(long), Email: events.Val(long),
		FederationIdentifier: events.Val(long)}, Synced: map[string]string{"username": long, "email": long, "name": long}}
	v := encodeUser(u)
	if len(v) > len(long)+40 {
		t.Errorf("record of %d bytes holds a value of %d bytes more than once: %x", len(v), len(long), v)
	}
	if diff := cmp.Diff(stored(u), roundTrip(t, u), cmpStored); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestCodecCoversEveryUserField fails when events.User gains or loses a
// field: the user codec (snapshotFields, encodeSnapshot) must follow, and
// the new field needs a state pair of its own (appended, never reusing one).
func TestCodecCoversEveryUserField(t *testing.T) {
	want := []string{"ID", "Username", "Alias", "Email", "FirstName", "LastName", "IsActive", "FederationIdentifier",
		"ProfileID", "CallCenterID", "AgentID", "LastModifiedDate", "SystemModstamp", "ChangedFields"}
	var got []string
	for f := range reflect.TypeFor[events.User]().Fields() {
		got = append(got, f.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events.User fields changed: update the user codec in users.go (-codec +events.User):\n%s", diff)
	}
}

// TestUserCodecGolden pins the binary form: a change to the encoding of
// stored records needs a new codec byte and a migration, not an edit.
func TestUserCodecGolden(t *testing.T) {
	key := "0055e000001AbCdAAK"
	at := time.Date(2026, 11, 20, 10, 15, 0, 123e6, time.UTC)
	snap := sampleUser()
	snap.ID = key
	snap.SystemModstamp = events.Val(events.Time{Time: at})
	u := UserState{Key: key, VCCUserID: "8e22b1fe-0001-4a5b-9c3d-0123456789ab", Checkpoint: at,
		LastEventID: "sf-snapshot-" + key + "-1795169700123", Snapshot: snap,
		Synced:  map[string]string{"username": "jane.smith@acme.example", "active": "false", "contactCenter": "Support"},
		AgentID: "1042", Outcome: "created", UpdatedAt: at.Add(456789), Applied: 2}
	got := hex.EncodeToString(encodeUser(u))
	if got != goldenUser {
		t.Errorf("encodeUser =\n%s\nwant\n%s", got, goldenUser)
	}
	if diff := cmp.Diff(stored(u), roundTrip(t, u), cmpStored); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// goldenUser is the record of TestUserCodecGolden's user.
const goldenUser = "0104008e22b1fe00014a5b9c3d0123456789ab01b6a49e87bf68033073662d736e617073686f742d01382d313739353136393730303132339a28" +
	"d901015c6a616e652e736d6974684061636d652e6578616d706c65186a736d697468001110313034320205416c69617305456d61696c15030509" +
	"091c537570706f7274010d020002c8f680b00d959aef3a"

// Every truncation of a record, and records with bytes changed, are
// refused with an error; none panics.
func TestDecodeUserRefusesCorruptRecords(t *testing.T) {
	key := "0055e000001AbCdAAK"
	u := UserState{Key: key, VCCUserID: "vcc-1", Snapshot: sampleUser(), Synced: map[string]string{"email": "x@y"},
		Checkpoint: time.Now(), UpdatedAt: time.Now(), LastEventID: "ev"}
	v := encodeUser(u)
	for n := range len(v) {
		if _, err := decodeUser(key, v[:n]); err == nil {
			t.Errorf("decoding the first %d of %d bytes succeeded", n, len(v))
		}
	}
	if _, err := decodeUser(key, append(v, 0)); err == nil {
		t.Error("decoding a record with a byte too many succeeded")
	}
	for i := range v {
		c := append([]byte(nil), v...)
		c[i] ^= 0xff
		_, _ = decodeUser(key, c) // must not panic
	}
	if _, err := decodeUser(key, []byte(`{"key":"x"}`)); err == nil || !strings.Contains(err.Error(), "unknown record format") {
		t.Errorf("decoding a JSON record: %v, want an unknown format", err)
	}
}

func TestCorruptUserRecordIsAnErrorNamingTheKey(t *testing.T) {
	db := mustOpen(t)
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).Put([]byte(userKey(1)), []byte{userCodec, 0x80})
	}); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, _, checks["User"] = db.User(userKey(1))
	checks["ForEachUser"] = db.ForEachUser(func(UserState) error { return nil })
	checks["Commit"] = db.Commit(Batch{Users: []UserState{{Key: userKey(1)}}})
	checks["LinkUser"] = db.LinkUser(userKey(1), "vcc-1")
	for name, err := range checks {
		if err == nil || !strings.Contains(err.Error(), userKey(1)) {
			t.Errorf("%s on a corrupt record: %v, want an error naming %s", name, err, userKey(1))
		}
	}
}

// fuzzUser builds a user state from fuzz input: shape picks each field's
// state and value among a few strings (so that values repeat and
// references are used), times come from the integers.
func fuzzUser(key, a, b string, shape []byte, t1, t2, applied int64) UserState {
	pick := func(i int) byte {
		if len(shape) == 0 {
			return 0
		}
		return shape[i%len(shape)]
	}
	choices := []string{a, b, "", key, "true", "false", a + b}
	str := func(i int) events.Field[string] {
		switch c := pick(i); c % 3 {
		case 0:
			return events.Field[string]{}
		case 1:
			return events.Null[string]()
		default:
			return events.Val(choices[int(c/3)%len(choices)])
		}
	}
	tm := func(i int) time.Time {
		switch pick(i) % 4 {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(t1, t2)
		case 2:
			return time.UnixMilli(t1)
		}
		return time.Unix(0, t2)
	}
	tf := func(i int) events.Field[events.Time] {
		switch pick(i) % 3 {
		case 0:
			return events.Field[events.Time]{}
		case 1:
			return events.Null[events.Time]()
		}
		return events.Val(events.Time{Time: tm(i + 7)})
	}
	u := UserState{Key: key, VCCUserID: choices[int(pick(20))%len(choices)], Checkpoint: tm(21),
		LastEventID: a + key + b, AgentID: choices[int(pick(22))%len(choices)], Outcome: choices[int(pick(23))%len(choices)],
		LastError: b, UpdatedAt: tm(24), Applied: applied}
	s := &u.Snapshot
	s.ID = choices[int(pick(25))%len(choices)]
	f := fieldsOf(s)
	for i, p := range f.str {
		*p = str(i)
	}
	switch pick(9) % 4 {
	case 1:
		*f.act = events.Null[bool]()
	case 2:
		*f.act = events.Val(false)
	case 3:
		*f.act = events.Val(true)
	}
	*f.lmd, *f.sms = tf(10), tf(11)
	if pick(26)%2 == 1 {
		u.Snapshot.SystemModstamp = events.Val(events.Time{Time: u.Checkpoint})
	}
	if n := int(pick(27) % 4); n > 0 {
		s.ChangedFields = choices[:n]
	}
	if n := int(pick(28) % 12); n > 0 {
		u.Synced = map[string]string{}
		keys := append(append([]string{}, syncedKeyTable...), a, b)
		for i := range n {
			u.Synced[keys[(int(pick(29+i)))%len(keys)]] = choices[int(pick(40+i))%len(choices)]
		}
	}
	return u
}

func FuzzUserCodec(f *testing.F) {
	f.Add("0055e000001AbCdAAK", "jane.smith@acme.example", "Jane", []byte{2, 5, 8, 0, 1, 11, 3, 17}, int64(1795169700), int64(123456789), int64(3))
	f.Add("", "", "", []byte{}, int64(0), int64(0), int64(0))
	f.Add("k", "8e22b1fe-0001-4a5b-9c3d-0123456789ab", "k", []byte{255, 254, 7, 3}, int64(-62135596800), int64(1), int64(math.MinInt64))
	f.Add("0055e000001AbCdAAK", "x", "y", encodeUser(UserState{Key: "k", Snapshot: sampleUser(), Synced: map[string]string{"email": "a"}}),
		int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, key, a, b string, shape []byte, t1, t2, applied int64) {
		u := fuzzUser(key, a, b, shape, t1, t2, applied)
		v := encodeUser(u)
		got, err := decodeUser(key, v)
		if err != nil {
			t.Fatalf("decode %x: %v", v, err)
		}
		if diff := cmp.Diff(stored(u), got, cmpStored); diff != "" {
			t.Fatalf("round trip of %x (-want +got):\n%s", v, diff)
		}
		if h, err := peekUser(v); err != nil || h.applied != u.Applied || h.vccUserID != u.VCCUserID {
			t.Fatalf("peekUser = %+v, %v; want %d, %q", h, err, u.Applied, u.VCCUserID)
		}
		w := withApplied(v, applied/2)
		if h, err := peekUser(w); err != nil || h.applied != applied/2 {
			t.Fatalf("withApplied: head %+v, %v", h, err)
		}
		if g, err := decodeUser(key, w); err != nil || g.Applied != applied/2 || !g.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("withApplied: %+v, %v", g, err)
		}
		// Any bytes: an error or a state that encodes and decodes to itself.
		d, err := decodeUser(key, shape)
		if err != nil {
			return
		}
		again, err := decodeUser(key, encodeUser(d))
		if err != nil {
			t.Fatalf("re-encoded record of %x: %v", shape, err)
		}
		if diff := cmp.Diff(d, again, cmpStored); diff != "" {
			t.Fatalf("decoded %x, re-encoded, decoded again (-first +second):\n%s", shape, diff)
		}
	})
}

func TestHistoryEntryCodecTimes(t *testing.T) {
	db := mustOpen(t)
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	entries := []HistoryEntry{
		{At: base, EventID: "a"},
		{At: base, EventID: "b"},                                        // same nanosecond
		{At: base.Add(-time.Hour), EventID: "c"},                        // clock went back: kept after b
		{At: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), EventID: "d"}, // before 1970
		{At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), EventID: "e"}, // after 2262
		{At: base.Add(time.Nanosecond), EventID: "f"},                   // older than e's key time
		{At: base.In(time.FixedZone("CET", 3600)), EventID: "g", Type: "vccsync.command.other", Action: "x"},
	}
	if err := db.Commit(Batch{History: map[string][]HistoryEntry{userKey(1): entries}}); err != nil {
		t.Fatal(err)
	}
	got := mustHistory(t, db, userKey(1), 0)
	want := make([]HistoryEntry, len(entries))
	for i, e := range entries {
		want[len(entries)-1-i] = e
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
}

func FuzzHistoryEntryCodec(f *testing.F) {
	f.Add("0055e000001AbCdAAK", "cdc-0055e000001AbCdAAK-1", "set-webrtc", "vccsync.command.set-webrtc", "refused", "ops", "why", "err", "poison", int64(1795169700123456789), []byte("email\x00a\x00b"))
	f.Add("", "", "", "", "", "", "", "", "", int64(0), []byte{})
	f.Add("k", "k", "", "salesforce.user.changed", "x", "", "", "", "other", int64(-1), []byte{historyCodec, 0x3f})
	f.Fuzz(func(t *testing.T, key, id, action, typ, outcome, by, reason, errText, class string, at int64, raw []byte) {
		e := HistoryEntry{At: time.Unix(0, at).UTC(), EventID: id, Type: typ, Action: action, RequestedBy: by, Reason: reason,
			Outcome: outcome, Error: errText, ErrorClass: class}
		for part := range strings.SplitSeq(string(raw), "\x00\x00") {
			f := strings.SplitN(part, "\x00", 3)
			for len(f) < 3 {
				f = append(f, "")
			}
			e.Changes = append(e.Changes, FieldChange{Field: f[0], Old: f[1], New: f[2]})
		}
		tail := make([]byte, historyKeyExtra)
		ns := nanos(e.At)
		copy(tail, historyKey(nil, ns, 0))
		v := encodeHistoryEntry(key, e)
		if !exact(ns, e.At) {
			w := enc{b: v}
			w.time(e.At)
			v = w.b
		}
		got, err := decodeHistoryEntry(key, tail, v)
		if err != nil {
			t.Fatalf("decode %x: %v", v, err)
		}
		if diff := cmp.Diff(e, got, cmpStored); diff != "" {
			t.Fatalf("round trip of %x (-want +got):\n%s", v, diff)
		}
		if d, err := decodeHistoryEntry(key, tail, raw); err == nil {
			again := encodeHistoryEntry(key, d)
			if !exact(ns, d.At) {
				w := enc{b: again}
				w.time(d.At)
				again = w.b
			}
			d2, err := decodeHistoryEntry(key, tail, again)
			if err != nil {
				t.Fatalf("re-encoded entry of %x: %v", raw, err)
			}
			if diff := cmp.Diff(d, d2, cmpStored); diff != "" {
				t.Fatalf("decoded %x, re-encoded, decoded again (-first +second):\n%s", raw, diff)
			}
		}
	})
}

func TestLedgerCodec(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC), {}, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		for _, outcome := range []string{"", "updated", "some new outcome"} {
			e := LedgerEntry{EventID: "ev-1", Outcome: outcome, At: at}
			r := encodeLedger(e)
			got, err := decodeLedger(e.EventID, r.val)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Errorf("round trip of %x (-want +got):\n%s", r.val, diff)
			}
			if len(r.key) != ledgerHashLen || len(r.time) != 8+ledgerHashLen {
				t.Errorf("key %x, time key %x: want %d and %d bytes", r.key, r.time, ledgerHashLen, 8+ledgerHashLen)
			}
		}
	}
	if _, err := decodeLedger("ev-1", []byte{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "ev-1") {
		t.Errorf("decoding a short value: %v, want an error naming the event", err)
	}
}

// BenchmarkUserCodec encodes and decodes the user state of
// BenchmarkStoreSize100k's workload, in the binary form and, for
// comparison, in version 1's JSON, and reports the sizes.
func BenchmarkUserCodec(b *testing.B) {
	batches, _ := sizeWorkload(1, true)
	u := batches[0].Users[0]
	bin := encodeUser(u)
	js, err := json.Marshal(u)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			v := encodeUser(u)
			if _, err := decodeUser(u.Key, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(bin)), "B/record")
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			v, err := json.Marshal(u)
			if err != nil {
				b.Fatal(err)
			}
			var d UserState
			if err := json.Unmarshal(v, &d); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "B/record")
	})
}
