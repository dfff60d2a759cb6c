package handlers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// command runs one admin command for the Salesforce user key and settles
// the user's write intent, as the worker's commit does.
func (hs *harness) command(t *testing.T, key string, prev handlers.State, action string, p events.CommandParams) (handlers.Result, error) {
	t.Helper()
	hs.evs++
	env, err := events.NewCommand("cmd-"+action+"-"+strings.Repeat("x", hs.evs), key, action, "alice", "test", p)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Marshal()
	ev, err := events.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hs.h.HandleCommand(hs.ctx, ev.UserKey, ev.ID, prev, *ev.Command)
	if err == nil {
		hs.settle(t, key)
	}
	return res, err
}

// provisioned creates the VCC user of a Salesforce user from the agent
// template and returns its state.
func (hs *harness) provisioned(t *testing.T, id15, first, last string) handlers.State {
	t.Helper()
	res, _, err := hs.apply(t, handlers.State{}, person(id15, first, last, t0))
	if err != nil {
		t.Fatal(err)
	}
	return res.State
}

// TestCommandsWriteWholeNestedObjects: VCC does not say whether a partial
// telephonyAddress is merged; the sandbox replaces it. A region change and
// a phone change must keep every other field of it.
func TestCommandsWriteWholeNestedObjects(t *testing.T) {
	hs := newHarness(t, &handlers.Mapping{DefaultTemplate: sandbox.DemoAgentTemplateUsername, AgentIDStart: 1000,
		TelephonyRegions: map[string]string{"Sydney (12)": sandbox.DemoRegionSydney}})
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	before, _ := hs.sb.User(st.VCCUserID)

	if _, err := hs.command(t, st.Snapshot.ID, st, events.ActionSetTelephonyRegion, events.CommandParams{Region: "Sydney"}); err != nil {
		t.Fatal(err)
	}
	after, _ := hs.sb.User(st.VCCUserID)
	want := before.User.Config.Agent.TelephonyAddress
	want.OutboundTelephonyRegion = sandbox.DemoRegionSydney
	if d := cmp.Diff(want, after.User.Config.Agent.TelephonyAddress); d != "" {
		t.Errorf("telephonyAddress after the region change (-want +got):\n%s", d)
	}

	if _, err := hs.command(t, st.Snapshot.ID, st, events.ActionSetWebRTC, events.CommandParams{Enabled: ptr(true), PhoneNumber: "+441130000042"}); err != nil {
		t.Fatal(err)
	}
	after2, _ := hs.sb.User(st.VCCUserID)
	want.TelephoneAddress = "+441130000042"
	if d := cmp.Diff(want, after2.User.Config.Agent.TelephonyAddress); d != "" {
		t.Errorf("telephonyAddress after the phone change (-want +got):\n%s", d)
	}
}

func TestRegionNeedsItsGUID(t *testing.T) {
	hs := newHarness(t, nil) // no telephonyRegions
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	before := writes(hs.sb)
	_, err := hs.command(t, st.Snapshot.ID, st, events.ActionSetTelephonyRegion, events.CommandParams{Region: "Sydney"})
	var ce *handlers.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "mapping.telephonyRegions") {
		t.Fatalf("error %v: want a configuration error naming mapping.telephonyRegions", err)
	}
	if writes(hs.sb) != before {
		t.Error("a refused region change wrote to VCC")
	}
}

// TestSkillLevelKeepsEveryOtherSkill: the template has more skills than
// VCC's default page; a replace-all PUT built from one page would drop
// the rest.
func TestSkillLevelKeepsEveryOtherSkill(t *testing.T) {
	hs := newHarness(t, nil)
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	tmpl, _ := hs.sb.UserByUsername(sandbox.DemoAgentTemplateUsername)
	skill := tmpl.Skills[len(tmpl.Skills)-1].SkillID // on the last page
	if _, err := hs.command(t, st.Snapshot.ID, st, events.ActionSetSkillLevel, events.CommandParams{Skill: skill, Level: 9}); err != nil {
		t.Fatal(err)
	}
	got, _ := hs.sb.User(st.VCCUserID)
	if len(got.Skills) != len(tmpl.Skills) {
		t.Fatalf("%d skills after set-skill-level, want all %d", len(got.Skills), len(tmpl.Skills))
	}
	for _, s := range got.Skills {
		if s.SkillID == skill && s.Level != 9 {
			t.Errorf("level %d, want 9", s.Level)
		}
	}
}

// TestCallbackNumbersKeepTheSelectionValid: VCC accepts a selected callback
// number only among the user's own; a change that drops it clears the
// selection first.
func TestCallbackNumbersKeepTheSelectionValid(t *testing.T) {
	hs := newHarness(t, nil)
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	res, err := hs.command(t, st.Snapshot.ID, st, events.ActionSetCallbackNumbers, events.CommandParams{CallbackNumbers: []string{sandbox.DemoCallbackNewYork}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := hs.sb.User(st.VCCUserID)
	if d := cmp.Diff([]string{sandbox.DemoCallbackNewYork}, got.CallbackNumbers); d != "" {
		t.Errorf("callback numbers (-want +got):\n%s", d)
	}
	if sel := got.User.Config.Agent.TelephonyAddress.SelectedCallbackNumberID; sel != "" {
		t.Errorf("selected callback number %q kept after it was removed", sel)
	}
	if !strings.Contains(changes(res), "selectedCallbackNumberId") {
		t.Errorf("changes %s do not say the selection was cleared", changes(res))
	}
}

// TestUnlockReadsTheUserBack: unlock is POST /users/{id}/unlock, and only
// a user VCC shows unlocked counts as done.
func TestUnlockReadsTheUserBack(t *testing.T) {
	hs := newHarness(t, nil)
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	if err := hs.sb.ModifyUser(st.VCCUserID, func(r *sandbox.VCCUserRecord) { r.User.Locked = true }); err != nil {
		t.Fatal(err)
	}
	res, err := hs.command(t, st.Snapshot.ID, st, events.ActionUnlock, events.CommandParams{})
	if err != nil || res.Outcome != handlers.OutcomeUpdated {
		t.Fatalf("unlock: %q %v", res.Outcome, err)
	}
	if got, _ := hs.sb.User(st.VCCUserID); got.User.Locked {
		t.Error("still locked")
	}
	res, err = hs.command(t, st.Snapshot.ID, st, events.ActionUnlock, events.CommandParams{})
	if err != nil || res.Outcome != handlers.OutcomeUnchanged {
		t.Errorf("unlock of an unlocked user: %q %v, want unchanged", res.Outcome, err)
	}
}

// TestResetPasswordOncePerCommand: forgotPassword sends an email: a command
// handled twice (a redelivery) sends one.
func TestResetPasswordOncePerCommand(t *testing.T) {
	hs := newHarness(t, nil)
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	env, _ := events.NewCommand("cmd-reset-1", st.Snapshot.ID, events.ActionResetPassword, "alice", "", events.CommandParams{})
	body, _ := env.Marshal()
	ev, _ := events.Parse(body)
	for i, want := range []string{handlers.OutcomePasswordReset, handlers.OutcomeUnchanged} {
		res, err := hs.h.HandleCommand(hs.ctx, ev.UserKey, ev.ID, st, *ev.Command)
		if err != nil || res.Outcome != want {
			t.Fatalf("delivery %d: %q %v, want %q", i+1, res.Outcome, err, want)
		}
	}
	if n := len(hs.sb.PasswordResets()); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

func TestDeleteOnlyArchived(t *testing.T) {
	hs := newHarness(t, nil)
	st := hs.provisioned(t, "0055e000001Jane", "Jane", "Smith")
	_, err := hs.command(t, st.Snapshot.ID, st, events.ActionDelete, events.CommandParams{Confirm: true})
	var perm *handlers.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "archive first") {
		t.Fatalf("delete of an active user: %v, want a refusal saying to archive first", err)
	}
	if _, err := hs.command(t, st.Snapshot.ID, st, events.ActionArchive, events.CommandParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := hs.command(t, st.Snapshot.ID, st, events.ActionDelete, events.CommandParams{Confirm: true})
	if err != nil || res.Outcome != handlers.OutcomeDeleted {
		t.Fatalf("delete of an archived user: %q %v", res.Outcome, err)
	}
	if _, ok := hs.sb.User(st.VCCUserID); ok {
		t.Error("the VCC user is still there")
	}
}

func changes(r handlers.Result) string {
	var b strings.Builder
	for _, c := range r.Changes {
		b.WriteString(c.Field + ":" + c.Old + "→" + c.New + " ")
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
