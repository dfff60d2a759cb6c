package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/vccsync/vccsync/pkg/events"
)

func stamp(s string) events.Field[events.Time] {
	t, err := events.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return events.Val(t)
}

// sampleUser has every Field state: values, nulls and absent fields.
func sampleUser() events.User {
	return events.User{
		ID:                   "0055e000001AbCdAAK",
		Username:             events.Val("jane.smith@acme.example"),
		Alias:                events.Val("jsmith"),
		Email:                events.Null[string](),
		FirstName:            events.Val(""), // a known empty value is not null
		IsActive:             events.Val(false),
		FederationIdentifier: events.Val("jsmith"),
		CallCenterID:         events.Null[string](),
		AgentID:              events.Val("1042"),
		SystemModstamp:       stamp("2026-11-20T10:15:00.123Z"),
		LastModifiedDate:     events.Null[events.Time](),
		ChangedFields:        []string{"Alias", "Email"},
		// LastName, ProfileID: absent.
	}
}

func assertUserEqual(t *testing.T, got, want UserState) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user state differs (-want +got):\n%s", diff)
	}
}

func TestUserStateRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 15, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		u    UserState
	}{
		{"key only", UserState{Key: userKey(1), UpdatedAt: at}},
		{"all fields", UserState{
			Key: userKey(2), VCCUserID: "vcc-2", Checkpoint: at, LastEventID: "04l5e00000AbCdEAAV",
			Snapshot: sampleUser(),
			Synced: map[string]string{
				"firstName": "Jane", "lastName": "", "email": "jane.smith@acme.example",
				"ssoExternalId": "jsmith", "agentDisplayId": "1042", "notes": "ümlaut ✓ \"quoted\"",
			},
			AgentID: "1042", Outcome: "updated", LastError: "vcc: 409 conflict", UpdatedAt: at, Applied: 1 << 40,
		}},
		{"every field absent", UserState{Key: userKey(3), Snapshot: events.User{ID: "0055e000001AbCdAAK"}, UpdatedAt: at}},
		{"every field null", UserState{Key: userKey(4), UpdatedAt: at, Snapshot: events.User{
			ID: "0055e000001AbCdAAK", Username: events.Null[string](), Alias: events.Null[string](),
			Email: events.Null[string](), FirstName: events.Null[string](), LastName: events.Null[string](),
			IsActive: events.Null[bool](), FederationIdentifier: events.Null[string](),
			ProfileID: events.Null[string](), CallCenterID: events.Null[string](), AgentID: events.Null[string](),
			LastModifiedDate: events.Null[events.Time](), SystemModstamp: events.Null[events.Time](),
		}}},
		{"empty synced map", UserState{Key: userKey(5), Synced: map[string]string{}, UpdatedAt: at}},
	}
	db := mustOpen(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Commit(Batch{Users: []UserState{tt.u}}); err != nil {
				t.Fatal(err)
			}
			got, ok, err := db.User(tt.u.Key)
			if err != nil || !ok {
				t.Fatalf("User(%s) = %v, %v", tt.u.Key, ok, err)
			}
			want := tt.u
			if len(want.Synced) == 0 {
				want.Synced = nil // an empty map is stored as absent
			}
			assertUserEqual(t, got, want)
		})
	}
}

func TestSnapshotFieldStatesSurvive(t *testing.T) {
	db := mustOpen(t)
	if err := db.Commit(Batch{Users: []UserState{{Key: userKey(1), Snapshot: sampleUser()}}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.User(userKey(1))
	if err != nil {
		t.Fatal(err)
	}
	s := got.Snapshot
	type state struct{ set, null bool }
	tests := []struct {
		field string
		got   state
		want  state
		value any
		wantV any
	}{
		{"Username (value)", state{s.Username.Set, s.Username.Null}, state{true, false}, s.Username.Value, "jane.smith@acme.example"},
		{"FirstName (empty value)", state{s.FirstName.Set, s.FirstName.Null}, state{true, false}, s.FirstName.Value, ""},
		{"IsActive (false)", state{s.IsActive.Set, s.IsActive.Null}, state{true, false}, s.IsActive.Value, false},
		{"Email (null)", state{s.Email.Set, s.Email.Null}, state{true, true}, s.Email.Value, ""},
		{"CallCenterId (null)", state{s.CallCenterID.Set, s.CallCenterID.Null}, state{true, true}, s.CallCenterID.Value, ""},
		{"LastName (absent)", state{s.LastName.Set, s.LastName.Null}, state{false, false}, s.LastName.Value, ""},
		{"ProfileId (absent)", state{s.ProfileID.Set, s.ProfileID.Null}, state{false, false}, s.ProfileID.Value, ""},
		{"LastModifiedDate (null time)", state{s.LastModifiedDate.Set, s.LastModifiedDate.Null}, state{true, true}, s.LastModifiedDate.Value.IsZero(), true},
		{"SystemModstamp (time)", state{s.SystemModstamp.Set, s.SystemModstamp.Null}, state{true, false},
			s.SystemModstamp.Value.Format(time.RFC3339Nano), "2026-11-20T10:15:00.123Z"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("state {set, null} = %v, want %v", tt.got, tt.want)
			}
			if tt.value != tt.wantV {
				t.Errorf("value = %v, want %v", tt.value, tt.wantV)
			}
		})
	}
	// Merging the stored snapshot with an update keeps what the update leaves absent.
	m := s.Merge(events.User{ID: s.ID, LastName: events.Val("Smith"), Alias: events.Null[string]()})
	if m.Username.Get() != "jane.smith@acme.example" || m.LastName.Get() != "Smith" || !m.Alias.Null || !m.Email.Null {
		t.Errorf("merge of the stored snapshot = %+v", m)
	}

	// The stored record is the binary form, and encoding what was read
	// gives the same bytes: the three states are kept apart in it.
	var raw []byte
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket(bucketUsers).Get([]byte(userKey(1)))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || raw[0] != userCodec {
		t.Fatalf("stored record %x is not of the binary form", raw)
	}
	if again := encodeUser(got); !bytes.Equal(again, raw) {
		t.Errorf("re-encoded record\n%x\ndiffers from the stored one\n%x", again, raw)
	}
}

func TestUserByVCCIDFollowsLink(t *testing.T) {
	a, b := userKey(1), userKey(2)
	steps := []struct {
		name   string
		commit []UserState
		want   map[string]string // VCC id → user key; "" = not linked
	}{
		{"link", []UserState{{Key: a, VCCUserID: "v1"}},
			map[string]string{"v1": a}},
		{"relink to another VCC user", []UserState{{Key: a, VCCUserID: "v2"}},
			map[string]string{"v1": "", "v2": a}},
		{"state without link change", []UserState{{Key: a, VCCUserID: "v2", Outcome: "updated"}},
			map[string]string{"v2": a}},
		{"unlink", []UserState{{Key: a}},
			map[string]string{"v2": ""}},
		{"link again", []UserState{{Key: a, VCCUserID: "v3"}},
			map[string]string{"v3": a}},
		{"another user takes the VCC user", []UserState{{Key: b, VCCUserID: "v3"}},
			map[string]string{"v3": b}},
		{"previous holder unlinks", []UserState{{Key: a}},
			map[string]string{"v3": b}},
		{"both change in one batch", []UserState{{Key: a, VCCUserID: "v4"}, {Key: b, VCCUserID: "v5"}},
			map[string]string{"v3": "", "v4": a, "v5": b}},
		{"swap in one batch", []UserState{{Key: a, VCCUserID: "v5"}, {Key: b, VCCUserID: "v4"}},
			map[string]string{"v4": b, "v5": a}},
		{"empty id never matches", nil,
			map[string]string{"": ""}},
	}
	db := mustOpen(t)
	for _, st := range steps {
		if len(st.commit) > 0 {
			if err := db.Commit(Batch{Users: st.commit}); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		for vcc, wantKey := range st.want {
			u, ok, err := db.UserByVCCID(vcc)
			if err != nil {
				t.Fatalf("%s: UserByVCCID(%q): %v", st.name, vcc, err)
			}
			if ok != (wantKey != "") || u.Key != wantKey {
				t.Errorf("%s: UserByVCCID(%q) = %q, %v; want %q", st.name, vcc, u.Key, ok, wantKey)
			}
			if ok && u.VCCUserID != vcc {
				t.Errorf("%s: UserByVCCID(%q) returned a state linked to %q", st.name, vcc, u.VCCUserID)
			}
		}
	}
}
