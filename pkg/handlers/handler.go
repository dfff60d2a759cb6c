package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// VCC is what the handlers need of the VCC User Admin API.
type VCC interface {
	GetUser(ctx context.Context, userID string) (*vcc.User, error)
	GetUserByUsername(ctx context.Context, username string) (*vcc.User, error)
	CreateUser(ctx context.Context, u *vcc.User) (*vcc.User, error)
	PatchUser(ctx context.Context, userID string, patch *vcc.User) (*vcc.User, error)
	ForEachUser(ctx context.Context, include string, pageSize int, fn func(*vcc.User) error) error
	GetSkills(ctx context.Context, userID string) ([]vcc.Skill, error)
	PutSkills(ctx context.Context, userID string, skills []vcc.Skill) error
	GetGroups(ctx context.Context, userID string) ([]vcc.Group, error)
	PutGroups(ctx context.Context, userID string, groups []vcc.Group) error
	GetCallbackNumbers(ctx context.Context, userID string) ([]vcc.CallbackNumberRef, error)
	PutCallbackNumbers(ctx context.Context, userID string, numbers []vcc.CallbackNumberRef) error
}

// AgentIDs reserves agent IDs durably, so a retried create reuses the ID of
// the first attempt.
type AgentIDs interface {
	ReserveAgentID(userKey string, start int, inUse func(id string) bool) (string, error)
	ReleaseAgentID(userKey string) error
	ClaimAgentID(userKey, id string) error
}

// Sagas records the step a multi-step change has reached, durably and
// before the step's call, so a retry after a crash resumes it.
type Sagas interface {
	SetStep(userKey, saga, step, data string) error
	Step(userKey, saga string) (step, data string, ok bool, err error)
	Clear(userKey, saga string) error
}

// The create saga: the user is created, then the template's sub-resources
// are copied. Its data is the template username.
const (
	sagaCreate = "create"
	stepCreate = "create-and-copy"
)

// Outcomes of applying an event.
const (
	OutcomeCreated        = "created"
	OutcomeLinked         = "linked"
	OutcomeUpdated        = "updated"
	OutcomeReactivated    = "reactivated"
	OutcomeArchived       = "archived"
	OutcomeUnchanged      = "unchanged"
	OutcomeStale          = "stale"
	OutcomeOutOfScope     = "out_of_scope"
	OutcomeNotProvisioned = "not_provisioned"
)

// Keys of State.Synced: what vccsync last wrote to (or saw in) VCC.
const (
	fUsername    = "username"
	fName        = "name"
	fEmail       = "email"
	fSSO         = "ssoExternalId"
	fActive      = "active"
	fAgentID     = "agentDisplayId"
	fProvisioned = "provisioned" // template sub-resources applied (template username)
	fDeleted     = "deleted"     // the VCC user (username) was deleted by a command
)

// State is what the handlers keep per Salesforce user between events.
type State struct {
	VCCUserID  string
	Checkpoint time.Time
	Snapshot   events.User
	Synced     map[string]string
	AgentID    string
}

// clone returns a copy of the state whose Synced map can be written.
func (s State) clone() State {
	s.Synced = maps.Clone(s.Synced)
	if s.Synced == nil {
		s.Synced = map[string]string{}
	}
	return s
}

// Change is one field written to VCC, old → new.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Result is the outcome of one event.
type Result struct {
	State   State
	Outcome string
	Changes []Change
	// Note explains an outcome that wrote less than asked (out of scope,
	// stale, an agent ID VCC will not change).
	Note string
}

// PermanentError is a refusal that retrying will not change: a rule or
// missing data. The worker dead-letters it with this message.
type PermanentError struct {
	Msg string
	Err error // the target's error it comes from, if any
}

func (e *PermanentError) Error() string { return e.Msg }

// Unwrap returns the target's error, so its status stays visible (a 401
// during a credentials outage is the worker's to recognise).
func (e *PermanentError) Unwrap() error { return e.Err }

// Temporary is false: retrying will not help.
func (e *PermanentError) Temporary() bool { return false }

func permanent(format string, a ...any) error { return &PermanentError{Msg: fmt.Sprintf(format, a...)} }

// Handler applies salesforce.user.changed events. It is safe for concurrent
// use by different users; the worker serialises events of one user.
type Handler struct {
	vcc   VCC
	admin Admin
	ids   AgentIDs
	sagas Sagas
	m     Mapping
	cmd   commandState

	cc      ContactCenters // nil: membership is not managed
	members *memberBatcher

	tmplMu    sync.Mutex
	templates map[string]*template
	tmplTTL   time.Duration

	idMu   sync.Mutex
	usedID map[string]bool // agentDisplayIds in VCC; nil until loaded
}

// template is a template user with its sub-resources.
type template struct {
	user      *vcc.User
	skills    []vcc.Skill
	groups    []vcc.Group
	callbacks []vcc.CallbackNumberRef
	loaded    time.Time
}

// Client is the whole VCC API the handlers use.
type Client interface {
	VCC
	Admin
}

// New returns a Handler for the mapping.
func New(v Client, ids AgentIDs, sagas Sagas, m Mapping) (*Handler, error) {
	nm, err := m.normalized()
	if err != nil {
		return nil, err
	}
	return &Handler{vcc: v, admin: v, ids: ids, sagas: sagas, m: nm, templates: map[string]*template{}, tmplTTL: 5 * time.Minute}, nil
}

// HandleUser applies a salesforce.user.changed snapshot for the user whose
// previous state is prev. When the desired fields equal what was last
// synced it does not read VCC (see the package doc); VerifyUser does.
func (h *Handler) HandleUser(ctx context.Context, key string, prev State, u events.User) (Result, error) {
	return h.handleUser(ctx, key, prev, u, false)
}

// VerifyUser applies the snapshot like HandleUser, but always reads VCC and
// writes what differs, even when the desired fields equal what was last
// synced: for reconcile, provisioning on demand and resync, whose point is
// to find what changed in VCC behind vccsync's back.
func (h *Handler) VerifyUser(ctx context.Context, key string, prev State, u events.User) (Result, error) {
	return h.handleUser(ctx, key, prev, u, true)
}

func (h *Handler) handleUser(ctx context.Context, key string, prev State, u events.User, verify bool) (Result, error) {
	next := prev.clone()
	ts := u.Modstamp()
	if !ts.IsZero() && ts.Before(prev.Checkpoint) {
		return Result{State: prev, Outcome: OutcomeStale,
			Note: fmt.Sprintf("snapshot of %s is older than the applied one of %s", ts.Format(time.RFC3339Nano), prev.Checkpoint.Format(time.RFC3339Nano))}, nil
	}
	next.Snapshot = prev.Snapshot.Merge(u)
	next.Snapshot.ChangedFields = nil
	if ts.After(next.Checkpoint) {
		next.Checkpoint = ts
	}
	snap := next.Snapshot

	tmplName := h.m.template(snap)
	active := snap.IsActive.Get()
	if tmplName == "" && prev.VCCUserID == "" {
		return Result{State: next, Outcome: OutcomeOutOfScope, Note: fmt.Sprintf("ProfileId %q has no template and no default template is set", snap.ProfileID.Get())}, nil
	}
	if !snap.IsActive.Known() {
		if prev.VCCUserID == "" {
			return Result{}, permanent("cannot provision Salesforce user %s: IsActive unknown (no full snapshot seen yet)", key)
		}
		// Unknown is not "inactive": keep the VCC user as it was synced.
		active = prev.Synced[fActive] != "false"
		snap.IsActive = events.Val(active)
	}

	res, err := h.applyVCC(ctx, key, prev, next, tmplName, active, verify)
	if err != nil {
		return Result{}, err
	}
	if h.cc != nil {
		if err := h.syncContactCenter(ctx, key, &res, active, u.ChangedFields); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// applyVCC brings the VCC user in line with the snapshot in next.
func (h *Handler) applyVCC(ctx context.Context, key string, prev, next State, tmplName string, active, verify bool) (Result, error) {
	snap := next.Snapshot
	want := h.desired(snap)
	if !verify && prev.VCCUserID != "" && syncedEqual(prev.Synced, want) {
		return Result{State: next, Outcome: OutcomeUnchanged}, nil
	}

	cur, err := h.find(ctx, prev.VCCUserID, want[fUsername], prev.Synced[fUsername])
	if err != nil {
		return Result{}, err
	}
	if !active {
		if cur == nil {
			next.VCCUserID = ""
			return Result{State: next, Outcome: OutcomeNotProvisioned, Note: "inactive in Salesforce and no VCC user exists"}, nil
		}
		return h.archive(ctx, next, cur)
	}
	if tmplName == "" {
		tmplName = prev.Synced[fProvisioned]
	}
	if cur == nil {
		return h.create(ctx, key, next, want, tmplName)
	}
	return h.update(ctx, key, next, cur, want, prev.VCCUserID == "")
}

// desired is the VCC view of a Salesforce snapshot, keyed like State.Synced.
func (h *Handler) desired(u events.User) map[string]string {
	return map[string]string{
		fUsername: h.m.username(u),
		fName:     u.Name(),
		fEmail:    u.Email.Get(),
		fSSO:      u.FederationIdentifier.Get(),
		fActive:   strconv.FormatBool(u.IsActive.Get()),
		fAgentID:  u.AgentID.Get(),
	}
}

// syncedEqual reports whether everything desired was already synced. An
// agent ID Salesforce does not know counts as synced.
func syncedEqual(synced, want map[string]string) bool {
	for k, v := range want {
		if k == fAgentID && v == "" {
			continue
		}
		if synced[k] != v {
			return false
		}
	}
	return true
}

// find returns the VCC user by link, else by username (current, then the
// one last synced), or nil when there is none.
func (h *Handler) find(ctx context.Context, linkID, username, oldUsername string) (*vcc.User, error) {
	if linkID != "" {
		u, err := h.vcc.GetUser(ctx, linkID)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, vcc.ErrNotFound) {
			return nil, fmt.Errorf("read linked VCC user %s: %w", linkID, err)
		}
	}
	for _, name := range []string{username, oldUsername} {
		if name == "" {
			continue
		}
		u, err := h.vcc.GetUserByUsername(ctx, name)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, vcc.ErrNotFound) {
			return nil, fmt.Errorf("look up VCC user by username: %w", err)
		}
		if username == oldUsername {
			break
		}
	}
	return nil, nil
}

func (h *Handler) archive(ctx context.Context, next State, cur *vcc.User) (Result, error) {
	next.VCCUserID = cur.UserID
	res := Result{State: next, Outcome: OutcomeUnchanged}
	if cur.IsActive() {
		if _, err := h.vcc.PatchUser(ctx, cur.UserID, &vcc.User{Active: vcc.Bool(false)}); err != nil {
			return Result{}, fmt.Errorf("archive VCC user %s: %w", cur.UserID, err)
		}
		res.Outcome = OutcomeArchived
		res.Changes = []Change{{Field: fActive, Old: "true", New: "false"}}
	}
	res.State.Synced[fActive] = "false"
	return res, nil
}

func (h *Handler) create(ctx context.Context, key string, next State, want map[string]string, tmplName string) (Result, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{h.m.UsernameSource, want[fUsername]}, {"Email", want[fEmail]}, {"LastName or FirstName", want[fName]}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Result{}, permanent("cannot create the VCC user of Salesforce user %s: %s unknown (no full snapshot seen yet)", key, strings.Join(missing, ", "))
	}
	t, err := h.template(ctx, tmplName)
	if err != nil {
		return Result{}, err
	}
	nu := &vcc.User{
		Username: want[fUsername], Name: want[fName], Email: want[fEmail], Active: vcc.Bool(true),
		Config: copyConfig(t.user.Config),
	}
	if sso := want[fSSO]; sso != "" {
		nu.SSOExternalID = vcc.String(sso)
	}
	agentID := ""
	if nu.Config.ActAsAgent != nil && *nu.Config.ActAsAgent {
		if agentID, err = h.agentID(ctx, key, want[fAgentID]); err != nil {
			return Result{}, err
		}
		nu.Config.Agent.AgentDisplayID = agentID
		if a := nu.Config.Agent; a.WebRTC != nil && *a.WebRTC && agentID != "" {
			// WebRTC needs a phone number unique in the account; seed 003's
			// rule for WebRTC-only agents is the agent ID.
			if a.TelephonyAddress == nil {
				a.TelephonyAddress = &vcc.TelephonyAddress{}
			}
			a.TelephonyAddress.TelephoneAddress = agentID
		}
	}
	// The create and the copy of the template's sub-resources are two
	// calls or more: record the step first, so a retry after a failure in
	// between finishes the copy on the user it finds by username.
	if err := h.sagas.SetStep(key, sagaCreate, stepCreate, tmplName); err != nil {
		return Result{}, fmt.Errorf("record create step: %w", err)
	}
	created, err := h.vcc.CreateUser(ctx, nu)
	if err != nil {
		var ve *vcc.Error
		if errors.As(err, &ve) && ve.Status == 409 && want[fAgentID] == "" && agentID != "" {
			// Someone took the ID in VCC since the in-use set was loaded:
			// forget both and let the retry pick the next free one.
			h.forgetUsedIDs()
			if rerr := h.ids.ReleaseAgentID(key); rerr != nil {
				return Result{}, fmt.Errorf("release agent ID %s: %w", agentID, rerr)
			}
			return Result{}, &retryError{fmt.Errorf("create the VCC user of Salesforce user %s with agent ID %s: %w", key, agentID, err)}
		}
		return Result{}, fmt.Errorf("create the VCC user of Salesforce user %s from template %s: %w", key, tmplName, err)
	}
	h.markUsedID(agentID)
	next.VCCUserID, next.AgentID = created.UserID, agentID
	if _, err := h.syncSubresources(ctx, created.UserID, t, true); err != nil {
		return Result{}, err
	}
	if err := h.sagas.Clear(key, sagaCreate); err != nil {
		return Result{}, fmt.Errorf("record create done: %w", err)
	}
	for k, v := range want {
		next.Synced[k] = v
	}
	next.Synced[fAgentID] = agentID
	next.Synced[fProvisioned] = tmplName
	changes := []Change{{Field: "user", New: want[fUsername]}, {Field: "template", New: tmplName}}
	if agentID != "" {
		changes = append(changes, Change{Field: fAgentID, New: agentID})
	}
	return Result{State: next, Outcome: OutcomeCreated, Changes: changes}, nil
}

// retryError marks an error that a retry will get past (a conflict that
// has been cleared locally).
type retryError struct{ err error }

func (e *retryError) Error() string   { return e.err.Error() }
func (e *retryError) Unwrap() error   { return e.err }
func (e *retryError) Temporary() bool { return true }

func (h *Handler) update(ctx context.Context, key string, next State, cur *vcc.User, want map[string]string, linking bool) (Result, error) {
	next.VCCUserID = cur.UserID
	patch := &vcc.User{}
	var changes []Change
	diff := func(field, old, new string, set func()) {
		if old != new {
			set()
			changes = append(changes, Change{Field: field, Old: old, New: new})
		}
	}
	if want[fUsername] != "" {
		diff(fUsername, cur.Username, want[fUsername], func() { patch.Username = want[fUsername] })
	}
	if want[fName] != "" {
		diff(fName, cur.Name, want[fName], func() { patch.Name = want[fName] })
	}
	if want[fEmail] != "" {
		diff(fEmail, cur.Email, want[fEmail], func() { patch.Email = want[fEmail] })
	}
	diff(fSSO, cur.SSO(), want[fSSO], func() { patch.SSOExternalID = vcc.String(want[fSSO]) })
	reactivated := !cur.IsActive()
	diff(fActive, strconv.FormatBool(cur.IsActive()), "true", func() { patch.Active = vcc.Bool(true) })

	res := Result{State: next, Outcome: OutcomeUnchanged}
	agentID := cur.AgentDisplayID()
	if sf := want[fAgentID]; sf != "" && agentID != "" && sf != agentID {
		res.Note = fmt.Sprintf("Salesforce NVM Agent Id %s differs from VCC agent ID %s, which VCC does not allow to change", sf, agentID)
	}
	if len(changes) > 0 {
		if _, err := h.vcc.PatchUser(ctx, cur.UserID, patch); err != nil {
			return Result{}, fmt.Errorf("update VCC user %s: %w", cur.UserID, err)
		}
		res.Outcome = OutcomeUpdated
		if reactivated {
			res.Outcome = OutcomeReactivated
		}
	}
	if linking {
		res.Outcome = OutcomeLinked
	}
	if _, tmplName, pending, err := h.sagas.Step(key, sagaCreate); err != nil {
		return Result{}, fmt.Errorf("read create step: %w", err)
	} else if pending {
		// vccsync created this user, but the copy of the template's
		// sub-resources did not finish: finish it, writing only what differs.
		t, err := h.template(ctx, tmplName)
		if err != nil {
			return Result{}, err
		}
		n, err := h.syncSubresources(ctx, cur.UserID, t, false)
		if err != nil {
			return Result{}, err
		}
		if err := h.sagas.Clear(key, sagaCreate); err != nil {
			return Result{}, fmt.Errorf("record create done: %w", err)
		}
		changes = append(changes, Change{Field: "template", New: fmt.Sprintf("%s (create finished: %d lists copied)", tmplName, n)})
		res.Outcome = OutcomeCreated
		res.State.Synced[fProvisioned] = tmplName
	}
	for k, v := range want {
		res.State.Synced[k] = v
	}
	res.State.Synced[fAgentID] = agentID
	res.State.AgentID = agentID
	if agentID != "" && want[fAgentID] == "" {
		// Keep the allocator from handing this ID to someone else.
		h.markUsedID(agentID)
	}
	res.Changes = changes
	return res, nil
}

// template returns the template user with its sub-resources, cached for
// tmplTTL.
func (h *Handler) template(ctx context.Context, name string) (*template, error) {
	h.tmplMu.Lock()
	defer h.tmplMu.Unlock()
	if t, ok := h.templates[name]; ok && time.Since(t.loaded) < h.tmplTTL {
		return t, nil
	}
	u, err := h.vcc.GetUserByUsername(ctx, name)
	if errors.Is(err, vcc.ErrNotFound) {
		return nil, permanent("template VCC user %q not found: check the mapping's templates", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read template VCC user %s: %w", name, err)
	}
	if u.Config == nil || u.Config.Role == "" {
		return nil, permanent("template VCC user %q has no role", name)
	}
	t := &template{user: u, loaded: time.Now()}
	if t.skills, err = h.vcc.GetSkills(ctx, u.UserID); err != nil {
		return nil, fmt.Errorf("read skills of template %s: %w", name, err)
	}
	if t.groups, err = h.vcc.GetGroups(ctx, u.UserID); err != nil {
		return nil, fmt.Errorf("read groups of template %s: %w", name, err)
	}
	if t.callbacks, err = h.vcc.GetCallbackNumbers(ctx, u.UserID); err != nil {
		return nil, fmt.Errorf("read callback numbers of template %s: %w", name, err)
	}
	h.templates[name] = t
	return t, nil
}

// copyConfig copies the template's account configuration for a new user:
// role, actAsAgent and agent settings (location, telephony region,
// capacity, ...), without the template's own agent ID and phone number.
func copyConfig(c *vcc.AccountConfiguration) *vcc.AccountConfiguration {
	out := &vcc.AccountConfiguration{Role: c.Role, ActAsAgent: c.ActAsAgent}
	if c.ActAsAgent == nil || !*c.ActAsAgent {
		return out
	}
	a := vcc.AgentConfiguration{}
	if c.Agent != nil {
		a = *c.Agent
	}
	a.AgentDisplayID = ""
	if a.TelephonyAddress != nil {
		ta := *a.TelephonyAddress
		ta.TelephoneAddress, ta.TelephonyExtension = "", ""
		a.TelephonyAddress = &ta
	}
	if a.Capacity != nil {
		cp := *a.Capacity
		a.Capacity = &cp
	}
	out.Agent = &a
	return out
}

// syncSubresources makes the user's skills, groups and callback numbers
// those of the template and returns how many lists it wrote. For a user
// just created (fresh) the lists are known to be empty and are not read.
func (h *Handler) syncSubresources(ctx context.Context, userID string, t *template, fresh bool) (int, error) {
	n := 0
	for _, step := range []func() (bool, error){
		func() (bool, error) {
			return syncList(ctx, userID, "skills", fresh, t.skills, h.vcc.GetSkills, h.vcc.PutSkills)
		},
		func() (bool, error) {
			return syncList(ctx, userID, "groups", fresh, t.groups, h.vcc.GetGroups, h.vcc.PutGroups)
		},
		func() (bool, error) {
			return syncList(ctx, userID, "callback numbers", fresh, t.callbacks, h.vcc.GetCallbackNumbers, h.vcc.PutCallbackNumbers)
		},
	} {
		wrote, err := step()
		if err != nil {
			return n, err
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

// syncList makes one replace-all list of the user equal to want: read it
// (unless fresh: a new user's lists are empty), and write it only when it
// differs.
func syncList[T comparable](ctx context.Context, userID, what string, fresh bool, want []T,
	get func(context.Context, string) ([]T, error), put func(context.Context, string, []T) error) (bool, error) {
	var cur []T
	if !fresh {
		var err error
		if cur, err = get(ctx, userID); err != nil {
			return false, fmt.Errorf("read %s of VCC user %s: %w", what, userID, err)
		}
	}
	if sameSet(cur, want) {
		return false, nil
	}
	if err := put(ctx, userID, want); err != nil {
		return false, fmt.Errorf("copy template %s to VCC user %s: %w", what, userID, err)
	}
	return true, nil
}

// sameSet reports whether a and b hold the same elements, in any order.
func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	count := make(map[T]int, len(a))
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		if count[x]--; count[x] < 0 {
			return false
		}
	}
	return true
}
