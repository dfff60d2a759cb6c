package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Classes of reconcile, in the order the summary lists them.
const (
	recInStep     = "in_step"
	recDiffers    = "differs"
	recMissing    = "missing"
	recVCCOnly    = "vcc_only"
	recAmbiguous  = "ambiguous"
	recOutOfScope = "out_of_scope"
)

var recClasses = []string{recInStep, recDiffers, recMissing, recVCCOnly, recAmbiguous, recOutOfScope}

// recPlanOrder is the order of the plan's lines.
var recPlanOrder = []string{recDiffers, recMissing, recAmbiguous, recVCCOnly}

// Actions of a plan line.
const (
	recCreate     = "create"
	recUpdate     = "update"
	recArchive    = "archive"
	recRevert     = "revert"
	recMembership = "membership"
)

// reconciler reads both sides.
type reconciler struct {
	m      handlers.Mapping // normalized
	sf     *salesforce.Client
	vcc    *vcc.Client
	source string
}

// reconcileInput is what reconcile read.
type reconcileInput struct {
	sf  []events.User
	vcc []vcc.User
	// members maps a user ID (18 characters) to the mapped contact centers
	// that list it; nil when the mapping names no contact center.
	members map[string][]string
}

func (r *reconciler) read(ctx context.Context) (reconcileInput, error) {
	var in reconcileInput
	if err := r.sf.ForEachUser(ctx, func(u events.User) error {
		in.sf = append(in.sf, u)
		return nil
	}); err != nil {
		return in, fmt.Errorf("read Salesforce users: %w", err)
	}
	if err := r.vcc.ForEachUser(ctx, vcc.IncludeAll, vcc.MaxPageSize, func(u *vcc.User) error {
		in.vcc = append(in.vcc, *u)
		return nil
	}); err != nil {
		return in, fmt.Errorf("read VCC users: %w", err)
	}
	if !r.m.ManagesContactCenters() {
		return in, nil
	}
	in.members = map[string][]string{}
	for _, cc := range mappedContactCenters(r.m) {
		ms, err := r.sf.Members(ctx, cc)
		if err != nil {
			return in, fmt.Errorf("read members of contact center %s: %w", cc, err)
		}
		for _, mb := range ms {
			if k, err := events.UserKey(mb.UserID); err == nil && !slices.Contains(in.members[k], cc) {
				in.members[k] = append(in.members[k], cc)
			}
		}
	}
	return in, nil
}

// mappedContactCenters are the distinct contact centers of the mapping.
func mappedContactCenters(m handlers.Mapping) []string {
	var out []string
	if m.DefaultContactCenter != "" {
		out = append(out, m.DefaultContactCenter)
	}
	for _, cc := range m.ContactCenters {
		if !slices.Contains(out, cc) {
			out = append(out, cc)
		}
	}
	slices.Sort(out)
	return out
}

// reconcileChange is one field to change, old → new.
type reconcileChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// reconcileEntry is one user of the report: a Salesforce user, or a VCC
// user with no Salesforce user (vcc_only).
type reconcileEntry struct {
	Class     string            `json:"class"`
	UserID    string            `json:"userId,omitempty"`
	Username  string            `json:"username,omitempty"`
	VCCUserID string            `json:"vccUserId,omitempty"`
	Active    *bool             `json:"active,omitempty"` // vcc_only: whether the VCC user is active
	Action    string            `json:"action,omitempty"`
	Template  string            `json:"template,omitempty"`
	Changes   []reconcileChange `json:"changes,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Event     string            `json:"event,omitempty"`

	env *events.Envelope
	sf  events.User
}

// reconcileGuard is the archive guard's verdict.
type reconcileGuard struct {
	Archives  int     `json:"archives"`
	Threshold string  `json:"threshold"`
	Limit     float64 `json:"limit"`
	Exceeded  bool    `json:"exceeded"`
	Allowed   bool    `json:"allowed"`
}

// reconcileTotals counts the published events.
type reconcileTotals struct {
	Published int                  `json:"published"`
	Duplicate int                  `json:"duplicate"`
	Failed    int                  `json:"failed"`
	Events    []reconcilePublished `json:"events"`
}

// reconcilePublished is what happened to one event.
type reconcilePublished struct {
	Status string `json:"status"` // published, duplicate, failed
	UserID string `json:"userId"`
	Event  string `json:"event"`
	Seq    uint64 `json:"seq,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (p reconcilePublished) line() string {
	s := fmt.Sprintf("%s user=%s event=%s", p.Status, p.UserID, value(p.Event))
	switch p.Status {
	case cdcPublished:
		s += " seq=" + strconv.FormatUint(p.Seq, 10)
	case cdcFailed:
		s += ": " + p.Error
	}
	return s
}

// reconcileReport is the classification and the plan.
type reconcileReport struct {
	Counts    map[string]int   `json:"counts"`
	SFUsers   int              `json:"salesforceUsers"`
	InScope   int              `json:"inScope"`
	VCCUsers  int              `json:"vccUsers"`
	Templates int              `json:"templates"`
	Guard     reconcileGuard   `json:"archiveGuard"`
	DryRun    bool             `json:"dryRun"`
	Users     []reconcileEntry `json:"users"`
	Published *reconcileTotals `json:"published,omitempty"`
}

// classify compares what was read with the mapping.
func classify(m handlers.Mapping, in reconcileInput) *reconcileReport {
	rep := &reconcileReport{Counts: map[string]int{}, SFUsers: len(in.sf), VCCUsers: len(in.vcc)}
	for _, c := range recClasses {
		rep.Counts[c] = 0
	}
	templates := map[string]bool{}
	for _, t := range m.TemplateUsernames() {
		templates[strings.ToLower(t)] = true
	}
	byName, byEmail := map[string][]*vcc.User{}, map[string][]*vcc.User{}
	for i := range in.vcc {
		v := &in.vcc[i]
		if templates[strings.ToLower(v.Username)] {
			rep.Templates++
			continue
		}
		byName[strings.ToLower(v.Username)] = append(byName[strings.ToLower(v.Username)], v)
		if v.Email != "" {
			byEmail[strings.ToLower(v.Email)] = append(byEmail[strings.ToLower(v.Email)], v)
		}
	}
	sfPerName := map[string]int{}
	for _, u := range in.sf {
		if n := m.Username(u); n != "" {
			sfPerName[strings.ToLower(n)]++
		}
	}
	claimed := map[string]bool{}
	for _, u := range in.sf {
		e := classifyUser(m, u, byName, byEmail, sfPerName, in.members, claimed)
		if e.Class != recOutOfScope {
			rep.InScope++
		}
		rep.Users = append(rep.Users, e)
	}
	for i := range in.vcc {
		v := &in.vcc[i]
		if templates[strings.ToLower(v.Username)] || claimed[v.UserID] {
			continue
		}
		rep.Users = append(rep.Users, reconcileEntry{Class: recVCCOnly, Username: v.Username, VCCUserID: v.UserID, Active: vcc.Bool(v.IsActive())})
	}
	for _, e := range rep.Users {
		rep.Counts[e.Class]++
	}
	slices.SortStableFunc(rep.Users, func(a, b reconcileEntry) int {
		if c := slices.Index(recClasses, a.Class) - slices.Index(recClasses, b.Class); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserID, b.UserID); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
	})
	return rep
}

// classifyUser classifies one Salesforce user and marks the VCC users it
// accounts for in claimed.
func classifyUser(m handlers.Mapping, u events.User, byName, byEmail map[string][]*vcc.User, sfPerName map[string]int, members map[string][]string, claimed map[string]bool) reconcileEntry {
	key, err := events.UserKey(u.ID)
	if err != nil {
		key = u.ID
	}
	u.ID = key
	uname := m.Username(u)
	lname := strings.ToLower(uname)
	e := reconcileEntry{UserID: key, Username: uname, sf: u}
	named := byName[lname]
	if uname == "" {
		named = nil
	}
	for _, v := range named {
		claimed[v.UserID] = true
	}
	if len(named) == 1 {
		e.VCCUserID = named[0].UserID
	}
	tmpl := m.Template(u)
	if tmpl == "" {
		e.Class = recOutOfScope
		e.Reason = fmt.Sprintf("ProfileId %s has no template and no default template is set", value(u.ProfileID.Get()))
		return e
	}
	active := u.IsActive.Get()
	ambiguous := func(reason string, vs ...*vcc.User) reconcileEntry {
		for _, v := range vs {
			claimed[v.UserID] = true
		}
		e.Class, e.Reason, e.VCCUserID = recAmbiguous, reason, ""
		return e
	}
	var byMail []*vcc.User
	if email := strings.ToLower(u.Email.Get()); email != "" {
		for _, v := range byEmail[email] {
			if !slices.Contains(named, v) {
				byMail = append(byMail, v)
			}
		}
	}
	switch {
	case uname == "" && active:
		return ambiguous(fmt.Sprintf("no VCC username: its %s is empty", m.UsernameSource))
	case uname != "" && sfPerName[lname] > 1:
		return ambiguous(fmt.Sprintf("%d Salesforce users have the VCC username %s", sfPerName[lname], uname), named...)
	case len(named) > 1:
		return ambiguous(fmt.Sprintf("VCC users %s all have the username %s", recUserList(named), uname), named...)
	case len(named) == 1 && len(byMail) > 0:
		return ambiguous(fmt.Sprintf("VCC user %s has the username, VCC users %s the email %s", recUserList(named), recUserList(byMail), u.Email.Get()), append(named, byMail...)...)
	case len(named) == 0 && len(byMail) > 0 && active:
		return ambiguous(fmt.Sprintf("no VCC user has the username; VCC users %s have the email %s", recUserList(byMail), u.Email.Get()), byMail...)
	}

	var cur *vcc.User
	if len(named) == 1 {
		cur = named[0]
	}
	add := func(field, old, new string) {
		e.Changes = append(e.Changes, reconcileChange{Field: field, Old: old, New: new})
	}
	switch {
	case active && cur == nil:
		e.Class, e.Action, e.Template = recMissing, recCreate, tmpl
	case active:
		if cur.Username != uname {
			add("username", cur.Username, uname)
		}
		if n := u.Name(); n != "" && cur.Name != n {
			add("name", cur.Name, n)
		}
		if em := u.Email.Get(); em != "" && cur.Email != em {
			add("email", cur.Email, em)
		}
		if sso := u.FederationIdentifier.Get(); cur.SSO() != sso {
			add("ssoExternalId", cur.SSO(), sso)
		}
		if !cur.IsActive() {
			add("active", "false", "true")
			e.Action = recRevert
		}
	case cur != nil && cur.IsActive():
		add("active", "true", "false")
		e.Action = recArchive
	}
	if e.Action == "" && len(e.Changes) > 0 {
		e.Action = recUpdate
	}
	if members != nil {
		want := ""
		if active {
			want = m.ContactCenter(u)
		}
		have := slices.Clone(members[key])
		if id, err := events.NormalizeID(u.CallCenterID.Get()); err == nil && u.CallCenterID.Known() && !slices.Contains(have, id) {
			have = append(have, id)
		}
		slices.Sort(have)
		if !(len(have) == 0 && want == "") && !(len(have) == 1 && have[0] == want) {
			add("contactCenter", strings.Join(have, ","), want)
			if e.Action == "" {
				e.Action = recMembership
			}
		}
	}
	switch {
	case e.Class == recMissing:
	case len(e.Changes) > 0:
		e.Class = recDiffers
	default:
		e.Class = recInStep
	}
	return e
}

// recUserList names VCC users: username (userId), ….
func recUserList(vs []*vcc.User) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Username + " (" + v.UserID + ")"
	}
	return strings.Join(names, ", ")
}

// events builds the event of every differing or missing user.
func (rep *reconcileReport) events(source string) error {
	for i := range rep.Users {
		e := &rep.Users[i]
		if e.Class != recDiffers && e.Class != recMissing {
			continue
		}
		env, err := reconcileEnvelope(source, e.sf)
		if err != nil {
			return err
		}
		e.env, e.Event = &env, env.ID
	}
	return nil
}

// reconcileEnvelope is the salesforce.user.changed event of a user's
// current snapshot, id sf-reconcile-<user ID>-<SystemModstamp in ms>.
func reconcileEnvelope(source string, u events.User) (events.Envelope, error) {
	stamp := u.Modstamp()
	if stamp.IsZero() {
		return events.Envelope{}, fmt.Errorf("user %s read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named", u.ID)
	}
	u.ChangedFields = nil
	id := "sf-reconcile-" + u.ID + "-" + strconv.FormatInt(stamp.UnixMilli(), 10)
	env, err := events.NewUserChanged(id, source, stamp, u)
	if err != nil {
		return env, err
	}
	body, err := env.Marshal()
	if err == nil {
		_, _, err = validate(body)
	}
	if err != nil {
		return env, fmt.Errorf("user %s: %w", u.ID, err)
	}
	return env, nil
}

// archives counts the planned archives.
func (rep *reconcileReport) archives() int {
	n := 0
	for _, e := range rep.Users {
		if e.Action == recArchive {
			n++
		}
	}
	return n
}

// planned counts the planned events.
func (rep *reconcileReport) planned() int {
	n := 0
	for _, e := range rep.Users {
		if e.env != nil {
			n++
		}
	}
	return n
}

// publish publishes the planned events in plan order.
func (rep *reconcileReport) publish(ctx context.Context, js jetstream.JetStream, timeout time.Duration, report func(reconcilePublished)) {
	for _, class := range recPlanOrder {
		for _, e := range rep.Users {
			if e.Class != class || e.env == nil {
				continue
			}
			res := reconcilePublished{UserID: e.UserID, Event: e.Event}
			pctx, cancel := context.WithTimeout(ctx, timeout)
			ack, err := bus.Publish(pctx, js, *e.env)
			cancel()
			switch {
			case err != nil:
				res.Status, res.Error = cdcFailed, err.Error()
				rep.Published.Failed++
			case ack.Duplicate:
				res.Status = cdcDuplicate
				rep.Published.Duplicate++
			default:
				res.Status, res.Seq = cdcPublished, ack.Sequence
				rep.Published.Published++
			}
			rep.Published.Events = append(rep.Published.Events, res)
			report(res)
		}
	}
}

// writeText writes the summary table and the plan.
func (rep *reconcileReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "%-13s %s\n", "class", "users")
	for _, c := range recClasses {
		fmt.Fprintf(w, "%-13s %d\n", c, rep.Counts[c])
	}
	fmt.Fprintf(w, "salesforce_users=%d in_scope=%d vcc_users=%d templates=%d events=%d archives=%d archive_limit=%s\n",
		rep.SFUsers, rep.InScope, rep.VCCUsers, rep.Templates, rep.planned(), rep.Guard.Archives,
		strconv.FormatFloat(rep.Guard.Limit, 'f', -1, 64))
	lines := 0
	for _, class := range recPlanOrder {
		for _, e := range rep.Users {
			if e.Class == class {
				if lines == 0 {
					fmt.Fprintln(w, "plan:")
				}
				lines++
				fmt.Fprintln(w, e.line())
			}
		}
	}
	if lines == 0 {
		fmt.Fprintln(w, "plan: nothing to do")
	}
}

// line is the entry's plan line.
func (e reconcileEntry) line() string {
	var b strings.Builder
	b.WriteString(e.Class)
	if e.Class == recVCCOnly {
		fmt.Fprintf(&b, " vcc_user=%s username=%s active=%t", value(e.VCCUserID), value(e.Username), e.Active != nil && *e.Active)
		return b.String()
	}
	fmt.Fprintf(&b, " user=%s username=%s", e.UserID, value(e.Username))
	if e.Class == recAmbiguous {
		b.WriteString(": " + e.Reason)
		return b.String()
	}
	if e.VCCUserID != "" {
		fmt.Fprintf(&b, " vcc_user=%s", value(e.VCCUserID))
	}
	fmt.Fprintf(&b, " action=%s", e.Action)
	if e.Template != "" {
		fmt.Fprintf(&b, " template=%s", value(e.Template))
	}
	if e.Event != "" {
		fmt.Fprintf(&b, " event=%s", value(e.Event))
	}
	if len(e.Changes) > 0 {
		parts := make([]string, len(e.Changes))
		for i, c := range e.Changes {
			parts[i] = fmt.Sprintf("%s: %s → %s", c.Field, recShow(c.Old), recShow(c.New))
		}
		fmt.Fprintf(&b, " changes=%s", value(strings.Join(parts, "; ")))
	}
	return b.String()
}

func recShow(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
