package main

import (
	"errors"
	"net"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/pkg/events"
)

func ptr[T any](v T) *T { return &v }

// cmdLine is a cmd output line taken apart.
var cmdLine = regexp.MustCompile(`^(published|duplicate) id=(\S+) action=(\S+) user=(\S+) subject=(\S+) seq=(\d+)\n$`)

// parseCmdOutput checks cmd's one output line and returns its status, id
// and sequence.
func parseCmdOutput(t *testing.T, stdout, action, key string) (status, id string, seq uint64) {
	t.Helper()
	m := cmdLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout = %q, want one published/duplicate line", stdout)
	}
	if m[3] != action || m[4] != key || m[5] != events.CommandSubject(key, action) {
		t.Errorf("stdout = %q, want action=%s user=%s subject=%s", stdout, action, key, events.CommandSubject(key, action))
	}
	n, err := strconv.ParseUint(m[6], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return m[1], m[2], n
}

// storedCommand reads message seq of VCCSYNC and decodes it as syncworker
// would, on its subject.
func storedCommand(t *testing.T, js jetstream.JetStream, seq uint64) (*jetstream.RawStreamMsg, *events.Event) {
	t.Helper()
	s, err := js.Stream(testContext(t), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(testContext(t), seq)
	if err != nil {
		t.Fatalf("get message %d: %v", seq, err)
	}
	ev, err := events.Decode(m.Subject, m.Data)
	if err != nil {
		t.Fatalf("message %d on %s does not decode: %v\n%s", seq, m.Subject, err, m.Data)
	}
	if ev.Command == nil {
		t.Fatalf("message %d is not a command: %s", seq, m.Data)
	}
	return m, ev
}

var commandIDPattern = regexp.MustCompile(`^cmd-[0-9A-HJKMNP-TV-Z]{26}$`)

func TestCmdPublishesEveryAction(t *testing.T) {
	url, js := startJetStream(t, true)
	const jane15 = "0055e000001Jane"

	for _, tc := range []struct {
		name   string
		args   []string
		action string
		want   events.CommandParams
	}{
		{"archive", []string{"archive"}, events.ActionArchive, events.CommandParams{}},
		{"reactivate", []string{"reactivate"}, events.ActionReactivate, events.CommandParams{}},
		{"delete", []string{"delete", "--confirm"}, events.ActionDelete, events.CommandParams{Confirm: true}},
		{"region by number", []string{"set-telephony-region", "--region", "11"}, events.ActionSetTelephonyRegion, events.CommandParams{Region: "EMEA - Primary (11)"}},
		{"region by name", []string{"set-telephony-region", "--region", "EMEA - Secondary"}, events.ActionSetTelephonyRegion, events.CommandParams{Region: "EMEA - Secondary (8)"}},
		{"region default", []string{"set-telephony-region", "--region=Default"}, events.ActionSetTelephonyRegion, events.CommandParams{Region: "NAM EAST (Default)"}},
		{"region full name", []string{"set-telephony-region", "--region", "sydney (12)"}, events.ActionSetTelephonyRegion, events.CommandParams{Region: "Sydney (12)"}},
		{"callback numbers", []string{"set-callback-numbers", "--number", "cb-1", "--number", "+442079460001", "--number", "cb-1"}, events.ActionSetCallbackNumbers, events.CommandParams{CallbackNumbers: []string{"cb-1", "+442079460001"}}},
		{"callback numbers all", []string{"set-callback-numbers", "--all"}, events.ActionSetCallbackNumbers, events.CommandParams{All: true}},
		{"callback numbers clear", []string{"set-callback-numbers", "--clear"}, events.ActionSetCallbackNumbers, events.CommandParams{Clear: true}},
		{"webrtc with phone", []string{"set-webrtc", "--enable", "--phone-number", "+442079460001"}, events.ActionSetWebRTC, events.CommandParams{Enabled: ptr(true), PhoneNumber: "+442079460001"}},
		{"webrtc only", []string{"set-webrtc", "--enable", "--webrtc-only"}, events.ActionSetWebRTC, events.CommandParams{Enabled: ptr(true), WebRTCOnly: true}},
		{"webrtc keeping the number", []string{"set-webrtc", "--enable"}, events.ActionSetWebRTC, events.CommandParams{Enabled: ptr(true)}},
		{"webrtc off", []string{"set-webrtc", "--disable"}, events.ActionSetWebRTC, events.CommandParams{Enabled: ptr(false)}},
		{"disposition codes on", []string{"set-enforced-disposition-codes", "--enable"}, events.ActionSetEnforcedDispositionCodes, events.CommandParams{Enabled: ptr(true)}},
		{"disposition codes off", []string{"set-enforced-disposition-codes", "--disable"}, events.ActionSetEnforcedDispositionCodes, events.CommandParams{Enabled: ptr(false)}},
		{"call recording control", []string{"set-call-recording-control", "--enable"}, events.ActionSetCallRecordingControl, events.CommandParams{Enabled: ptr(true)}},
		{"screen recording", []string{"set-screen-recording", "--disable"}, events.ActionSetScreenRecording, events.CommandParams{Enabled: ptr(false)}},
		{"capacity custom", []string{"set-interaction-capacity", "--live", "100", "--non-live", "0", "--semi-live", "50"}, events.ActionSetInteractionCapacity, events.CommandParams{Live: ptr(100), NonLive: ptr(0), SemiLive: ptr(50)}},
		{"capacity default", []string{"set-interaction-capacity", "--default"}, events.ActionSetInteractionCapacity, events.CommandParams{Default: true}},
		{"skill level", []string{"set-skill-level", "--skill", "sk-1001", "--level", "7"}, events.ActionSetSkillLevel, events.CommandParams{Skill: "sk-1001", Level: 7}},
		{"skill level bounds", []string{"set-skill-level", "--skill", "sk-1001", "--level", "10"}, events.ActionSetSkillLevel, events.CommandParams{Skill: "sk-1001", Level: 10}},
		{"act as agent", []string{"allow-act-as-agent", "--allow", "--agent-id", "1042"}, events.ActionAllowActAsAgent, events.CommandParams{Enabled: ptr(true), AgentID: "1042"}},
		{"act as agent denied", []string{"allow-act-as-agent", "--deny"}, events.ActionAllowActAsAgent, events.CommandParams{Enabled: ptr(false)}},
		{"unlock", []string{"unlock"}, events.ActionUnlock, events.CommandParams{}},
		{"reset password", []string{"reset-password"}, events.ActionResetPassword, events.CommandParams{}},
		{"resync", []string{"resync"}, events.ActionResync, events.CommandParams{}},
		{"flags before the action", []string{"--as", "bob", "--reason", "moved to Sydney", "set-telephony-region", "--region", "12"}, events.ActionSetTelephonyRegion, events.CommandParams{Region: "Sydney (12)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := streamLen(t, js)
			reason := "ticket 4711: " + tc.name
			who := "alice"
			args := append([]string{"cmd"}, tc.args...)
			if slices.Contains(tc.args, "--as") {
				who, reason = "bob", "moved to Sydney"
			} else {
				args = append(args, "--reason", reason, "--as", who)
			}
			args = append(args, "--user", jane15, "--nats-url", url)

			code, stdout, stderr := runCLI(t, nil, args...)

			if code != 0 || stderr != "" {
				t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
			}
			status, id, seq := parseCmdOutput(t, stdout, tc.action, jane)
			if status != "published" || !commandIDPattern.MatchString(id) {
				t.Errorf("stdout = %q, want published with a new cmd- id", stdout)
			}
			if n := streamLen(t, js); n != before+1 {
				t.Errorf("stream holds %d messages, want %d", n, before+1)
			}
			m, ev := storedCommand(t, js, seq)
			if m.Subject != "vccsync.user."+jane+".cmd."+tc.action || m.Header.Get(events.HeaderMsgID) != id {
				t.Errorf("stored on %s with Nats-Msg-Id %q, want vccsync.user.%s.cmd.%s and %q", m.Subject, m.Header.Get(events.HeaderMsgID), jane, tc.action, id)
			}
			if ev.ID != id || ev.Type != "vccsync.command."+tc.action || ev.Subject != jane || ev.UserKey != jane ||
				ev.Source != "operator/"+who || ev.Time == nil || time.Since(*ev.Time) > time.Minute {
				t.Errorf("envelope = %+v, want id %s, type vccsync.command.%s, subject %s, source operator/%s, a time", ev.Envelope, id, tc.action, jane, who)
			}
			if ev.Command.Action != tc.action || ev.Command.RequestedBy != who || ev.Command.Reason != reason {
				t.Errorf("command = %s by %q because %q, want %s by %q because %q", ev.Command.Action, ev.Command.RequestedBy, ev.Command.Reason, tc.action, who, reason)
			}
			p, err := ev.Command.Params()
			if err != nil {
				t.Fatalf("Params: %v", err)
			}
			if diff := cmp.Diff(tc.want, p); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCmdCoversEveryAction(t *testing.T) {
	var names []string
	for _, a := range actions {
		names = append(names, a.name)
	}
	if !slices.Equal(names, events.Actions) {
		t.Errorf("cmd actions %q, want events.Actions %q", names, events.Actions)
	}

	var o cmdOptions
	params, common := pflag.NewFlagSet("test", pflag.ContinueOnError), pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.registerParams(params)
	o.registerCommon(common)
	usedFlags := map[string]bool{}
	for _, a := range actions {
		if a.does == "" || a.params == nil {
			t.Errorf("%s: no description or no params", a.name)
		}
		for _, f := range a.flags {
			usedFlags[f.name] = true
			if params.Lookup(f.name) == nil {
				t.Errorf("%s: flag --%s is not registered", a.name, f.name)
			}
			if common.Lookup(f.name) != nil {
				t.Errorf("%s: flag --%s is also a common flag", a.name, f.name)
			}
		}
	}
	params.VisitAll(func(f *pflag.Flag) {
		if !usedFlags[f.Name] {
			t.Errorf("flag --%s belongs to no action", f.Name)
		}
	})
}

func TestCmdDuplicate(t *testing.T) {
	url, js := startJetStream(t, true)
	args := []string{"cmd", "archive", "--user", jane, "--as", "alice", "--reason", "left the company", "--id", "op-2026-11-20-1", "--nats-url", url}

	for i, want := range []string{"published", "duplicate", "duplicate"} {
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("run %d: exit status %d, stderr:\n%s", i+1, code, stderr)
		}
		checkOutput(t, stdout, want+" id=op-2026-11-20-1 action=archive user="+jane+" subject=vccsync.user."+jane+".cmd.archive seq=1")
	}
	if n := streamLen(t, js); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}

	// Without --id, every run is a new command.
	var ids []string
	for i := range 2 {
		code, stdout, stderr := runCLI(t, nil, "cmd", "unlock", "--user", jane, "--as", "alice", "--nats-url", url)
		if code != 0 {
			t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
		}
		status, id, seq := parseCmdOutput(t, stdout, "unlock", jane)
		if status != "published" || seq != uint64(2+i) {
			t.Errorf("stdout = %q, want published seq=%d", stdout, 2+i)
		}
		ids = append(ids, id)
		time.Sleep(2 * time.Millisecond)
	}
	if ids[0] == ids[1] || ids[0] > ids[1] {
		t.Errorf("ids %q: want two different ids in time order", ids)
	}
	if n := streamLen(t, js); n != 3 {
		t.Errorf("stream holds %d messages, want 3", n)
	}
}

func TestCmdRequestedByDefault(t *testing.T) {
	url, js := startJetStream(t, true)
	want := ""
	if u, err := user.Current(); err == nil {
		want = u.Username
	}
	if want == "" {
		want = os.Getenv("USER")
	}
	if checkWho(want) != nil {
		t.Skipf("the OS user name %q cannot be used as requestedBy", want)
	}

	code, stdout, stderr := runCLI(t, nil, "cmd", "resync", "--user", jane, "--nats-url", url)

	if code != 0 {
		t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
	}
	_, _, seq := parseCmdOutput(t, stdout, "resync", jane)
	_, ev := storedCommand(t, js, seq)
	if ev.Command.RequestedBy != want || ev.Source != "operator/"+want || ev.Command.Reason != "" {
		t.Errorf("requestedBy %q, source %q, reason %q; want %q, operator/%s, none", ev.Command.RequestedBy, ev.Source, ev.Command.Reason, want, want)
	}
}

func TestOperatorName(t *testing.T) {
	osUser := func(name string, err error) func() (*user.User, error) {
		return func() (*user.User, error) {
			if err != nil {
				return nil, err
			}
			return &user.User{Username: name}, nil
		}
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "USER" {
				return v
			}
			return ""
		}
	}
	noUser := errors.New("user: Current not implemented")
	for _, tc := range []struct {
		name    string
		as      string
		given   bool
		current func() (*user.User, error)
		getenv  func(string) string
		want    string
		err     string
	}{
		{name: "--as", as: "alice", given: true, current: osUser("root", nil), getenv: env("root"), want: "alice"},
		{name: "--as empty", as: "", given: true, current: osUser("root", nil), getenv: env("root"), err: "--as: empty"},
		{name: "--as with a space", as: "alice smith", given: true, current: osUser("root", nil), getenv: env("root"), err: `--as: "alice smith": want a name without spaces`},
		{name: "--as with a slash", as: "ops/alice", given: true, current: osUser("root", nil), getenv: env("root"), err: `--as: "ops/alice"`},
		{name: "OS user", current: osUser("jsmith", nil), getenv: env("other"), want: "jsmith"},
		{name: "no OS user, $USER", current: osUser("", noUser), getenv: env("svc-ops"), want: "svc-ops"},
		{name: "empty OS user name, $USER", current: osUser("", nil), getenv: env("svc-ops"), want: "svc-ops"},
		{name: "nobody", current: osUser("", noUser), getenv: env(""), err: "cannot tell who asks (no OS user name, $USER unset): give --as WHO"},
		{name: "unusable OS user name", current: osUser("Jane Smith", nil), getenv: env(""), err: "the OS user name cannot be used"},
	} {
		got, err := operatorName(tc.as, tc.given, tc.current, tc.getenv)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestNewCommandID(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 15, 1, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := newCommandID(t0)
		if !commandIDPattern.MatchString(id) || seen[id] {
			t.Fatalf("id %q: malformed or repeated", id)
		}
		seen[id] = true
	}
	prev := ""
	for _, at := range []time.Time{t0, t0.Add(time.Millisecond), t0.Add(time.Second), t0.Add(24 * time.Hour), t0.AddDate(30, 0, 0)} {
		id := newCommandID(at)
		if id <= prev {
			t.Errorf("id %q at %s sorts before %q", id, at, prev)
		}
		prev = id
	}
	if a, b := newCommandID(t0), newCommandID(t0); a[:14] != b[:14] {
		t.Errorf("ids of one millisecond %q and %q differ in their time part", a, b)
	}
}

func TestCmdRefused(t *testing.T) {
	url, js := startJetStream(t, true)
	_, regionErr := events.LookupTelephonyRegion("Mars")
	const webrtcFlags = "set-webrtc takes --enable, --disable, --phone-number NUMBER, --webrtc-only, and the common flags --user, --reason, --as, --id, --timeout, --wait, --wait-timeout, --json and --nats-*"
	actionList := strings.Join(events.Actions, ", ")
	wrongChecksum := jane[:15] + "AAA"
	if wrongChecksum == jane {
		wrongChecksum = jane[:15] + "BBB"
	}

	for _, tc := range []struct {
		name string
		args []string // after "cmd"; --user jane is added unless noUser
		want []string // lines (or parts of lines) of stderr
		// noUser leaves --user out.
		noUser bool
	}{
		{name: "delete without --confirm", args: []string{"delete"}, want: []string{"vccctl cmd delete: delete needs --confirm: deleting a VCC user cannot be undone, and VCC deletes only archived users (archive the user first: vccctl cmd archive --user ID)"}},
		{name: "delete --confirm=false", args: []string{"delete", "--confirm=false"}, want: []string{"delete needs --confirm: deleting a VCC user cannot be undone"}},
		{name: "unknown region", args: []string{"set-telephony-region", "--region", "Mars"}, want: []string{"vccctl cmd set-telephony-region: --region: " + regionErr.Error(),
			`"Mars" is not a telephony region; valid: EMEA - Primary (11), EMEA - Secondary (8), NAM EAST (Default), NAM WEST (16), Singapore (14), Sydney (12)`}},
		{name: "region missing", args: []string{"set-telephony-region"}, want: []string{"set-telephony-region needs --region NAME|NUMBER; valid: EMEA - Primary (11), EMEA - Secondary (8)"}},
		{name: "region empty", args: []string{"set-telephony-region", "--region", ""}, want: []string{`--region: "" is not a telephony region; valid: EMEA - Primary (11)`}},
		{name: "--all with --clear", args: []string{"set-callback-numbers", "--all", "--clear"}, want: []string{"vccctl cmd set-callback-numbers: set-callback-numbers needs exactly one of --number ID (repeatable), --all or --clear"}},
		{name: "--number with --all", args: []string{"set-callback-numbers", "--number", "cb-1", "--all"}, want: []string{"needs exactly one of --number ID (repeatable), --all or --clear"}},
		{name: "no callback numbers", args: []string{"set-callback-numbers"}, want: []string{"needs exactly one of --number ID (repeatable), --all or --clear"}},
		{name: "empty callback number", args: []string{"set-callback-numbers", "--number", " "}, want: []string{"--number: empty, want a callback number's ID or CLID"}},
		{name: "capacity 101", args: []string{"set-interaction-capacity", "--live", "101", "--non-live", "50", "--semi-live", "50"}, want: []string{"vccctl cmd set-interaction-capacity: --live: 101%, want 0 to 100"}},
		{name: "capacity -1", args: []string{"set-interaction-capacity", "--live", "10", "--non-live", "50", "--semi-live=-1"}, want: []string{"--semi-live: -1%, want 0 to 100"}},
		{name: "capacity incomplete", args: []string{"set-interaction-capacity", "--live", "10"}, want: []string{"--non-live: missing: a custom capacity sets all three percentages", "--semi-live: missing: a custom capacity sets all three percentages"}},
		{name: "capacity and default", args: []string{"set-interaction-capacity", "--live", "10", "--non-live", "10", "--semi-live", "10", "--default"}, want: []string{"give --live, --non-live and --semi-live, or --default, not both"}},
		{name: "capacity nothing", args: []string{"set-interaction-capacity"}, want: []string{"set-interaction-capacity needs --live N --non-live N --semi-live N (percentages, 0 to 100), or --default"}},
		{name: "capacity not a number", args: []string{"set-interaction-capacity", "--live", "half"}, want: []string{`vccctl cmd set-interaction-capacity: invalid argument "half" for "--live" flag`}},
		{name: "skill level 0", args: []string{"set-skill-level", "--skill", "sk-1", "--level", "0"}, want: []string{"vccctl cmd set-skill-level: --level: 0, want 1 to 10"}},
		{name: "skill level 11", args: []string{"set-skill-level", "--skill", "sk-1", "--level", "11"}, want: []string{"vccctl cmd set-skill-level: --level: 11, want 1 to 10"}},
		{name: "skill level missing", args: []string{"set-skill-level", "--skill", "sk-1"}, want: []string{"--level: missing: the skill level, 1 to 10"}},
		{name: "skill missing", args: []string{"set-skill-level", "--level", "3"}, want: []string{"--skill: missing: the skill ID"}},
		{name: "bad phone number", args: []string{"set-webrtc", "--enable", "--phone-number", "call me"}, want: []string{`vccctl cmd set-webrtc: --phone-number: "call me" is not a phone number (digits, optionally a leading +)`}},
		{name: "short phone number", args: []string{"set-webrtc", "--enable", "--phone-number", "+12"}, want: []string{`--phone-number: "+12" is not a phone number`}},
		{name: "empty phone number", args: []string{"set-webrtc", "--enable", "--phone-number", ""}, want: []string{`--phone-number: "" is not a phone number`}},
		{name: "phone number and webrtc only", args: []string{"set-webrtc", "--enable", "--phone-number", "+442079460001", "--webrtc-only"}, want: []string{"give --phone-number or --webrtc-only, not both"}},
		{name: "phone number when disabling", args: []string{"set-webrtc", "--disable", "--phone-number", "+442079460001"}, want: []string{"--phone-number and --webrtc-only go with --enable"}},
		{name: "webrtc neither", args: []string{"set-webrtc"}, want: []string{"set-webrtc needs --enable or --disable"}},
		{name: "toggle both", args: []string{"set-screen-recording", "--enable", "--disable"}, want: []string{"vccctl cmd set-screen-recording: give --enable or --disable, not both"}},
		{name: "toggle neither", args: []string{"set-call-recording-control"}, want: []string{"set-call-recording-control needs --enable or --disable"}},
		{name: "toggle --enable=false", args: []string{"set-enforced-disposition-codes", "--enable=false"}, want: []string{"set-enforced-disposition-codes needs --enable or --disable"}},
		{name: "allow and deny", args: []string{"allow-act-as-agent", "--allow", "--deny"}, want: []string{"give --allow or --deny, not both"}},
		{name: "agent id when denying", args: []string{"allow-act-as-agent", "--deny", "--agent-id", "1042"}, want: []string{"--agent-id goes with --allow"}},
		{name: "agent id not numeric", args: []string{"allow-act-as-agent", "--allow", "--agent-id", "A-7"}, want: []string{`--agent-id: "A-7" is not a numeric agent ID`}},
		{name: "flag of another action", args: []string{"archive", "--region", "11"}, want: []string{"vccctl cmd archive: --region is not a flag of archive; archive takes no parameters, only the common flags --user, --reason, --as, --id, --timeout, --wait, --wait-timeout, --json and --nats-*"}},
		{name: "flags of other actions", args: []string{"set-webrtc", "--enable", "--level", "3", "--confirm"}, want: []string{"--confirm is not a flag of set-webrtc; " + webrtcFlags, "--level is not a flag of set-webrtc; " + webrtcFlags}},
		{name: "enable on act as agent", args: []string{"allow-act-as-agent", "--enable"}, want: []string{"--enable is not a flag of allow-act-as-agent; allow-act-as-agent takes --allow, --deny, --agent-id N"}},
		{name: "unknown flag", args: []string{"set-webrtc", "--enable", "--frob"}, want: []string{"vccctl cmd set-webrtc: unknown flag --frob; " + webrtcFlags}},
		{name: "unknown flag before the action", args: []string{"--frob", "set-webrtc"}, want: []string{"vccctl cmd: unknown flag --frob; " + webrtcFlags}},
		{name: "missing --user", args: []string{"archive"}, noUser: true, want: []string{"vccctl cmd archive: --user is required: the Salesforce user ID (005…, 15 or 18 characters) the command is for"}},
		{name: "not a user id", args: []string{"archive", "--user", "0015e000001AcmeAAC"}, noUser: true, want: []string{`vccctl cmd archive: --user: not a Salesforce user ID (005…, 15 or 18 characters): "0015e000001AcmeAAC" has key prefix "001"`}},
		{name: "user id too short", args: []string{"archive", "--user", "0055e000001Jan"}, noUser: true, want: []string{`--user: not a Salesforce user ID (005…, 15 or 18 characters): "0055e000001Jan" has 14 characters, want 15 or 18`}},
		{name: "user id checksum", args: []string{"archive", "--user", wrongChecksum}, noUser: true, want: []string{`--user: not a Salesforce user ID (005…, 15 or 18 characters): "` + wrongChecksum + `" has checksum suffix`}},
		{name: "user id empty", args: []string{"archive", "--user", ""}, noUser: true, want: []string{`--user: not a Salesforce user ID (005…, 15 or 18 characters): "" has 0 characters`}},
		{name: "unknown action", args: []string{"frobnicate"}, want: []string{`vccctl cmd: unknown action "frobnicate"; actions: ` + actionList}},
		{name: "action with a dot", args: []string{"archive.now"}, want: []string{`vccctl cmd: unknown action "archive.now"; actions: ` + actionList}},
		{name: "missing action", args: nil, want: []string{"vccctl cmd: missing ACTION; actions: " + actionList}},
		{name: "two actions", args: []string{"archive", "unlock"}, want: []string{`vccctl cmd archive: one ACTION expected, got 2 arguments: ["archive" "unlock"]`}},
		{name: "--as with a space", args: []string{"archive", "--as", "alice smith"}, want: []string{`vccctl cmd archive: --as: "alice smith": want a name without spaces, '/' or control characters`}},
		{name: "--as empty", args: []string{"archive", "--as", ""}, want: []string{"--as: empty, want who asks"}},
		{name: "--id with a space", args: []string{"archive", "--id", "op 1"}, want: []string{`vccctl cmd archive: --id: "op 1": want no spaces or control characters`}},
		{name: "--id empty", args: []string{"archive", "--id", ""}, want: []string{"--id: empty, want the command id to publish"}},
		{name: "--id too long", args: []string{"archive", "--id", strings.Repeat("x", 257)}, want: []string{"--id: 257 characters, at most 256"}},
		{name: "--timeout 0", args: []string{"archive", "--timeout", "0s"}, want: []string{"--timeout 0s: must be positive"}},
		{name: "everything wrong at once", args: []string{"set-skill-level", "--user", "nobody", "--level", "11", "--as", ""}, noUser: true, want: []string{"--user: not a Salesforce user ID", "--as: empty", "--skill: missing: the skill ID", "--level: 11, want 1 to 10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"cmd"}, tc.args...)
			if !tc.noUser {
				args = append(args, "--user", jane)
			}
			args = append(args, "--nats-url", url)

			code, stdout, stderr := runCLI(t, nil, args...)

			if code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, stderr)
				}
			}
			if !regexp.MustCompile(`\nRun 'vccctl cmd( \S+)? --help' for usage.\n$`).MatchString(stderr) {
				t.Errorf("stderr has no hint:\n%s", stderr)
			}
			if n := streamLen(t, js); n != 0 {
				t.Errorf("stream holds %d messages, want none", n)
			}
		})
	}
}

func TestCmdHelp(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "help", "cmd")
	if code != 0 || stderr != "" {
		t.Fatalf("help cmd: exit status %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"vccctl cmd <command> [flags]",
		"vccsync.user.<18-character user ID>.cmd.ACTION",
		"--nats-url", "--timeout", "--user ID", "--as WHO", "--id ID", "--reason TEXT", "--wait ", "--wait-timeout", "--json",
		"published id=ID action=ACTION user=USER subject=SUBJECT seq=N",
		"duplicate id=ID",
		"applied id=ID outcome=OUTCOME", "refused id=ID class=permanent", "dead_lettered id=ID",
		"the same command\nid is a duplicate, not a second command",
		"Exit status: 0 published",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help cmd does not contain %q", want)
		}
	}
	for _, a := range actions {
		head := "\n  " + a.name + "\n"
		if a.synopsis != "" {
			head = "\n  " + a.name + " " + a.synopsis + "\n"
		}
		if !strings.Contains(stdout, head) {
			t.Errorf("help cmd has no line %q", strings.TrimSpace(head))
		}
		if first := strings.Fields(a.does)[0]; !strings.Contains(stdout, head+"      "+first) {
			t.Errorf("help cmd: %s is not followed by its description", a.name)
		}
		for _, f := range a.flags {
			if !strings.Contains(stdout, "      "+f.String()+"\n") {
				t.Errorf("help cmd: %s does not list %s", a.name, f)
			}
		}
		if !regexp.MustCompile(`\n  ` + a.name + ` +` + regexp.QuoteMeta(actionShort[a.name]) + `\n`).MatchString(stdout) {
			t.Errorf("help cmd does not list %s with its summary", a.name)
		}
	}

	code, stdout, stderr = runCLI(t, nil, "help")
	if code != 0 || !strings.Contains(stdout, "  cmd         publish one admin command for a user") {
		t.Errorf("help: exit status %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, nil, "cmd", "set-webrtc", "-h")
	if code != 0 || stderr != "" {
		t.Fatalf("cmd set-webrtc -h: exit status %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"vccctl cmd set-webrtc --user ID (--enable [--phone-number NUMBER | --webrtc-only] | --disable) [--reason TEXT]",
		"--webrtc-only ", "with --enable: the agent only uses WebRTC", "--nats-url", "vccctl cmd --help",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("cmd set-webrtc -h does not contain %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "set-skill-level") || strings.Contains(stdout, "--level") {
		t.Errorf("cmd set-webrtc -h shows other actions or their flags:\n%s", stdout)
	}
}

func TestCmdNotPublished(t *testing.T) {
	t.Run("stream missing", func(t *testing.T) {
		url, js := startJetStream(t, false)
		code, stdout, stderr := runCLI(t, nil, "cmd", "archive", "--user", jane, "--as", "alice", "--nats-url", url)
		if code != 1 || stdout != "" || stderr != "vccctl cmd archive: stream VCCSYNC not found: is syncworker running (it creates the streams)?\n" {
			t.Errorf("exit status %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if _, err := js.Stream(testContext(t), events.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream lookup: %v, want ErrStreamNotFound (vccctl must not create it)", err)
		}
	})
	t.Run("no acknowledgement", func(t *testing.T) {
		url, js := startJetStream(t, false)
		// A VCCSYNC that does not listen on user subjects: the publish gets no answer.
		if _, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: events.Stream, Subjects: []string{"elsewhere.>"}}); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, nil, "cmd", "reset-password", "--user", jane, "--as", "alice", "--id", "op-77", "--timeout", "2s", "--nats-url", url)
		if code != 1 || stdout != "" {
			t.Errorf("exit status %d, stdout %q; want 1, nothing", code, stdout)
		}
		for _, want := range []string{
			"vccctl cmd reset-password: publish op-77 to vccsync.user." + jane + ".cmd.reset-password: ",
			"to retry, run the same command with --id op-77",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not contain %q:\n%s", want, stderr)
			}
		}
	})
	t.Run("no server", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "nats://" + l.Addr().String()
		l.Close()
		code, stdout, stderr := runCLI(t, nil, "cmd", "archive", "--user", jane, "--as", "alice", "--nats-url", url)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "vccctl cmd archive: nats connect "+url) {
			t.Errorf("exit status %d, stdout %q, stderr %q; want 1, nothing, a connect error", code, stdout, stderr)
		}
	})
}
