package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// waitEvent waits for the final outcome of one event id.
func (o *outcomes) waitEvent(t *testing.T, id string) worker.Outcome {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		for _, x := range o.final {
			if x.EventID == id {
				o.mu.Unlock()
				return x
			}
		}
		o.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no outcome for %s", id)
	return worker.Outcome{}
}

// cmdEnv is a worker with the sandbox, and the Salesforce users the
// commands act on.
type cmdEnv struct {
	t     *testing.T
	sb    *sandbox.VCC
	url   string
	w     *running
	seq   atomic.Int64
	users map[string]string // name → Salesforce user key
}

func newCmdEnv(t *testing.T) *cmdEnv {
	t.Helper()
	sb, url := demoVCC(t)
	e := &cmdEnv{t: t, sb: sb, url: url, users: map[string]string{}}
	e.w = startWorker(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	return e
}

// provision publishes a Salesforce user and waits until it is applied.
func (e *cmdEnv) provision(name, id15, username, profile string) {
	t := e.t
	key, err := events.NormalizeID(id15)
	if err != nil {
		t.Fatal(err)
	}
	u := events.User{ID: key, Username: events.Val(username), Email: events.Val(username), FirstName: events.Val(name),
		LastName: events.Val("Test"), IsActive: events.Val(true), ProfileID: events.Val(profile),
		SystemModstamp: events.Val(events.Time{Time: e2eT0})}
	env, err := events.NewUserChanged("sf-"+id15, "salesforce/test", e2eT0, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), e.w.sys.js, env); err != nil {
		t.Fatal(err)
	}
	if o := e.w.obs.waitEvent(t, env.ID); o.Err != nil {
		t.Fatalf("provision %s: %v", name, o.Err)
	}
	e.users[name] = key
}

func (e *cmdEnv) vccID(name string) string {
	st, ok, err := e.w.sys.db.User(e.users[name])
	if err != nil || !ok || st.VCCUserID == "" {
		e.t.Fatalf("%s has no VCC user (%v)", name, err)
	}
	return st.VCCUserID
}

func (e *cmdEnv) record(name string) sandbox.VCCUserRecord {
	rec, ok := e.sb.User(e.vccID(name))
	if !ok {
		e.t.Fatalf("%s: VCC user gone", name)
	}
	return rec
}

func (e *cmdEnv) writes(vccID string) int {
	n := 0
	for _, c := range e.sb.Stats().WritesByUser[vccID] {
		n += c
	}
	return n
}

// send publishes a command (data as given, so refusals of bad parameters
// reach the worker too) and returns its outcome.
func (e *cmdEnv) send(name, action string, params map[string]any) (string, worker.Outcome) {
	id := fmt.Sprintf("cmd-%d", e.seq.Add(1))
	return id, e.sendID(id, name, action, params)
}

func (e *cmdEnv) sendID(id, name, action string, params map[string]any) worker.Outcome {
	t := e.t
	key := e.users[name]
	if key == "" {
		key = name // a raw Salesforce ID
	}
	data := map[string]any{"requestedBy": "alice", "reason": "ticket 42"}
	for k, v := range params {
		data[k] = v
	}
	raw, _ := json.Marshal(data)
	env := events.Envelope{SpecVersion: events.SpecVersion, ID: id, Source: "operator/alice", Type: events.CommandTypePrefix + action,
		Subject: key, DataContentType: "application/json", Data: raw}
	if _, err := bus.Publish(context.Background(), e.w.sys.js, env); err != nil {
		t.Fatal(err)
	}
	return e.w.obs.waitEvent(t, id)
}

// step is one command and what must come of it.
type step struct {
	user, action string
	params       map[string]any
	want         string // outcome, or "refused" (dead-lettered as permanent)
	refusal      string // part of the reason, for refusals
	check        func(t *testing.T, e *cmdEnv)
	notAgain     bool // not convergent by nature (reset-password)
}

func (e *cmdEnv) run(steps []step) {
	outer := e.t
	defer func() { e.t = outer }()
	for i, s := range steps {
		name := fmt.Sprintf("%02d %s %s %v", i, s.action, s.user, s.params)
		outer.Run(name, func(t *testing.T) {
			e.t = t
			defer func() { e.t = outer }()
			vid := ""
			if _, ok := e.users[s.user]; ok {
				if st, found, _ := e.w.sys.db.User(e.users[s.user]); found {
					vid = st.VCCUserID
				}
			}
			before := e.writes(vid)
			_, o := e.send(s.user, s.action, s.params)
			if s.want == "refused" {
				if o.Outcome != "dead_lettered" || o.Class != events.ClassPermanent {
					t.Fatalf("outcome %q class %q (err %v), want dead-lettered as permanent", o.Outcome, o.Class, o.Err)
				}
				if o.Err == nil || !strings.Contains(o.Err.Error(), s.refusal) {
					t.Fatalf("refusal %v\n does not say %q", o.Err, s.refusal)
				}
				if w := e.writes(vid); w != before {
					t.Errorf("a refused command made %d VCC writes", w-before)
				}
				return
			}
			if o.Err != nil || o.Outcome != s.want {
				t.Fatalf("outcome %q err %v, want %q", o.Outcome, o.Err, s.want)
			}
			if s.check != nil {
				s.check(t, e)
			}
			if s.notAgain || vid == "" {
				return
			}
			after := e.writes(vid)
			if _, o := e.send(s.user, s.action, s.params); o.Err != nil || o.Outcome != handlers.OutcomeUnchanged {
				t.Errorf("second run: outcome %q err %v, want unchanged", o.Outcome, o.Err)
			}
			if w := e.writes(vid); w != after {
				t.Errorf("second run made %d VCC writes, want 0", w-after)
			}
		})
	}
}

func login(t *testing.T, url, username, password string) int {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(url+sandbox.VCCLoginPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCommandsEndToEnd runs every admin command through JetStream against
// the sandbox: its effect, a second run that writes nothing, and its
// refusals, each dead-lettered as permanent with the rule.
func TestCommandsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newCmdEnv(t)
	e.provision("Ann", "0055e000001CmdA", "ann@acme.example", "00e5e000000AgtV")
	e.provision("Ben", "0055e000001CmdB", "ben@acme.example", "00e5e000000AgtV")
	e.provision("Dan", "0055e000001CmdD", "dan@acme.example", "00e5e000000AgtV")
	e.provision("Cal", "0055e000001CmdC", "cal@acme.example", "00e5e000000AgtV")
	e.provision("Carol", "0055e000001Caro", sandbox.DemoAdminUsername, "00e5e000000AgtV") // linked: Admin, not acting as agent

	skill := "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001"
	agent := func(name string) *sandbox.VCCAgentConfig { return e.record(name).User.Config.Agent }
	e.run([]step{
		// Telephony region.
		{user: "Ann", action: "set-telephony-region", params: map[string]any{"region": "Sydney"}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				ta := agent("Ann").TelephonyAddress
				if ta.OutboundTelephonyRegion != sandbox.DemoRegionSydney {
					t.Errorf("region %q, want Sydney's", ta.OutboundTelephonyRegion)
				}
				// VCC may replace a nested object given in part: the whole
				// telephonyAddress is written, so nothing else is lost.
				if ta.TelephoneAddress == "" || ta.SelectedCallbackNumberID == "" || !ta.NationalDisplay {
					t.Errorf("telephonyAddress %+v: the region change lost the phone number or the other settings", ta)
				}
			}},
		{user: "Ann", action: "set-telephony-region", params: map[string]any{"region": "Mars"}, want: "refused",
			refusal: `"Mars" is not a telephony region; valid: EMEA - Primary (11), EMEA - Secondary (8), NAM EAST (Default)`},
		// Callback numbers.
		{user: "Ann", action: "set-callback-numbers", params: map[string]any{"all": true}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				// More than VCC's default page of 25: a reader that does not
				// follow the pages would see and set fewer.
				if n, all := len(e.record("Ann").CallbackNumbers), len(e.sb.CallbackNumbers()); n != all || all <= 25 {
					t.Errorf("%d callback numbers, want all %d", n, all)
				}
			}},
		{user: "Ann", action: "set-callback-numbers", params: map[string]any{"callbackNumbers": []string{"+12125550100"}}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if got := e.record("Ann").CallbackNumbers; len(got) != 1 || got[0] != sandbox.DemoCallbackNewYork {
					t.Errorf("callback numbers %v, want New York's by its CLID", got)
				}
			}},
		{user: "Ann", action: "set-callback-numbers", params: map[string]any{"callbackNumbers": []string{"+4400000"}}, want: "refused",
			refusal: "+4400000 not among the account's outbound CLIDs; valid: London Support"},
		{user: "Ann", action: "set-callback-numbers", params: map[string]any{"clear": true}, want: "updated"},
		// WebRTC.
		{user: "Ann", action: "set-webrtc", params: map[string]any{"enabled": true, "phoneNumber": "+442079460123"}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if a := agent("Ann"); !a.WebRTC || a.TelephonyAddress.TelephoneAddress != "+442079460123" {
					t.Errorf("webrtc %v phone %q", a.WebRTC, a.TelephonyAddress.TelephoneAddress)
				}
			}},
		{user: "Ben", action: "set-webrtc", params: map[string]any{"enabled": true, "phoneNumber": "+442079460123"}, want: "refused",
			refusal: "set-webrtc refused by VCC"},
		{user: "Ben", action: "set-webrtc", params: map[string]any{"enabled": false}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if agent("Ben").WebRTC {
					t.Error("WebRTC still on")
				}
			}},
		{user: "Ben", action: "set-webrtc", params: map[string]any{"enabled": true, "webrtcOnly": true}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if a := agent("Ben"); !a.WebRTC || a.TelephonyAddress.TelephoneAddress != a.AgentDisplayID {
					t.Errorf("webrtc-only: phone %q, want the agent ID %q", a.TelephonyAddress.TelephoneAddress, a.AgentDisplayID)
				}
			}},
		// Agent switches and capacity.
		{user: "Ann", action: "set-enforced-disposition-codes", params: map[string]any{"enabled": false}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if agent("Ann").EnforcedDispositionCodes {
					t.Error("still enforced")
				}
			}},
		{user: "Ann", action: "set-call-recording-control", params: map[string]any{"enabled": false}, want: "updated"},
		// The agent template records the screen.
		{user: "Ann", action: "set-screen-recording", params: map[string]any{"enabled": false}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if agent("Ann").ScreenRecording {
					t.Error("screen recording not disabled")
				}
			}},
		{user: "Ann", action: "set-interaction-capacity", params: map[string]any{"live": 60, "nonLive": 30, "semiLive": 20}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if c := agent("Ann").Capacity; !c.IsAgentLevel || c.Live != 60 || c.NonLive != 30 || c.SemiLive != 20 {
					t.Errorf("capacity %+v", c)
				}
			}},
		{user: "Ann", action: "set-interaction-capacity", params: map[string]any{"default": true}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if agent("Ann").Capacity.IsAgentLevel {
					t.Error("capacity still agent-level")
				}
			}},
		{user: "Ann", action: "set-interaction-capacity", params: map[string]any{"live": 60, "nonLive": 30, "semiLive": 120}, want: "refused",
			refusal: "data.semiLive: 120%, want 0 to 100"},
		// Skills.
		{user: "Ann", action: "set-skill-level", params: map[string]any{"skill": skill, "level": 9}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				for _, s := range e.record("Ann").Skills {
					if s.SkillID == skill && s.Level != 9 {
						t.Errorf("level %d, want 9", s.Level)
					}
				}
			}},
		{user: "Ann", action: "set-skill-level", params: map[string]any{"skill": "new-skill", "level": 2}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				// The template has more skills than VCC's default page of 25:
				// a replace-all PUT built from one page would drop the rest.
				if n := len(e.record("Ann").Skills); n != sandbox.DemoAgentTemplateSkills+1 {
					t.Errorf("%d skills, want the template's %d and the new one", n, sandbox.DemoAgentTemplateSkills)
				}
			}},
		{user: "Ann", action: "set-skill-level", params: map[string]any{"skill": skill, "level": 11}, want: "refused", refusal: "data.level: 11, want 1 to 10"},
		// Act as agent.
		{user: "Carol", action: "allow-act-as-agent", params: map[string]any{"enabled": true}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				u := e.record("Carol").User
				if !u.Config.ActAsAgent || u.Config.Agent == nil || u.Config.Agent.AgentDisplayID == "" {
					t.Errorf("Carol: actAsAgent %v agent %+v, want allowed with an agent ID", u.Config.ActAsAgent, u.Config.Agent)
				}
			}},
		{user: "Carol", action: "allow-act-as-agent", params: map[string]any{"enabled": false}, want: "updated"},
		{user: "Carol", action: "allow-act-as-agent", params: map[string]any{"enabled": true}, want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				st, _, _ := e.w.sys.db.User(e.users["Carol"])
				if id := e.record("Carol").User.Config.Agent.AgentDisplayID; id == "" || id != st.AgentID {
					t.Errorf("agent ID %q after deny and allow, want the first grant's %q", id, st.AgentID)
				}
			}},
		{user: "Ann", action: "allow-act-as-agent", params: map[string]any{"enabled": false}, want: "refused", refusal: "has the Agent role, which always acts as agent"},
		// Archive, reactivate, delete.
		{user: "Dan", action: "archive", want: "archived"},
		{user: "Dan", action: "reactivate", want: "reactivated"},
		{user: "Dan", action: "delete", params: map[string]any{"confirm": true}, want: "refused", refusal: "is active; VCC deletes only archived users (archive first)"},
		{user: "Dan", action: "delete", want: "refused", refusal: "delete needs confirm: true"},
		{user: "Dan", action: "archive", want: "archived"},
		{user: "Dan", action: "delete", params: map[string]any{"confirm": true}, want: "deleted", notAgain: true,
			check: func(t *testing.T, e *cmdEnv) {
				if _, ok := e.sb.UserByUsername("dan@acme.example"); ok {
					t.Error("Dan still in VCC")
				}
				if _, o := e.send("Dan", "delete", map[string]any{"confirm": true}); o.Outcome != handlers.OutcomeUnchanged {
					t.Errorf("second delete: %q %v, want unchanged", o.Outcome, o.Err)
				}
			}},
		{user: "Cal", action: "archive", want: "archived",
			check: func(t *testing.T, e *cmdEnv) {
				if err := e.sb.AddUserCredential(e.vccID("Cal"), "cal-reporting-client"); err != nil {
					t.Fatal(err)
				}
			}},
		{user: "Cal", action: "delete", params: map[string]any{"confirm": true}, want: "refused", refusal: "user-level API credentials"},
		{user: "0055e000001Nobo", action: "archive", want: "refused", refusal: "has no VCC user"},
		// Unlock after five failed logins.
		{user: "Ben", action: "unlock", want: "unchanged", notAgain: true,
			check: func(t *testing.T, e *cmdEnv) {
				for range 5 {
					login(t, e.url, "ben@acme.example", "wrong")
				}
				if code := login(t, e.url, "ben@acme.example", "wrong"); code != http.StatusLocked || !e.record("Ben").User.Locked {
					t.Fatalf("after five failed logins: status %d, locked %v", code, e.record("Ben").User.Locked)
				}
			}},
		{user: "Ben", action: "unlock", want: "updated",
			check: func(t *testing.T, e *cmdEnv) {
				if e.record("Ben").User.Locked {
					t.Error("still locked")
				}
			}},
	})

	// Resync: a change made by hand in VCC is put back from the last
	// Salesforce snapshot.
	if err := e.sb.ModifyUser(e.vccID("Ben"), func(r *sandbox.VCCUserRecord) { r.User.Name = "Changed By Hand" }); err != nil {
		t.Fatal(err)
	}
	e.run([]step{{user: "Ben", action: "resync", want: "updated",
		check: func(t *testing.T, e *cmdEnv) {
			if n := e.record("Ben").User.Name; n != "Ben Test" {
				t.Errorf("name %q after resync, want Salesforce's %q", n, "Ben Test")
			}
		}}})

	// History: who asked, why, and old → new.
	hist, err := e.w.sys.db.History(e.users["Ann"], 0)
	if err != nil {
		t.Fatal(err)
	}
	var region *store.HistoryEntry
	for i := range hist {
		if hist[i].Action == "set-telephony-region" && hist[i].Outcome == "updated" {
			region = &hist[i]
		}
	}
	if region == nil || region.RequestedBy != "alice" || region.Reason != "ticket 42" || len(region.Changes) != 1 ||
		region.Changes[0].Old != "EMEA - Primary (11)" || region.Changes[0].New != "Sydney (12)" {
		t.Errorf("history of the region change: %+v", region)
	}
}

// TestResetPasswordAtMostOnce: the email is sent once per command, a
// redelivered command sends nothing, and a crash between recording the
// intent and the call is reported as outcome unknown, never retried.
func TestResetPasswordAtMostOnce(t *testing.T) {
	e := newCmdEnv(t)
	e.provision("Ann", "0055e000001CmdA", "ann@acme.example", "00e5e000000AgtV")

	id, o := e.send("Ann", "reset-password", nil)
	if o.Err != nil || o.Outcome != handlers.OutcomePasswordReset || len(e.sb.PasswordResets()) != 1 {
		t.Fatalf("outcome %q err %v, %d emails; want one sent", o.Outcome, o.Err, len(e.sb.PasswordResets()))
	}
	// The same command delivered again (a new message id: past the window).
	env := events.Envelope{SpecVersion: events.SpecVersion, ID: id, Source: "operator/alice", Type: events.CommandTypePrefix + "reset-password",
		Subject: e.users["Ann"], Data: json.RawMessage(`{"requestedBy":"alice"}`)}
	if _, err := bus.PublishWithID(context.Background(), e.w.sys.js, env, id+"-again"); err != nil {
		t.Fatal(err)
	}
	e.w.obs.waitFor(t, 3, 10*time.Second) // provision, first send, redelivery: fails on timeout
	if n := len(e.sb.PasswordResets()); n != 1 {
		t.Errorf("%d emails after a redelivery, want 1", n)
	}

	// A crash after the call, before the commit: the result was recorded.
	if err := e.w.sys.db.SetSagaStep(e.users["Ann"], store.SagaStep{Saga: "reset-password/cmd-sent", Step: "sent"}); err != nil {
		t.Fatal(err)
	}
	if o := e.sendID("cmd-sent", "Ann", "reset-password", nil); o.Err != nil || o.Outcome != handlers.OutcomeUnchanged {
		t.Errorf("after a crash past the call: outcome %q err %v, want unchanged", o.Outcome, o.Err)
	}
	// A crash between the intent and the call: outcome unknown, no email.
	if err := e.w.sys.db.SetSagaStep(e.users["Ann"], store.SagaStep{Saga: "reset-password/cmd-crashed", Step: "calling"}); err != nil {
		t.Fatal(err)
	}
	o = e.sendID("cmd-crashed", "Ann", "reset-password", nil)
	if o.Class != events.ClassPermanent || o.Err == nil || !strings.Contains(o.Err.Error(), "outcome unknown") {
		t.Errorf("after a crash mid-call: outcome %q class %q err %v, want dead-lettered: outcome unknown", o.Outcome, o.Class, o.Err)
	}
	if n := len(e.sb.PasswordResets()); n != 1 {
		t.Errorf("%d emails in all, want 1", n)
	}
}
