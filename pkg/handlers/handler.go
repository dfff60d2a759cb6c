package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	GetGroupPermissions(ctx context.Context, userID string) ([]vcc.GroupPermission, error)
	PutGroupPermissions(ctx context.Context, userID string, perms []vcc.GroupPermission) error
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
	// Fresh is set on the state a handler run returned on success: it
	// accounts for every write made to the user's targets so far, even
	// while the user's write intent is still open (the worker closes it
	// when it commits the state). A state loaded from the store, or
	// returned with an error, is not fresh.
	Fresh bool
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
	// Partial is set with every error: State is then what the event taught
	// or did before it failed (the merged snapshot, the link to a VCC user
	// it created), else the previous state, never Fresh: what to record
	// with a dead letter, and to apply the user's next event to.
	Partial bool
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

// ConfigError is a refusal caused by vccsync's configuration not matching
// the target (a template user that does not exist, a region without a
// GUID), not by the message: every message that needs the setting fails
// the same way until an operator fixes it. Misconfigured tells the worker
// to quarantine (and probe) rather than dead-letter each such message.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string { return e.Msg }

// Unwrap returns the target's error, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

// Temporary is false: retrying will not help until the configuration or
// the target changes.
func (e *ConfigError) Temporary() bool { return false }

// Misconfigured is true: the failure is about the configuration.
func (e *ConfigError) Misconfigured() bool { return true }

// Handler applies salesforce.user.changed events. It is safe for concurrent
// use by different users; the worker serialises events of one user.
type Handler struct {
	vcc   VCC
	admin Admin
	d     Durable
	ids   AgentIDs
	sagas Sagas
	m     Mapping

	cc      ContactCenters // nil: membership is not managed
	members *memberBatcher
	sf      SalesforceUsers // nil: partial events use what is known

	tmplMu    sync.Mutex
	templates map[string]*template
	tmplTTL   time.Duration

	// idx is the account's usernames and agent IDs in use (see
	// userIndex and the package doc).
	idx *userIndex
	// readFirst reads a linked user before every update
	// (CacheOptions.ReadBeforeWrite).
	readFirst atomic.Bool
	// selectAfterCreate is set once VCC refused a create that selected a
	// callback number: from then on the number is selected after the
	// create, once the user has it (see create).
	selectAfterCreate atomic.Bool
}

// template is a template user with its sub-resources.
type template struct {
	user      *vcc.User
	skills    []vcc.Skill
	groups    []vcc.Group
	callbacks []vcc.CallbackNumberRef
	perms     []vcc.GroupPermission
	loaded    time.Time
}

// Client is the whole VCC API the handlers use.
type Client interface {
	VCC
	Admin
}

// New returns a Handler for the mapping. Its writes to VCC go through v and
// are journaled in d (see Journal) before they are made.
func New(v Client, d Durable, m Mapping) (*Handler, error) {
	nm, err := m.normalized()
	if err != nil {
		return nil, err
	}
	g := guardedVCC{v}
	idx := newUserIndex(func(ctx context.Context, fn func(*vcc.User) error) error {
		return g.ForEachUser(ctx, vcc.IncludeAll, vcc.MaxPageSize, fn)
	})
	return &Handler{vcc: g, admin: g, d: d, ids: d, sagas: d, m: nm, templates: map[string]*template{}, tmplTTL: DefaultTemplateMaxAge, idx: idx}, nil
}

// SalesforceUsers reads a user from Salesforce.
type SalesforceUsers interface {
	// GetUser returns the user's current snapshot.
	GetUser(ctx context.Context, id string) (events.User, error)
}

// ReadSalesforce makes the handlers complete a partial event (change data
// capture sends only the changed fields) of a user vccsync has no full
// snapshot of by reading the user from Salesforce.
func (h *Handler) ReadSalesforce(r SalesforceUsers) { h.sf = r }

// HandleUser applies the salesforce.user.changed snapshot u of event
// eventID for the user whose previous state is prev. When the desired
// fields equal what was last synced, and no write of the user may be
// unrecorded (no open intent, see Journal), it does not read VCC; when they
// differ, it writes the difference to the linked user without reading it
// first (see the package doc, "Convergence"); VerifyUser always reads.
func (h *Handler) HandleUser(ctx context.Context, key, eventID string, prev State, u events.User) (Result, error) {
	return h.handleUser(ctx, key, eventID, prev, u, false)
}

// VerifyUser applies the snapshot like HandleUser, but always reads VCC and
// writes what differs, even when the desired fields equal what was last
// synced: for reconcile, provisioning on demand and resync, whose point is
// to find what changed in VCC behind vccsync's back.
func (h *Handler) VerifyUser(ctx context.Context, key, eventID string, prev State, u events.User) (Result, error) {
	return h.handleUser(ctx, key, eventID, prev, u, true)
}

// handleUser applies u. On an error after it learned or did something
// worth keeping (the merged snapshot, the link to a user it created), the
// returned Result's State holds it and Partial is set.
func (h *Handler) handleUser(ctx context.Context, key, eventID string, prev State, u events.User, verify bool) (Result, error) {
	return settle(prev)(h.applyUser(h.guarded(ctx, key, eventID), key, prev, u, verify))
}

// settle marks the outcome of a run: a success's state is fresh; a
// failure returns, as a Partial result, what the run reached (or prev),
// not fresh: a write it made may be unaccounted for.
func settle(prev State) func(Result, error) (Result, error) {
	return func(res Result, err error) (Result, error) {
		if err != nil {
			st := prev
			if res.Partial {
				st = res.State
			}
			st.Fresh = false
			return Result{State: st, Partial: true}, err
		}
		res.State.Fresh, res.Partial = true, false
		return res, nil
	}
}

func (h *Handler) applyUser(ctx context.Context, key string, prev State, u events.User, verify bool) (Result, error) {
	// An open intent from before prev (a crash, a failed run) means a write
	// may be missing from prev; one opened by the run that made prev does
	// not, so a fresh prev needs no read.
	unrecorded := false
	if !prev.Fresh {
		open, err := h.d.IntentOpen(key)
		if err != nil {
			return Result{}, fmt.Errorf("read write intent of Salesforce user %s: %w", key, err)
		}
		unrecorded = open
	}
	// An earlier write may not be in prev: read VCC in full.
	verify = verify || unrecorded
	next := prev.clone()
	ts := u.Modstamp()
	stale := !ts.IsZero() && ts.Before(prev.Checkpoint)
	staleNote := ""
	if stale {
		staleNote = fmt.Sprintf("snapshot of %s is older than the applied one of %s", ts.Format(time.RFC3339Nano), prev.Checkpoint.Format(time.RFC3339Nano))
		if !unrecorded {
			return Result{State: prev, Outcome: OutcomeStale, Note: staleNote}, nil
		}
		// Nothing of u applies, but VCC may not match prev: check it
		// against the snapshot already applied.
		u = events.User{ID: u.ID}
	}
	var notes []string
	next.Snapshot = prev.Snapshot.Merge(u)
	next.Snapshot.ChangedFields = nil
	if ts.After(next.Checkpoint) {
		next.Checkpoint = ts
	}
	if note, err := h.complete(ctx, key, &next); err != nil {
		return Result{}, err
	} else if note != "" {
		notes = append(notes, note)
	}
	snap := next.Snapshot

	tmplName := h.m.template(snap)
	active := snap.IsActive.Get()
	if tmplName == "" && prev.VCCUserID == "" {
		return Result{State: next, Outcome: OutcomeOutOfScope, Note: fmt.Sprintf("ProfileId %q has no template and no default template is set", snap.ProfileID.Get())}, nil
	}
	if !snap.IsActive.Known() {
		if prev.VCCUserID == "" {
			return Result{State: next, Partial: true}, permanent("cannot provision Salesforce user %s: IsActive unknown (no full snapshot seen yet)", key)
		}
		// Unknown is not "inactive": keep the VCC user as it was synced.
		active = prev.Synced[fActive] != "false"
		snap.IsActive = events.Val(active)
	}

	res, err := h.applyVCC(ctx, key, prev, next, tmplName, active, verify)
	if err != nil {
		return res, err
	}
	if h.cc != nil {
		if err := h.syncContactCenter(ctx, key, &res, active, u.ChangedFields); err != nil {
			res.Partial = true
			return res, err
		}
	}
	if stale && len(res.Changes) == 0 {
		res.Outcome = OutcomeStale
	}
	if stale {
		notes = append([]string{staleNote + "; VCC checked against the applied one, as an earlier write was unrecorded"}, notes...)
	}
	if res.Note != "" {
		notes = append(notes, res.Note)
	}
	res.Note = strings.Join(notes, "; ")
	return res, nil
}

// complete fills in a snapshot that lacks what a VCC user is made of (the
// user was first seen through a partial change event): from Salesforce
// when it can read users, else it says what is unknown.
func (h *Handler) complete(ctx context.Context, key string, next *State) (string, error) {
	snap := next.Snapshot
	var missing []string
	for _, f := range []struct {
		name  string
		known bool
	}{
		{"Username", snap.Username.Known()}, {"IsActive", snap.IsActive.Known()}, {"Email", snap.Email.Known()},
		{"LastName", snap.LastName.Known() || snap.FirstName.Known()},
	} {
		if !f.known {
			missing = append(missing, f.name)
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	if h.sf == nil {
		return fmt.Sprintf("partial snapshot: %s unknown (no full snapshot seen, no Salesforce connection to read one): applied what is known", strings.Join(missing, ", ")), nil
	}
	full, err := h.sf.GetUser(ctx, key)
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) && sc.StatusCode() == http.StatusNotFound {
		return "", &PermanentError{Msg: fmt.Sprintf("Salesforce has no user %s: a partial event (%s unknown) cannot be completed", key, strings.Join(missing, ", ")), Err: err}
	}
	if err != nil {
		return "", fmt.Errorf("read Salesforce user %s to complete a partial event (%s unknown): %w", key, strings.Join(missing, ", "), err)
	}
	// The newer of the two wins field by field.
	if full.Modstamp().Before(snap.Modstamp()) {
		next.Snapshot = full.Merge(snap)
	} else {
		next.Snapshot = snap.Merge(full)
	}
	next.Snapshot.ID, next.Snapshot.ChangedFields = key, nil
	if ts := full.Modstamp(); ts.After(next.Checkpoint) {
		next.Checkpoint = ts
	}
	return fmt.Sprintf("partial snapshot completed from Salesforce (%s were unknown)", strings.Join(missing, ", ")), nil
}

// applyVCC brings the VCC user in line with the snapshot in next. On an
// error, the Result's State keeps the merged snapshot and any link made.
func (h *Handler) applyVCC(ctx context.Context, key string, prev, next State, tmplName string, active, verify bool) (Result, error) {
	want := h.desired(next.Snapshot)
	want[fActive] = strconv.FormatBool(active)
	partial := Result{State: next, Partial: true}
	if !verify && prev.VCCUserID != "" && syncedEqual(prev.Synced, want) {
		return Result{State: next, Outcome: OutcomeUnchanged}, nil
	}

	// The user index may answer for usernames unless a create of this user
	// may have reached VCC without being recorded: an open intent (verify)
	// or an unfinished create step. After a crash the index may not hold
	// the half-created user, so VCC is asked.
	byIndex := !verify
	if byIndex {
		_, _, pending, err := h.sagas.Step(key, sagaCreate)
		if err != nil {
			return partial, fmt.Errorf("read create step: %w", err)
		}
		byIndex = !pending
	}
	linkID := prev.VCCUserID
	// The stored state can be trusted (no unrecorded write, no create to
	// finish): write the fields that differ from what was synced, without
	// reading the user first.
	if byIndex && linkID != "" && !h.readFirst.Load() {
		if cur, changes, ok := fromSynced(linkID, prev.Synced, want, active); ok {
			res, err := h.patchSynced(ctx, next, cur, changes, want, active)
			if !errors.Is(err, vcc.ErrNotFound) {
				return res, err
			}
			// Deleted in VCC behind vccsync's back: look the user up by
			// username, as a linked user whose read answers 404.
			h.idx.remove(linkID)
			linkID = ""
		}
	}
	cur, err := h.find(ctx, linkID, want[fUsername], prev.Synced[fUsername], byIndex)
	if err != nil {
		return partial, err
	}
	if cur == nil && !active {
		next.VCCUserID = ""
		return Result{State: next, Outcome: OutcomeNotProvisioned, Note: "inactive in Salesforce and no VCC user exists"}, nil
	}
	if tmplName == "" {
		tmplName = prev.Synced[fProvisioned]
	}
	if cur == nil {
		return h.create(ctx, key, next, want, tmplName)
	}
	return h.converge(ctx, key, next, cur, want, active, prev.VCCUserID == "")
}

// desired is the VCC view of a Salesforce snapshot, keyed like State.Synced.
func (h *Handler) desired(u events.User) map[string]string {
	return h.m.Desired(u).fields()
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
// one last synced), or nil when there is none. With byIndex a username is
// looked up in VCC only when the user index holds it (or cannot say): a
// username the index does not hold costs no call. Every user found is
// recorded in the index.
func (h *Handler) find(ctx context.Context, linkID, username, oldUsername string, byIndex bool) (*vcc.User, error) {
	if linkID != "" {
		u, err := h.vcc.GetUser(ctx, linkID)
		if err == nil {
			h.idx.put(u)
			return u, nil
		}
		if !errors.Is(err, vcc.ErrNotFound) {
			return nil, fmt.Errorf("read linked VCC user %s: %w", linkID, err)
		}
		h.idx.remove(linkID)
	}
	for i, name := range []string{username, oldUsername} {
		if name == "" || (i == 1 && name == username) {
			continue
		}
		if byIndex {
			id, indexed, err := h.idx.lookup(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("look up VCC user by username: %w", err)
			}
			if indexed && id == "" {
				continue // VCC had no such user when listed
			}
		}
		u, err := h.vcc.GetUserByUsername(ctx, name)
		if err == nil {
			h.idx.put(u)
			return u, nil
		}
		if !errors.Is(err, vcc.ErrNotFound) {
			return nil, fmt.Errorf("look up VCC user by username: %w", err)
		}
		h.idx.forgetName(name)
	}
	return nil, nil
}

func (h *Handler) create(ctx context.Context, key string, next State, want map[string]string, tmplName string) (Result, error) {
	partial := Result{State: next, Partial: true}
	var missing []string
	for _, f := range []struct{ name, v string }{{h.m.UsernameSource, want[fUsername]}, {"Email", want[fEmail]}, {"LastName or FirstName", want[fName]}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return partial, permanent("cannot create the VCC user of Salesforce user %s: %s unknown (no full snapshot seen yet)", key, strings.Join(missing, ", "))
	}
	t, err := h.template(ctx, tmplName)
	if err != nil {
		return partial, err
	}
	nu := &vcc.User{
		Username: want[fUsername], Name: want[fName], Email: want[fEmail], Active: vcc.Bool(true),
		Config: copyConfig(t.user.Config, !h.selectAfterCreate.Load()),
	}
	if sso := want[fSSO]; sso != "" {
		nu.SSOExternalID = vcc.String(sso)
	}
	agentID := ""
	if nu.Config.ActAsAgent != nil && *nu.Config.ActAsAgent {
		if agentID, err = h.agentID(ctx, key, want[fAgentID]); err != nil {
			return partial, err
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
	// between finishes the copy on the user it finds by link or username.
	if err := h.sagas.SetStep(key, sagaCreate, stepCreate, tmplName); err != nil {
		return partial, fmt.Errorf("record create step: %w", err)
	}
	var selected *string // the selection the create sends, if any
	if a := nu.Config.Agent; a != nil && a.TelephonyAddress != nil && a.TelephonyAddress.SelectedCallbackNumberID != "" {
		selected = &a.TelephonyAddress.SelectedCallbackNumberID
	}
	created, err := h.vcc.CreateUser(ctx, nu)
	if err != nil && selected != nil && selectionRefused(err) && !errors.Is(err, vcc.ErrMaybeCreated) {
		// This account takes a selected callback number only among the
		// user's own: create without it (VCC created nothing), and select
		// it once the user has its numbers, one call more.
		h.selectAfterCreate.Store(true)
		*selected = ""
		created, err = h.vcc.CreateUser(ctx, nu)
	}
	if err != nil {
		if selected != nil && *selected != "" && selectionRefused(err) {
			h.selectAfterCreate.Store(true) // an earlier try may have created the user: the retry recovers it
			return partial, &retryError{fmt.Errorf("create the VCC user of Salesforce user %s: VCC refused the template's selected callback number: %w", key, err)}
		}
		if vcc.IsDuplicate(err) {
			return h.createRefused(ctx, key, next, want, tmplName, agentID, err)
		}
		return partial, fmt.Errorf("create the VCC user of Salesforce user %s from template %s: %w", key, tmplName, err)
	}
	h.idx.put(created)
	h.idx.markAgentID(agentID)
	next.VCCUserID, next.AgentID = created.UserID, agentID
	partial.State = next
	// Linked at once: whatever fails next, later events, archive, delete
	// and resync find this user.
	if err := h.d.Link(key, created.UserID); err != nil {
		return partial, fmt.Errorf("record link of Salesforce user %s to created VCC user %s: %w", key, created.UserID, err)
	}
	if _, err := h.syncSubresources(ctx, created, t, true); err != nil {
		return partial, err
	}
	if err := h.sagas.Clear(key, sagaCreate); err != nil {
		return partial, fmt.Errorf("record create done: %w", err)
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

// createRefused handles VCC's refusal of a create as a duplicate, which
// the user index did not foresee. When VCC has a user of that username
// (created in VCC after the index was listed), it is read (the one lookup
// by username of a create, on this path only) and adopted: linked and
// converged like any existing user, never duplicated. Otherwise the agent
// ID (or the phone number made of it) is taken: an allocated one is
// released for the retry to pick the next free one. Either way the index
// is listed again before its next use.
func (h *Handler) createRefused(ctx context.Context, key string, next State, want map[string]string, tmplName, agentID string, refusal error) (Result, error) {
	partial := Result{State: next, Partial: true}
	h.idx.invalidate()
	// Unless an earlier try of the POST may have been processed late (then
	// the user found may be the one vccsync created, and its copy of the
	// template is finished below), VCC created nothing: the create step is
	// over, so the user found is linked as it is, without the template.
	ours := errors.Is(refusal, vcc.ErrMaybeCreated)
	if !ours {
		if err := h.sagas.Clear(key, sagaCreate); err != nil {
			return partial, fmt.Errorf("record create refused: %w", err)
		}
	}
	allocated := want[fAgentID] == "" && agentID != ""
	cur, err := h.vcc.GetUserByUsername(ctx, want[fUsername])
	switch {
	case err == nil:
		h.idx.put(cur)
		if allocated && cur.AgentDisplayID() != agentID {
			// The agent ID reserved for the create went to no one.
			if err := h.ids.ReleaseAgentID(key); err != nil {
				return partial, fmt.Errorf("release agent ID %s: %w", agentID, err)
			}
		}
		res, err := h.converge(ctx, key, next, cur, want, true, true)
		if err != nil {
			return res, err
		}
		note := "VCC refused the create: a VCC user of that username exists (made in VCC since vccsync listed the account), linked instead"
		if ours {
			note = "VCC refused the create after an earlier try of it may have been processed: the VCC user of that username is taken as the one created"
		}
		res.Note = strings.Join(slices.DeleteFunc([]string{res.Note, note}, func(s string) bool { return s == "" }), "; ")
		return res, nil
	case !errors.Is(err, vcc.ErrNotFound):
		return partial, fmt.Errorf("look up VCC user %s after VCC refused its create (%v): %w", want[fUsername], refusal, err)
	}
	if allocated && duplicateAgentID(refusal, agentID) {
		// Someone took the ID in VCC since the index was listed: mark it
		// taken, release it and let the retry pick the next free one.
		h.idx.markAgentID(agentID)
		if err := h.ids.ReleaseAgentID(key); err != nil {
			return partial, fmt.Errorf("release agent ID %s: %w", agentID, err)
		}
		return partial, &retryError{fmt.Errorf("create the VCC user of Salesforce user %s with agent ID %s: %w", key, agentID, refusal)}
	}
	return partial, fmt.Errorf("create the VCC user of Salesforce user %s from template %s: %w", key, tmplName, refusal)
}

// selectionRefused reports whether VCC refused a create because of the
// selected callback number: a 400 whose message names
// selectedCallbackNumberId (VCC documents no such refusal; the status and
// wording are what an account that refused it would be expected to say).
func selectionRefused(err error) bool {
	var ve *vcc.Error
	return errors.As(err, &ve) && ve.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(ve.Message), "selectedcallbacknumberid")
}

// duplicateAgentID reports whether VCC refused a create because the agent
// ID is taken: a 409, or — VCC does not document the status, and some
// accounts answer duplicates 400 — a 400 whose message names the ID as
// already used.
func duplicateAgentID(err error, agentID string) bool {
	var ve *vcc.Error
	if !errors.As(err, &ve) {
		return false
	}
	switch ve.Status {
	case http.StatusConflict:
		return true
	case http.StatusBadRequest:
		msg := strings.ToLower(ve.Message)
		return strings.Contains(msg, strings.ToLower(agentID)) &&
			(strings.Contains(msg, "already") || strings.Contains(msg, "in use") || strings.Contains(msg, "exists") || strings.Contains(msg, "duplicate"))
	}
	return false
}

// retryError marks an error that a retry will get past (a conflict that
// has been cleared locally).
type retryError struct{ err error }

func (e *retryError) Error() string   { return e.err.Error() }
func (e *retryError) Unwrap() error   { return e.err }
func (e *retryError) Temporary() bool { return true }

// converge makes the existing VCC user cur what the snapshot says: every
// desired field that differs is written in one PATCH, active (archive or
// revert) included, so a deactivation that comes with an email or name
// change writes both. A template copy left unfinished by an interrupted
// create is finished, whether the user is active or not.
func (h *Handler) converge(ctx context.Context, key string, next State, cur *vcc.User, want map[string]string, active, linking bool) (Result, error) {
	next.VCCUserID = cur.UserID
	partial := Result{State: next, Partial: true}
	changes := Diff(desiredOf(want, active), cur)
	patch, _ := patchOf(changes, active)
	wasActive := cur.IsActive()

	res := Result{State: next, Outcome: OutcomeUnchanged}
	agentID := cur.AgentDisplayID()
	res.Note = AgentIDConflict(desiredOf(want, active), cur)
	if len(changes) > 0 {
		updated, err := h.vcc.PatchUser(ctx, cur.UserID, patch)
		if err != nil {
			return partial, fmt.Errorf("update VCC user %s: %w", cur.UserID, err)
		}
		if patch.Username != "" {
			h.idx.put(updated) // renamed
		}
		res.Outcome = updateOutcome(wasActive, active)
	}
	if linking {
		res.Outcome = OutcomeLinked
	}
	if _, tmplName, pending, err := h.sagas.Step(key, sagaCreate); err != nil {
		return partial, fmt.Errorf("read create step: %w", err)
	} else if pending {
		// vccsync created this user, but the copy of the template's
		// sub-resources did not finish: finish it, writing only what differs.
		t, err := h.template(ctx, tmplName)
		if err != nil {
			return partial, err
		}
		n, err := h.syncSubresources(ctx, cur, t, false)
		if err != nil {
			return partial, err
		}
		if err := h.sagas.Clear(key, sagaCreate); err != nil {
			return partial, fmt.Errorf("record create done: %w", err)
		}
		changes = append(changes, Change{Field: "template", New: fmt.Sprintf("%s (create finished: %d lists copied)", tmplName, n)})
		if res.Outcome == OutcomeUnchanged || res.Outcome == OutcomeUpdated || res.Outcome == OutcomeLinked {
			res.Outcome = OutcomeCreated
		}
		res.State.Synced[fProvisioned] = tmplName
	}
	for k, v := range want {
		res.State.Synced[k] = v
	}
	res.State.Synced[fAgentID] = agentID
	res.State.AgentID = agentID
	if agentID != "" && want[fAgentID] == "" {
		// Keep the allocator from handing this ID to someone else.
		h.idx.markAgentID(agentID)
	}
	res.Changes = changes
	return res, nil
}

// patchOf is the PATCH body that writes changes (see Diff), and whether
// it could write every one of them: all are top-level fields of the VCC
// user. A field inside a nested object (telephonyAddress, say) would need
// the whole current object written (see the package doc), which only a
// read of the user gives.
func patchOf(changes []Change, active bool) (*vcc.User, bool) {
	patch, ok := &vcc.User{}, true
	for _, c := range changes {
		switch c.Field {
		case fUsername:
			patch.Username = c.New
		case fName:
			patch.Name = c.New
		case fEmail:
			patch.Email = c.New
		case fSSO:
			patch.SSOExternalID = vcc.String(c.New)
		case fActive:
			patch.Active = vcc.Bool(active)
		default:
			ok = false
		}
	}
	return patch, ok
}

// updateOutcome is the outcome of a PATCH of a user that was active (or
// not) and is to be active (or not).
func updateOutcome(wasActive, active bool) string {
	switch {
	case wasActive && !active:
		return OutcomeArchived
	case !wasActive && active:
		return OutcomeReactivated
	default:
		return OutcomeUpdated
	}
}

// fromSynced returns the linked VCC user as State.Synced records it, and
// the changes that make it what want asks for, when they can be written
// without reading the user first: Synced holds every field Diff compares
// (username, name and email not empty, ssoExternalId, active), Salesforce's
// agent ID (when it has one) is the one synced (a difference is a conflict
// only VCC's agent ID can explain), and at least one change is there,
// each to a top-level field (see patchOf). The caller has made sure the
// state can be trusted: no write intent open from before it, no create
// step pending, not VerifyUser.
func fromSynced(userID string, synced, want map[string]string, active bool) (*vcc.User, []Change, bool) {
	cur := &vcc.User{UserID: userID, Username: synced[fUsername], Name: synced[fName], Email: synced[fEmail]}
	sso, hasSSO := synced[fSSO]
	was := synced[fActive]
	if cur.Username == "" || cur.Name == "" || cur.Email == "" || !hasSSO || (was != "true" && was != "false") {
		return nil, nil, false
	}
	if a := want[fAgentID]; a != "" && a != synced[fAgentID] {
		return nil, nil, false
	}
	cur.SSOExternalID, cur.Active = vcc.String(sso), vcc.Bool(was == "true")
	changes := Diff(desiredOf(want, active), cur)
	if _, ok := patchOf(changes, active); !ok || len(changes) == 0 {
		return nil, nil, false
	}
	return cur, changes, true
}

// patchSynced writes changes to the linked VCC user cur (as Synced records
// it) in one PATCH, without reading it first, and records in Synced what
// VCC's reply (the updated user) holds: a field VCC does not hold as
// desired is written again with the user's next event. A 404 is returned
// as it is (errors.Is vcc.ErrNotFound): the caller looks the user up.
func (h *Handler) patchSynced(ctx context.Context, next State, cur *vcc.User, changes []Change, want map[string]string, active bool) (Result, error) {
	next.VCCUserID = cur.UserID
	partial := Result{State: next, Partial: true}
	patch, _ := patchOf(changes, active)
	updated, err := h.vcc.PatchUser(ctx, cur.UserID, patch)
	if err != nil {
		return partial, fmt.Errorf("update VCC user %s: %w", cur.UserID, err)
	}
	agentID := next.Synced[fAgentID]
	for k, v := range want {
		next.Synced[k] = v
	}
	res := Result{State: next, Outcome: updateOutcome(cur.IsActive(), active), Changes: changes}
	if updated != nil && updated.UserID != "" {
		if patch.Username != "" {
			h.idx.put(updated) // renamed
		}
		for k, v := range map[string]string{fUsername: updated.Username, fName: updated.Name, fEmail: updated.Email} {
			if v != "" {
				next.Synced[k] = v
			}
		}
		if updated.SSOExternalID != nil {
			next.Synced[fSSO] = *updated.SSOExternalID
		}
		if updated.Active != nil {
			next.Synced[fActive] = strconv.FormatBool(*updated.Active)
		}
		if updated.Config != nil && updated.Config.Agent != nil {
			agentID = updated.AgentDisplayID()
		}
		res.Note = AgentIDConflict(desiredOf(want, active), updated)
	}
	next.Synced[fAgentID] = agentID
	next.AgentID = agentID
	if agentID != "" && want[fAgentID] == "" {
		h.idx.markAgentID(agentID)
	}
	res.State = next
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
		return nil, &ConfigError{Msg: fmt.Sprintf("template VCC user %q not found: create it in VCC or fix the mapping's templates", name), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("read template VCC user %s: %w", name, err)
	}
	if u.Config == nil || u.Config.Role == "" {
		return nil, &ConfigError{Msg: fmt.Sprintf("template VCC user %q has no role", name)}
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
	if t.perms, err = h.vcc.GetGroupPermissions(ctx, u.UserID); err != nil {
		return nil, fmt.Errorf("read group permissions of template %s: %w", name, err)
	}
	h.templates[name] = t
	return t, nil
}

// copyConfig copies the template's account configuration for a new user:
// role, chargeable, actAsAgent and every agent setting VCC documents
// (location, telephony region, capacity, wrap-up, auto-answer, call rating,
// transcription, national display, ...), without what belongs to the
// template user itself: its agent ID, phone number and extension. The
// selected callback number is copied when selection is set, as Vonage's
// "Create user" example sends one; otherwise it is selected after the
// create, once the user has its callback numbers (see
// selectCallbackNumber).
func copyConfig(c *vcc.AccountConfiguration, selection bool) *vcc.AccountConfiguration {
	out := &vcc.AccountConfiguration{Role: c.Role, Chargeable: c.Chargeable, ActAsAgent: c.ActAsAgent}
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
		if !selection {
			ta.SelectedCallbackNumberID = ""
		}
		a.TelephonyAddress = &ta
	}
	if a.Capacity != nil {
		cp := *a.Capacity
		a.Capacity = &cp
	}
	out.Agent = &a
	return out
}

// syncSubresources makes the user's skills, groups, callback numbers and
// group permissions those of the template, then selects the template's
// callback number, and returns how many writes it made. Every list is read
// and written whole (VCC's PUTs replace the list). For a user just created
// (fresh) the lists are known to be empty and are not read. cur is the
// user as last read or returned by VCC.
func (h *Handler) syncSubresources(ctx context.Context, cur *vcc.User, t *template, fresh bool) (int, error) {
	userID := cur.UserID
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
		func() (bool, error) {
			return syncList(ctx, userID, "group permissions", fresh, t.perms, h.vcc.GetGroupPermissions, h.vcc.PutGroupPermissions)
		},
		func() (bool, error) { return h.selectCallbackNumber(ctx, cur, t) },
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

// selectCallbackNumber sets the template's selected callback number on the
// user, now that the user has the template's callback numbers, writing the
// whole telephonyAddress (VCC does not document whether a partial nested
// object is merged).
func (h *Handler) selectCallbackNumber(ctx context.Context, cur *vcc.User, t *template) (bool, error) {
	want := ""
	if c := t.user.Config; c != nil && c.Agent != nil && c.Agent.TelephonyAddress != nil {
		want = c.Agent.TelephonyAddress.SelectedCallbackNumberID
	}
	if want == "" || cur.Config == nil || cur.Config.ActAsAgent == nil || !*cur.Config.ActAsAgent {
		return false, nil
	}
	ta := vcc.TelephonyAddress{}
	if cur.Config.Agent != nil && cur.Config.Agent.TelephonyAddress != nil {
		ta = *cur.Config.Agent.TelephonyAddress
	}
	if ta.SelectedCallbackNumberID == want {
		return false, nil
	}
	ta.SelectedCallbackNumberID = want
	patch := &vcc.User{Config: &vcc.AccountConfiguration{Agent: &vcc.AgentConfiguration{TelephonyAddress: &ta}}}
	if _, err := h.vcc.PatchUser(ctx, cur.UserID, patch); err != nil {
		return false, fmt.Errorf("select the template's callback number %s for VCC user %s: %w", want, cur.UserID, err)
	}
	return true, nil
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
