package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Admin is what the admin commands need of VCC beyond VCC.
type Admin interface {
	DeleteUser(ctx context.Context, userID string) error
	UnlockUser(ctx context.Context, userID string) error
	ResetPassword(ctx context.Context, userID string) error
	ListCallbackNumbers(ctx context.Context) ([]vcc.CallbackNumber, error)
}

// Outcomes of commands beyond those of Salesforce events.
const (
	OutcomeDeleted       = "deleted"
	OutcomePasswordReset = "password_reset_sent"
)

// The reset-password saga: its step is recorded before the call, per
// command id, so a crash between the record and the call is reported, not
// repeated.
const (
	sagaResetPassword = "reset-password/"
	stepCalling       = "calling"
	stepSent          = "sent"
)

// SagaDone reports whether a recorded saga step is a finished one, kept
// only so a redelivered command is not run twice (a sent reset-password
// email): status views leave it out of the changes in progress.
func SagaDone(saga, step string) bool {
	return strings.HasPrefix(saga, sagaResetPassword) && step == stepSent
}

// ErrOutcomeUnknown is wrapped by the error of a non-convergent command
// whose call may or may not have happened (a crash after recording the
// intent and before recording the result).
var ErrOutcomeUnknown = errors.New("outcome unknown")

// HandleCommand applies an operator's admin command to the user's VCC user.
// Every command is convergent (applying it when its effect is in place
// writes nothing) except reset-password, which happens at most once per
// command id. A refusal (bad parameter, a rule VCC or the seed states, no
// VCC user) is a *PermanentError naming the rule.
func (h *Handler) HandleCommand(ctx context.Context, key, eventID string, prev State, c events.Command) (Result, error) {
	return settle(prev)(h.command(h.guarded(ctx, key, eventID), key, eventID, prev, c))
}

func (h *Handler) command(ctx context.Context, key, eventID string, prev State, c events.Command) (Result, error) {
	p, err := c.Params()
	if err != nil {
		return Result{}, permanent("%s refused: %v", c.Action, err)
	}
	next := prev.clone()
	switch c.Action {
	case events.ActionResync:
		return h.resync(ctx, key, prev)
	case events.ActionChangeAlias:
		return h.changeAlias(ctx, key, prev, p.Alias)
	}
	// Commands are rare and must find the user even when it was made in
	// VCC since the index was listed: usernames are looked up in VCC.
	cur, err := h.find(ctx, prev.VCCUserID, h.m.username(prev.Snapshot), prev.Synced[fUsername], false)
	if err != nil {
		return Result{}, err
	}
	if cur == nil {
		if c.Action == events.ActionDelete && (prev.VCCUserID != "" || prev.Synced[fDeleted] != "") {
			next.VCCUserID = ""
			return Result{State: next, Outcome: OutcomeUnchanged, Note: "the VCC user is already deleted"}, nil
		}
		return Result{}, permanent("%s refused: Salesforce user %s has no VCC user (not provisioned, or deleted)", c.Action, key)
	}
	next.VCCUserID = cur.UserID
	a := &apply{h: h, ctx: ctx, cur: cur, res: Result{State: next, Outcome: OutcomeUnchanged}}
	switch c.Action {
	case events.ActionArchive:
		a.active(false)
	case events.ActionReactivate:
		a.active(true)
	case events.ActionDelete:
		return h.delete(ctx, cur, next)
	case events.ActionSetTelephonyRegion:
		a.region(p.Region)
	case events.ActionSetCallbackNumbers:
		a.callbackNumbers(p)
	case events.ActionSetWebRTC:
		a.webrtc(*p.Enabled, p.PhoneNumber, p.WebRTCOnly)
	case events.ActionSetEnforcedDispositionCodes:
		a.agentFlag("enforcedDispositionCodes", *p.Enabled, func(c *vcc.AgentConfiguration) **bool { return &c.EnforcedDispositionCodes })
	case events.ActionSetCallRecordingControl:
		a.agentFlag("callRecordingControls", *p.Enabled, func(c *vcc.AgentConfiguration) **bool { return &c.CallRecordingControls })
	case events.ActionSetScreenRecording:
		a.agentFlag("screenRecording", *p.Enabled, func(c *vcc.AgentConfiguration) **bool { return &c.ScreenRecording })
	case events.ActionSetInteractionCapacity:
		a.capacity(p)
	case events.ActionSetSkillLevel:
		a.skillLevel(p.Skill, p.Level)
	case events.ActionAllowActAsAgent:
		a.actAsAgent(key, *p.Enabled, p.AgentID, prev.Snapshot.AgentID.Get())
	case events.ActionUnlock:
		a.unlock()
	case events.ActionResetPassword:
		return h.resetPassword(ctx, key, eventID, cur, next)
	default:
		return Result{}, permanent("%s refused: no handler for this action", c.Action)
	}
	if a.err != nil {
		return Result{}, a.err
	}
	if a.patch != nil {
		if _, err := h.vcc.PatchUser(ctx, cur.UserID, a.patch); err != nil {
			return Result{}, refusal(c.Action, fmt.Errorf("update VCC user %s: %w", cur.UserID, err))
		}
		if a.patch.Config != nil && a.patch.Config.Agent != nil {
			h.idx.markAgentID(a.patch.Config.Agent.AgentDisplayID)
		}
	}
	if len(a.res.Changes) > 0 && a.res.Outcome == OutcomeUnchanged {
		a.res.Outcome = OutcomeUpdated
	}
	if id := cur.AgentDisplayID(); id != "" && a.res.State.AgentID == "" {
		a.res.State.AgentID = id
	}
	return a.res, nil
}

// refusal wraps an error of VCC's with the command it refused: a permanent
// VCC error becomes a PermanentError carrying VCC's own message.
func refusal(action string, err error) error {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && !t.Temporary() {
		return &PermanentError{Msg: fmt.Sprintf("%s refused by VCC: %v", action, err), Err: err}
	}
	return err
}

// apply collects one command's changes into a single PATCH.
type apply struct {
	h     *Handler
	ctx   context.Context
	cur   *vcc.User
	patch *vcc.User
	res   Result
	err   error
}

func (a *apply) change(field, old, new string) {
	a.res.Changes = append(a.res.Changes, Change{Field: field, Old: old, New: new})
}

// agent returns the PATCH's agentConfiguration, creating it.
func (a *apply) agent() *vcc.AgentConfiguration {
	if a.patch == nil {
		a.patch = &vcc.User{}
	}
	if a.patch.Config == nil {
		a.patch.Config = &vcc.AccountConfiguration{}
	}
	if a.patch.Config.Agent == nil {
		a.patch.Config.Agent = &vcc.AgentConfiguration{}
	}
	return a.patch.Config.Agent
}

// curAgent is the user's agent configuration, or a refusal when the user
// does not act as agent.
func (a *apply) curAgent(what string) *vcc.AgentConfiguration {
	if a.cur.Config == nil || a.cur.Config.Agent == nil || a.cur.Config.ActAsAgent == nil || !*a.cur.Config.ActAsAgent {
		a.err = permanent("%s refused: VCC user %s does not act as agent (allow-act-as-agent first)", what, a.cur.UserID)
		return nil
	}
	return a.cur.Config.Agent
}

func (a *apply) active(want bool) {
	if a.cur.IsActive() == want {
		return
	}
	a.patch = &vcc.User{Active: vcc.Bool(want)}
	a.change("active", strconv.FormatBool(!want), strconv.FormatBool(want))
	a.res.State.Synced[fActive] = strconv.FormatBool(want)
	if want {
		a.res.Outcome = OutcomeReactivated
	} else {
		a.res.Outcome = OutcomeArchived
	}
}

// region sets the user's outbound telephony region. VCC has no list of
// regions: the mapping's telephonyRegions give each name its GUID.
func (a *apply) region(name string) {
	r, err := events.LookupTelephonyRegion(name)
	if err != nil {
		a.err = permanent("set-telephony-region refused: %v", err)
		return
	}
	ag := a.curAgent("set-telephony-region")
	if ag == nil {
		return
	}
	id, ok := a.h.m.regionID(r.Name)
	if !ok {
		a.err = &ConfigError{Msg: fmt.Sprintf("set-telephony-region refused: no GUID is configured for region %q: add it under mapping.telephonyRegions (syncworker --list-regions shows the GUIDs users carry)", r.Name)}
		return
	}
	cur := ""
	if ag.TelephonyAddress != nil {
		cur = ag.TelephonyAddress.OutboundTelephonyRegion
	}
	if strings.EqualFold(cur, id) {
		return
	}
	a.telephonyAddress(ag).OutboundTelephonyRegion = id
	a.change("telephonyRegion", a.h.m.regionName(cur), r.Name)
}

// telephonyAddress returns the PATCH's telephonyAddress, starting from the
// user's whole current one: VCC does not document whether a partial
// nested object is merged or replaces the object, so it is always written
// whole (read, modify, write) and a region change never clears the phone
// number.
func (a *apply) telephonyAddress(cur *vcc.AgentConfiguration) *vcc.TelephonyAddress {
	p := a.agent()
	if p.TelephonyAddress == nil {
		p.TelephonyAddress = &vcc.TelephonyAddress{}
		if cur.TelephonyAddress != nil {
			*p.TelephonyAddress = *cur.TelephonyAddress
		}
	}
	return p.TelephonyAddress
}

func (a *apply) agentFlag(field string, want bool, get func(*vcc.AgentConfiguration) **bool) {
	ag := a.curAgent("set " + field)
	if ag == nil {
		return
	}
	cur := *get(ag)
	if cur != nil && *cur == want {
		return
	}
	*get(a.agent()) = vcc.Bool(want)
	old := ""
	if cur != nil {
		old = strconv.FormatBool(*cur)
	}
	a.change(field, old, strconv.FormatBool(want))
}

func (a *apply) webrtc(enable bool, phone string, webrtcOnly bool) {
	ag := a.curAgent("set-webrtc")
	if ag == nil {
		return
	}
	curPhone := ""
	if ag.TelephonyAddress != nil {
		curPhone = ag.TelephonyAddress.TelephoneAddress
	}
	if webrtcOnly {
		phone = ag.AgentDisplayID // seed 003: the agent ID keeps the number unique
	}
	if enable && phone == "" {
		phone = curPhone
	}
	if enable && phone == "" {
		a.err = permanent("set-webrtc refused: enabling WebRTC needs a phone number unique in the account (VCC routes calls to it when WebRTC is unavailable): give a phone number, or webrtc-only to use the agent ID")
		return
	}
	curOn := ag.WebRTC != nil && *ag.WebRTC
	if curOn != enable {
		a.agent().WebRTC = vcc.Bool(enable)
		a.change("webrtc", strconv.FormatBool(curOn), strconv.FormatBool(enable))
	}
	if enable && phone != curPhone {
		a.telephonyAddress(ag).TelephoneAddress = phone
		a.change("telephoneAddress", curPhone, phone)
	}
}

func (a *apply) capacity(p events.CommandParams) {
	ag := a.curAgent("set-interaction-capacity")
	if ag == nil {
		return
	}
	c := ag.Capacity
	curAgentLevel := c != nil && c.IsAgentLevel != nil && *c.IsAgentLevel
	describe := func(agentLevel bool, live, nonLive, semiLive *int) string {
		if !agentLevel {
			return "account default"
		}
		v := func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		}
		return fmt.Sprintf("live %d%%, non-live %d%%, semi-live %d%%", v(live), v(nonLive), v(semiLive))
	}
	old := "account default"
	if c != nil {
		old = describe(curAgentLevel, c.Live, c.NonLive, c.SemiLive)
	}
	if p.Default {
		if !curAgentLevel {
			return
		}
		a.agent().Capacity = &vcc.Capacity{IsAgentLevel: vcc.Bool(false)}
		a.change("capacity", old, "account default")
		return
	}
	want := describe(true, p.Live, p.NonLive, p.SemiLive)
	if curAgentLevel && old == want {
		return
	}
	a.agent().Capacity = &vcc.Capacity{IsAgentLevel: vcc.Bool(true), Live: p.Live, NonLive: p.NonLive, SemiLive: p.SemiLive}
	a.change("capacity", old, want)
}

func (a *apply) callbackNumbers(p events.CommandParams) {
	account, err := a.h.admin.ListCallbackNumbers(a.ctx)
	if err != nil {
		a.err = fmt.Errorf("list the account's callback numbers: %w", err)
		return
	}
	var want []vcc.CallbackNumberRef
	switch {
	case p.All:
		for _, n := range account {
			want = append(want, vcc.CallbackNumberRef{CallbackNumberID: n.CallbackNumberID})
		}
	case p.Clear:
	default:
		var unknown []string
		for _, given := range p.CallbackNumbers {
			i := slices.IndexFunc(account, func(n vcc.CallbackNumber) bool {
				return n.CallbackNumberID == given || n.CallbackNumberClid == given || strings.EqualFold(n.CallbackNumberName, given)
			})
			if i < 0 {
				unknown = append(unknown, given)
				continue
			}
			ref := vcc.CallbackNumberRef{CallbackNumberID: account[i].CallbackNumberID}
			if !slices.Contains(want, ref) {
				want = append(want, ref)
			}
		}
		if len(unknown) > 0 {
			valid := make([]string, len(account))
			for i, n := range account {
				valid[i] = fmt.Sprintf("%s (%s, %s)", n.CallbackNumberName, n.CallbackNumberClid, n.CallbackNumberID)
			}
			a.err = permanent("set-callback-numbers refused: %s not among the account's outbound CLIDs; valid: %s",
				strings.Join(unknown, ", "), strings.Join(valid, "; "))
			return
		}
	}
	cur, err := a.h.vcc.GetCallbackNumbers(a.ctx, a.cur.UserID)
	if err != nil {
		a.err = fmt.Errorf("read callback numbers of VCC user %s: %w", a.cur.UserID, err)
		return
	}
	if sameSet(cur, want) {
		return
	}
	if !a.unselectCallbackNumber(want) {
		return
	}
	if err := a.h.vcc.PutCallbackNumbers(a.ctx, a.cur.UserID, want); err != nil {
		a.err = refusal("set-callback-numbers", fmt.Errorf("set callback numbers of VCC user %s: %w", a.cur.UserID, err))
		return
	}
	a.change("callbackNumbers", refsString(cur), refsString(want))
}

func refsString(refs []vcc.CallbackNumberRef) string {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.CallbackNumberID
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func (a *apply) skillLevel(skill string, level int) {
	skills, err := a.h.vcc.GetSkills(a.ctx, a.cur.UserID)
	if err != nil {
		a.err = fmt.Errorf("read skills of VCC user %s: %w", a.cur.UserID, err)
		return
	}
	old := ""
	want := slices.Clone(skills)
	i := slices.IndexFunc(want, func(s vcc.Skill) bool { return s.SkillID == skill })
	switch {
	case i >= 0 && int(want[i].Level) == level:
		return
	case i >= 0:
		old = strconv.Itoa(int(want[i].Level))
		want[i].Level = vcc.SkillLevel(level)
	default:
		want = append(want, vcc.Skill{SkillID: skill, Level: vcc.SkillLevel(level)})
	}
	if err := a.h.vcc.PutSkills(a.ctx, a.cur.UserID, want); err != nil {
		a.err = refusal("set-skill-level", fmt.Errorf("set skills of VCC user %s: %w", a.cur.UserID, err))
		return
	}
	a.change("skill "+skill, old, strconv.Itoa(level))
}

// actAsAgent allows or denies a user to act as agent. Agent access, once
// granted, cannot be revoked in VCC (seed 003): deny keeps the agent ID. The
// first grant sets the agent ID: the command's, else Salesforce's NVM Agent
// Id, else the next free one.
func (a *apply) actAsAgent(key string, allow bool, agentID, sfAgentID string) {
	cfg := a.cur.Config
	if cfg == nil {
		cfg = &vcc.AccountConfiguration{}
	}
	on := cfg.ActAsAgent != nil && *cfg.ActAsAgent
	if on == allow {
		return
	}
	if !allow && cfg.Role == vcc.RoleAgent {
		a.err = permanent("allow-act-as-agent refused: VCC user %s has the Agent role, which always acts as agent in VCC; only supervisors, admins and wallboard users can be denied", a.cur.UserID)
		return
	}
	a.patch = &vcc.User{Config: &vcc.AccountConfiguration{ActAsAgent: vcc.Bool(allow)}}
	a.change("actAsAgent", strconv.FormatBool(on), strconv.FormatBool(allow))
	if !allow || a.cur.AgentDisplayID() != "" || a.res.State.AgentID != "" {
		return
	}
	// VCC shows agentConfiguration only while allowed: a user allowed before
	// keeps its agent ID, which a GET while denied does not show. Only a
	// user never granted gets one now.
	if agentID == "" {
		agentID = sfAgentID
	}
	var err error
	if agentID != "" {
		err = a.h.ids.ClaimAgentID(key, agentID)
		if errors.Is(err, ErrAgentIDTaken) {
			a.err = permanent("allow-act-as-agent refused: agent ID %s is held by another user: %v", agentID, err)
			return
		}
	} else {
		agentID, err = a.h.agentID(a.ctx, key, "")
	}
	if err != nil {
		a.err = err
		return
	}
	a.patch.Config.Agent = &vcc.AgentConfiguration{AgentDisplayID: agentID}
	a.change("agentDisplayId", "", agentID)
	a.res.State.AgentID = agentID
}

// unselectCallbackNumber clears the user's selected callback number when
// it is not among the numbers the user is to keep: VCC accepts only one of
// the user's own numbers there, so it goes first. The whole telephonyAddress
// is written without it. It reports whether the command may go on.
func (a *apply) unselectCallbackNumber(keep []vcc.CallbackNumberRef) bool {
	ag := a.cur.Config
	if ag == nil || ag.Agent == nil || ag.Agent.TelephonyAddress == nil {
		return true
	}
	ta := *ag.Agent.TelephonyAddress
	sel := ta.SelectedCallbackNumberID
	if sel == "" || slices.Contains(keep, vcc.CallbackNumberRef{CallbackNumberID: sel}) {
		return true
	}
	ta.SelectedCallbackNumberID = ""
	patch := &vcc.User{Config: &vcc.AccountConfiguration{Agent: &vcc.AgentConfiguration{TelephonyAddress: &ta}}}
	if _, err := a.h.vcc.PatchUser(a.ctx, a.cur.UserID, patch); err != nil {
		a.err = refusal("set-callback-numbers", fmt.Errorf("clear the selected callback number %s of VCC user %s: %w", sel, a.cur.UserID, err))
		return false
	}
	a.change("selectedCallbackNumberId", sel, "")
	return true
}

// unlock unlocks a user locked after failed logins (POST
// /users/{userId}/unlock) and reads the user back: only a user VCC shows
// unlocked counts as done.
func (a *apply) unlock() {
	if a.cur.Locked == nil || !*a.cur.Locked {
		return
	}
	if err := a.h.admin.UnlockUser(a.ctx, a.cur.UserID); err != nil {
		a.err = refusal("unlock", fmt.Errorf("unlock VCC user %s: %w", a.cur.UserID, err))
		return
	}
	u, err := a.h.vcc.GetUser(a.ctx, a.cur.UserID)
	if err != nil {
		a.err = fmt.Errorf("read VCC user %s after unlocking it: %w", a.cur.UserID, err)
		return
	}
	if u.Locked != nil && *u.Locked {
		a.err = &retryError{fmt.Errorf("unlock VCC user %s: VCC accepted the unlock but still shows the user locked", a.cur.UserID)}
		return
	}
	a.change("locked", "true", "false")
}

// delete deletes an archived VCC user. VCC refuses active users and users
// with user-level API credentials; the first is checked here so the
// refusal says what to do, the second is VCC's to say.
func (h *Handler) delete(ctx context.Context, cur *vcc.User, next State) (Result, error) {
	if cur.IsActive() {
		return Result{}, permanent("delete refused: VCC user %s is active; VCC deletes only archived users (archive first)", cur.UserID)
	}
	if err := h.admin.DeleteUser(ctx, cur.UserID); err != nil && !errors.Is(err, vcc.ErrNotFound) {
		return Result{}, refusal("delete", fmt.Errorf("delete VCC user %s: %w", cur.UserID, err))
	}
	h.idx.remove(cur.UserID)
	next.VCCUserID = ""
	next.Synced[fDeleted] = cur.Username
	return Result{State: next, Outcome: OutcomeDeleted, Changes: []Change{{Field: "user", Old: cur.Username}}}, nil
}

// resetPassword makes VCC send the password-reset email at most once per
// command: the intent is recorded before the call and the result after it.
// Found the intent without the result (a crash in between), it reports
// ErrOutcomeUnknown instead of sending again.
func (h *Handler) resetPassword(ctx context.Context, key, eventID string, cur *vcc.User, next State) (Result, error) {
	saga := sagaResetPassword + eventID
	step, _, ok, err := h.sagas.Step(key, saga)
	if err != nil {
		return Result{}, fmt.Errorf("read reset-password step: %w", err)
	}
	switch {
	case ok && step == stepSent:
		return Result{State: next, Outcome: OutcomeUnchanged, Note: "the reset email of this command was sent already"}, nil
	case ok:
		return Result{}, &PermanentError{Msg: fmt.Sprintf("reset-password: %v: vccsync stopped while asking VCC to send the email of VCC user %s; it may or may not have been sent: ask the user, and send a new reset-password command if needed",
			ErrOutcomeUnknown, cur.UserID)}
	}
	if err := h.sagas.SetStep(key, saga, stepCalling, cur.UserID); err != nil {
		return Result{}, fmt.Errorf("record reset-password intent: %w", err)
	}
	if err := h.admin.ResetPassword(ctx, cur.UserID); err != nil {
		// VCC answered: nothing was sent, so the command may be retried.
		if cerr := h.sagas.Clear(key, saga); cerr != nil {
			return Result{}, fmt.Errorf("clear reset-password intent after %v: %w", err, cerr)
		}
		return Result{}, refusal("reset-password", fmt.Errorf("reset password of VCC user %s: %w", cur.UserID, err))
	}
	if err := h.sagas.SetStep(key, saga, stepSent, cur.UserID); err != nil {
		return Result{}, fmt.Errorf("record reset-password sent: %w", err)
	}
	return Result{State: next, Outcome: OutcomePasswordReset, Changes: []Change{{Field: "passwordReset", New: "email sent"}}}, nil
}

// resync re-applies the user's desired state from the last Salesforce
// snapshot, reading VCC in full (nothing is taken as already synced).
func (h *Handler) resync(ctx context.Context, key string, prev State) (Result, error) {
	if prev.Snapshot.ID == "" {
		return Result{}, permanent("resync refused: vccsync has no Salesforce snapshot of user %s yet", key)
	}
	snap := prev.Snapshot
	snap.SystemModstamp, snap.LastModifiedDate = events.Field[events.Time]{}, events.Field[events.Time]{}
	return h.applyUser(ctx, key, prev, snap, true)
}
