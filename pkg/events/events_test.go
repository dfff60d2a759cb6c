package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeGolden decodes each fixture and compares the re-encoded user
// data with its golden file: absent fields stay absent, nulls stay null.
func TestDecodeGolden(t *testing.T) {
	for _, tc := range []struct{ fixture, subject string }{
		{"user_changed.json", "vccsync.user.0055e000001AbCdAAK.changed"},
		{"user_changed_partial.json", "vccsync.user.0055e000001AbCd.changed"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			ev, err := Decode(tc.subject, readFixture(t, tc.fixture))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.UserKey != "0055e000001AbCdAAK" {
				t.Errorf("UserKey = %q, want the 18-character form", ev.UserKey)
			}
			got, err := json.MarshalIndent(ev.User, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.fixture, ".json")+".golden")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readFixture(t, filepath.Base(golden))
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("re-encoded user differs from %s:\n got %s\nwant %s", golden, got, want)
			}
		})
	}
}

func TestFieldStates(t *testing.T) {
	ev, err := Decode("vccsync.user.0055e000001AbCd.changed", readFixture(t, "user_changed_partial.json"))
	if err != nil {
		t.Fatal(err)
	}
	u := ev.User
	if u.Email.Set {
		t.Error("Email: absent in the event but Set")
	}
	if !u.FederationIdentifier.Set || !u.FederationIdentifier.Null {
		t.Error("FederationIdentifier: explicit null not recorded as cleared")
	}
	if !u.IsActive.Known() || u.IsActive.Value {
		t.Error("IsActive: want known false")
	}
	if want := time.UnixMilli(1714155903000).UTC(); !u.Modstamp().Equal(want) {
		t.Errorf("Modstamp = %v, want %v (epoch ms LastModifiedDate)", u.Modstamp(), want)
	}

	full, err := Decode("vccsync.user.0055e000001AbCdAAK.changed", readFixture(t, "user_changed.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := full.User.Merge(*u)
	if m.Email.Get() != "jane.smith@acme.example" {
		t.Errorf("merge lost a known field absent from the update: Email = %q", m.Email.Get())
	}
	if m.FederationIdentifier.Known() {
		t.Error("merge kept FederationIdentifier although the update cleared it")
	}
	if m.IsActive.Get() {
		t.Error("merge did not take IsActive=false from the update")
	}
	if m.Name() != "Jane Smith" {
		t.Errorf("Name = %q", m.Name())
	}
}

func TestDecodeCommand(t *testing.T) {
	ev, err := Decode("vccsync.user.0055e000001AbCdAAK.cmd.archive", readFixture(t, "command_archive.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Command == nil || ev.Command.Action != "archive" || ev.Command.RequestedBy != "alice" || ev.Command.Reason != "left the company" {
		t.Errorf("command = %+v", ev.Command)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := string(readFixture(t, "user_changed.json"))
	subj := "vccsync.user.0055e000001AbCdAAK.changed"
	for _, tc := range []struct {
		name, subject, body, want string
	}{
		{"empty body", subj, "", "body: empty"},
		{"not json", subj, "{not json", "envelope: not valid JSON"},
		{"wrong type of field", subj, strings.Replace(valid, `"IsActive":true`, `"IsActive":"yes"`, 1), "data: IsActive: got JSON string, want bool"},
		{"spec version", subj, strings.Replace(valid, `"specversion":"1.0"`, `"specversion":"0.3"`, 1), `specversion: "0.3", want "1.0"`},
		{"missing id", subj, strings.Replace(valid, `"id":"04l5e00000AbCdEAAV",`, "", 1), "id: missing"},
		{"unknown type", subj, strings.Replace(valid, `"type":"salesforce.user.changed"`, `"type":"salesforce.account.changed"`, 1), `type: unknown event type "salesforce.account.changed"`},
		{"bad data id", "vccsync.user.0055e000001AbCdAAK.changed", strings.Replace(valid, `"Id":"0055e000001AbCdAAK"`, `"Id":"0015e000001AbCdAAK"`, 1), "data.Id: not a Salesforce user ID (005…, 15 or 18 characters)"},
		{"checksum", "vccsync.user.0055e000001AbCdAAK.changed", strings.Replace(valid, `"subject":"0055e000001AbCdAAK"`, `"subject":"0055e000001AbCdAAA"`, 1), `checksum suffix "AAA", want "AAK"`},
		{"subject mismatch", "vccsync.user.0055e000001XyZw.changed", valid, "does not match the NATS subject's user"},
		{"bad nats subject", "vccsync.user.0055e000001AbCdAAK", valid, "want vccsync.user.<SalesforceUserId>.changed"},
		{"null username", subj, strings.Replace(valid, `"Username":"jane.smith@acme.example"`, `"Username":null`, 1), "data.Username: cannot be null"},
		{"alias too long", subj, strings.Replace(valid, `"Alias":"jsmith"`, `"Alias":"jsmith1234"`, 1), "data.Alias: 10 characters, Salesforce allows at most 8"},
		{"bad agent id", subj, strings.Replace(valid, `"1042"`, `"A-1"`, 1), `data.NVMContactWorld__NVM_Agent_Id__c: "A-1" is not a numeric agent ID`},
		{"bad time", subj, strings.Replace(valid, `"SystemModstamp":"2026-11-20T10:15:00.000Z"`, `"SystemModstamp":"yesterday"`, 1), `"yesterday" is not a Salesforce datetime`},
		{"missing data", subj, `{"specversion":"1.0","id":"x","source":"s","type":"salesforce.user.changed","subject":"0055e000001AbCdAAK"}`, "data: missing"},
		{"command without requester", "vccsync.user.0055e000001AbCdAAK.cmd.archive", strings.Replace(string(readFixture(t, "command_archive.json")), `"requestedBy":"alice",`, "", 1), "data.requestedBy: missing"},
		{"command action not a subject token", "", strings.Replace(string(readFixture(t, "command_archive.json")), `vccsync.command.archive`, `vccsync.command.arch ive`, 1), `actions are letters, digits, '-' and '_'`},
		{"command action with a wildcard", "", strings.Replace(string(readFixture(t, "command_archive.json")), `vccsync.command.archive`, `vccsync.command.*`, 1), `action "*" has '*'`},
		{"command on wrong subject", subj, string(readFixture(t, "command_archive.json")), "does not match subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.subject == "" {
				_, err = Parse([]byte(tc.body))
			} else {
				_, err = Decode(tc.subject, []byte(tc.body))
			}
			if err == nil {
				t.Fatalf("Decode accepted it, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeID(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"0055e000001AbCd", "0055e000001AbCdAAK", ""},
		{"0055e000001AbCdAAK", "0055e000001AbCdAAK", ""},
		{"00D5e000000KQ2e", "00D5e000000KQ2eEAG", ""},
		{"005", "", "has 3 characters"},
		{"0055e000001AbC!", "", "character '!'"},
	} {
		got, err := NormalizeID(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeID(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSubjects(t *testing.T) {
	id := "0055e000001AbCdAAK"
	if p, err := ParseSubject(UserChangedSubject(id)); err != nil || p.Kind != KindChanged || p.UserID != id {
		t.Errorf("ParseSubject(changed) = %+v, %v", p, err)
	}
	if p, err := ParseSubject(CommandSubject(id, "archive")); err != nil || p.Kind != KindCommand || p.Action != "archive" {
		t.Errorf("ParseSubject(cmd) = %+v, %v", p, err)
	}
	if got := strings.Split(UserChangedSubject(id), ".")[UserIDToken-1]; got != id {
		t.Errorf("token %d = %q, want the user ID", UserIDToken, got)
	}
	if got := DLQSubject(UserChangedSubject(id)); got != "vccsync.dlq.user."+id+".changed" {
		t.Errorf("DLQSubject = %q", got)
	}
}

func TestNewUserChangedRoundTrip(t *testing.T) {
	u := User{ID: "0055e000001AbCdAAK", Username: Val("a@b.example"), IsActive: Val(true), CallCenterID: Null[string]()}
	env, err := NewUserChanged("evt-1", "test", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Marshal()
	subj, _ := env.NATSSubject()
	ev, err := Decode(subj, body)
	if err != nil {
		t.Fatalf("Decode(own output): %v", err)
	}
	if !ev.User.CallCenterID.Null || ev.User.Email.Set || ev.User.Username.Get() != "a@b.example" {
		t.Errorf("round trip lost field states: %+v", ev.User)
	}
}

func TestCommandParams(t *testing.T) {
	yes, no := true, false
	pct := func(n int) *int { return &n }
	for _, tc := range []struct {
		action string
		p      CommandParams
		want   string // "" = valid
	}{
		{ActionArchive, CommandParams{}, ""},
		{ActionArchive, CommandParams{Confirm: true}, "data.confirm: not a parameter of archive"},
		{ActionDelete, CommandParams{}, "delete needs confirm: true"},
		{ActionDelete, CommandParams{Confirm: true}, ""},
		{ActionSetTelephonyRegion, CommandParams{Region: "11"}, ""},
		{ActionSetTelephonyRegion, CommandParams{Region: "emea - primary"}, ""},
		{ActionSetTelephonyRegion, CommandParams{Region: "default"}, ""},
		{ActionSetTelephonyRegion, CommandParams{Region: "Mars"}, `"Mars" is not a telephony region; valid: EMEA - Primary (11), EMEA - Secondary (8), NAM EAST (Default), NAM WEST (16), Singapore (14), Sydney (12)`},
		{ActionSetCallbackNumbers, CommandParams{All: true}, ""},
		{ActionSetCallbackNumbers, CommandParams{All: true, Clear: true}, "exactly one of callbackNumbers, all or clear"},
		{ActionSetWebRTC, CommandParams{}, "set-webrtc needs enabled"},
		{ActionSetWebRTC, CommandParams{Enabled: &yes, PhoneNumber: "+442079460001"}, ""},
		{ActionSetWebRTC, CommandParams{Enabled: &yes, PhoneNumber: "call me"}, `"call me" is not a phone number`},
		{ActionSetWebRTC, CommandParams{Enabled: &no, WebRTCOnly: true}, "a phone number is set only when enabling WebRTC"},
		{ActionSetInteractionCapacity, CommandParams{Default: true}, ""},
		{ActionSetInteractionCapacity, CommandParams{Live: pct(50), NonLive: pct(40), SemiLive: pct(101)}, "data.semiLive: 101%, want 0 to 100"},
		{ActionSetInteractionCapacity, CommandParams{Live: pct(50)}, "data.nonLive: missing"},
		{ActionSetSkillLevel, CommandParams{Skill: "s1", Level: 11}, "data.level: 11, want 1 to 10"},
		{ActionSetSkillLevel, CommandParams{Skill: "s1", Level: 6}, ""},
		{ActionAllowActAsAgent, CommandParams{Enabled: &yes, AgentID: "x1"}, `"x1" is not a numeric agent ID`},
		{"teleport", CommandParams{}, `unknown action "teleport"`},
	} {
		err := ValidateCommand(tc.action, tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %+v: %v, want valid", tc.action, tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %+v: error %v, want %q", tc.action, tc.p, err, tc.want)
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	yes := true
	env, err := NewCommand("cmd-1", "0055e000001AbCdAAK", ActionSetWebRTC, "alice", "new softphone", CommandParams{Enabled: &yes, WebRTCOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Marshal()
	subj, _ := env.NATSSubject()
	ev, err := Decode(subj, body)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ev.Command.Params()
	if err != nil || p.Enabled == nil || !*p.Enabled || !p.WebRTCOnly || ev.Command.RequestedBy != "alice" || ev.Command.Reason != "new softphone" {
		t.Errorf("round trip: %+v %+v %v", ev.Command, p, err)
	}
	// An unknown parameter is refused by Params, not by Decode.
	bad := strings.Replace(string(body), `"webrtcOnly":true`, `"webrtcOnly":true,"colour":"blue"`, 1)
	ev, err = Decode(subj, []byte(bad))
	if err != nil {
		t.Fatalf("Decode refused a command with a bad parameter: %v", err)
	}
	if _, err := ev.Command.Params(); err == nil || !strings.Contains(err.Error(), `unknown parameter "colour"`) {
		t.Errorf("Params: %v, want the unknown parameter named", err)
	}
}

// Fields read in place decode exactly as encoding/json decodes the plain
// type: escapes, non-ASCII, invalid UTF-8, booleans and datetimes.
func TestFieldDecodesAsEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`"jane.doe@example.com"`, `""`, `"Zoë Ångström"`, `"tab\tand \"quote\""`, `"\u00e9t\u00e9"`,
		"\"bad \xff utf-8\"", `"a\/b"`, `"line\nbreak"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var got Field[string]
		if err := json.Unmarshal([]byte(raw), &got); err != nil || !got.Known() || got.Value != want {
			t.Errorf("%s: got %+v, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`true`, `false`} {
		var got Field[bool]
		if err := json.Unmarshal([]byte(raw), &got); err != nil || !got.Known() || got.Value != (raw == "true") {
			t.Errorf("%s: got %+v, %v", raw, got, err)
		}
	}
	var b Field[bool]
	if err := json.Unmarshal([]byte(`"true"`), &b); err == nil {
		t.Errorf(`"true" decoded as a boolean: %+v`, b)
	}
	var tm Field[Time]
	if err := json.Unmarshal([]byte(`"2026-11-20T10:15:00.000+0000"`), &tm); err != nil || !tm.Value.Equal(time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)) {
		t.Errorf("datetime: %+v, %v", tm, err)
	}
	var n Field[string]
	if err := json.Unmarshal([]byte(` null `), &n); err != nil || !n.Set || !n.Null {
		t.Errorf("null: %+v, %v", n, err)
	}
}

// Changes to a user's access take the access-change subject; others do not.
func TestAccessChangesTakeThePrioritySubject(t *testing.T) {
	const id = "0055e000001AbcdAAC"
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		u    User
		want string
	}{
		{"deactivation", User{ID: id, IsActive: Val(false)}, "vccsync.access." + id},
		{"reactivation from CDC", User{ID: id, IsActive: Val(true), ChangedFields: []string{"IsActive"}}, "vccsync.access." + id},
		{"active snapshot", User{ID: id, IsActive: Val(true), Email: Val("a@example.com")}, "vccsync.user." + id + ".changed"},
		{"change without IsActive", User{ID: id, Email: Val("a@example.com"), ChangedFields: []string{"Email"}}, "vccsync.user." + id + ".changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := NewUserChanged("e1", "salesforce/test", at, tc.u)
			if err != nil {
				t.Fatal(err)
			}
			got, err := env.NATSSubject()
			if err != nil || got != tc.want {
				t.Fatalf("subject %q, %v; want %q", got, err, tc.want)
			}
			body, _ := env.Marshal()
			ev, err := Decode(got, body)
			if err != nil || ev.User == nil {
				t.Fatalf("decode on %s: %v", got, err)
			}
			p, err := ParseSubject(got)
			if err != nil || p.Kind != KindChanged || p.Priority != strings.HasPrefix(tc.want, "vccsync.access.") {
				t.Errorf("parsed %+v, %v", p, err)
			}
		})
	}
}
