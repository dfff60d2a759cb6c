package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Classes, in the order the summary lists them.
const (
	InStep     = "in_step"
	Differs    = "differs"
	Missing    = "missing"
	VCCOnly    = "vcc_only"
	Ambiguous  = "ambiguous"
	OutOfScope = "out_of_scope"
)

// Classes lists every class in summary order.
var Classes = []string{InStep, Differs, Missing, VCCOnly, Ambiguous, OutOfScope}

// planOrder is the order of the plan's lines and of publishing.
var planOrder = []string{Differs, Missing, Ambiguous, VCCOnly}

// Actions of a plan line.
const (
	ActionCreate     = "create"
	ActionUpdate     = "update"
	ActionArchive    = "archive"
	ActionRevert     = "revert"
	ActionMembership = "membership"
)

// Input is what reconcile read.
type Input struct {
	SF  []events.User
	VCC []vcc.User
	// Members maps a user ID (18 characters) to the mapped contact centers
	// that list it; nil when the mapping names no contact center.
	Members map[string][]string
	// Links maps a Salesforce user ID (18 characters) to the VCC user the
	// worker linked it to; nil when unknown.
	Links map[string]string
}

// Entry is one user of the report: a Salesforce user, or a VCC user with
// no Salesforce user (vcc_only).
type Entry struct {
	Class     string            `json:"class"`
	UserID    string            `json:"userId,omitempty"`
	Username  string            `json:"username,omitempty"`
	VCCUserID string            `json:"vccUserId,omitempty"`
	Active    *bool             `json:"active,omitempty"` // vcc_only: whether the VCC user is active
	Action    string            `json:"action,omitempty"`
	Template  string            `json:"template,omitempty"`
	Changes   []handlers.Change `json:"changes,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Event     string            `json:"event,omitempty"`

	env *events.Envelope
	sf  events.User
}

// index holds the VCC users by what a Salesforce user can match.
type index struct {
	byID, byName, byEmail, byAgentID map[string][]*vcc.User
}

func newIndex(users []vcc.User, templates map[string]bool) (*index, int) {
	ix := &index{byID: map[string][]*vcc.User{}, byName: map[string][]*vcc.User{}, byEmail: map[string][]*vcc.User{}, byAgentID: map[string][]*vcc.User{}}
	n := 0
	for i := range users {
		v := &users[i]
		if templates[strings.ToLower(v.Username)] {
			n++
			continue
		}
		ix.byID[v.UserID] = append(ix.byID[v.UserID], v)
		ix.byName[strings.ToLower(v.Username)] = append(ix.byName[strings.ToLower(v.Username)], v)
		if v.Email != "" {
			ix.byEmail[strings.ToLower(v.Email)] = append(ix.byEmail[strings.ToLower(v.Email)], v)
		}
		if id := v.AgentDisplayID(); id != "" {
			ix.byAgentID[id] = append(ix.byAgentID[id], v)
		}
	}
	return ix, n
}

// Classify compares what was read with the mapping (normalized).
func Classify(m handlers.Mapping, in Input) *Report {
	rep := &Report{Counts: map[string]int{}, SFUsers: len(in.SF), VCCUsers: len(in.VCC)}
	for _, c := range Classes {
		rep.Counts[c] = 0
	}
	templates := map[string]bool{}
	for _, t := range m.TemplateUsernames() {
		templates[strings.ToLower(t)] = true
	}
	ix, nTemplates := newIndex(in.VCC, templates)
	rep.Templates = nTemplates
	sfPerName := map[string]int{}
	for _, u := range in.SF {
		if n := m.Username(u); n != "" {
			sfPerName[strings.ToLower(n)]++
		}
	}
	c := &classifier{m: m, ix: ix, sfPerName: sfPerName, members: in.Members, links: in.Links, claimed: map[string]bool{}}
	for _, u := range in.SF {
		e := c.user(u)
		if e.Class != OutOfScope {
			rep.InScope++
		}
		rep.Users = append(rep.Users, e)
	}
	for i := range in.VCC {
		v := &in.VCC[i]
		if templates[strings.ToLower(v.Username)] || c.claimed[v.UserID] {
			continue
		}
		rep.Users = append(rep.Users, Entry{Class: VCCOnly, Username: v.Username, VCCUserID: v.UserID, Active: vcc.Bool(v.IsActive())})
	}
	for _, e := range rep.Users {
		rep.Counts[e.Class]++
	}
	slices.SortStableFunc(rep.Users, func(a, b Entry) int {
		if c := slices.Index(Classes, a.Class) - slices.Index(Classes, b.Class); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserID, b.UserID); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
	})
	return rep
}

// classifier classifies Salesforce users one by one, marking the VCC users
// each accounts for in claimed.
type classifier struct {
	m         handlers.Mapping
	ix        *index
	sfPerName map[string]int
	members   map[string][]string
	links     map[string]string
	claimed   map[string]bool
}

func (c *classifier) claim(vs ...*vcc.User) {
	for _, v := range vs {
		c.claimed[v.UserID] = true
	}
}

// user classifies one Salesforce user.
func (c *classifier) user(u events.User) Entry {
	key, err := events.UserKey(u.ID)
	if err != nil {
		key = u.ID
	}
	u.ID = key
	d := c.m.Desired(u)
	e := Entry{UserID: key, Username: d.Username, sf: u}
	cur, ambiguous := c.match(u, d)
	if cur != nil {
		e.VCCUserID = cur.UserID
	}
	if d.Template == "" {
		e.Class = OutOfScope
		e.Reason = fmt.Sprintf("ProfileId %s has no template and no default template is set", quote(u.ProfileID.Get()))
		return e
	}
	if ambiguous != "" {
		e.Class, e.Reason, e.VCCUserID = Ambiguous, ambiguous, ""
		return e
	}
	switch {
	case cur == nil && d.Active:
		e.Class, e.Action, e.Template = Missing, ActionCreate, d.Template
	case cur != nil:
		e.Changes = handlers.Diff(d, cur)
		e.Reason = handlers.AgentIDConflict(d, cur)
	}
	for _, ch := range e.Changes {
		switch {
		case ch.Field == "active" && ch.New == "false":
			e.Action = ActionArchive
		case ch.Field == "active":
			e.Action = ActionRevert
		}
	}
	if e.Action == "" && len(e.Changes) > 0 {
		e.Action = ActionUpdate
	}
	if ch, ok := c.membership(u, d); ok {
		e.Changes = append(e.Changes, ch)
		if e.Action == "" {
			e.Action = ActionMembership
		}
	}
	switch {
	case e.Class == Missing:
	case len(e.Changes) > 0:
		e.Class = Differs
	default:
		e.Class = InStep
	}
	return e
}

// match finds the VCC user of u as the worker would — its stored link,
// else the derived username — or says why the match is ambiguous.
func (c *classifier) match(u events.User, d handlers.Desired) (*vcc.User, string) {
	if id := c.links[u.ID]; id != "" {
		if vs := c.ix.byID[id]; len(vs) == 1 {
			c.claim(vs[0])
			return vs[0], ""
		}
	}
	lname := strings.ToLower(d.Username)
	var named []*vcc.User
	if d.Username != "" {
		named = c.ix.byName[lname]
	}
	c.claim(named...)
	var byMail []*vcc.User
	if email := strings.ToLower(d.Email); email != "" {
		for _, v := range c.ix.byEmail[email] {
			if !slices.Contains(named, v) {
				byMail = append(byMail, v)
			}
		}
	}
	switch {
	case d.Username == "" && d.Active:
		return nil, fmt.Sprintf("no VCC username: its %s is empty", c.m.UsernameSource)
	case d.Username != "" && c.sfPerName[lname] > 1:
		return nil, fmt.Sprintf("%d Salesforce users have the VCC username %s", c.sfPerName[lname], d.Username)
	case len(named) > 1:
		return nil, fmt.Sprintf("VCC users %s all have the username %s", userList(named), d.Username)
	case len(named) == 1 && len(byMail) > 0:
		c.claim(byMail...)
		return nil, fmt.Sprintf("VCC user %s has the username, VCC users %s the email %s", userList(named), userList(byMail), d.Email)
	case len(named) == 0 && len(byMail) > 0 && d.Active:
		c.claim(byMail...)
		return nil, fmt.Sprintf("no VCC user has the username; VCC users %s have the email %s", userList(byMail), d.Email)
	case len(named) == 1:
		return named[0], ""
	case d.Active:
		return nil, c.agentIDHeld(d)
	}
	return nil, ""
}

// agentIDHeld reports, for a user with no VCC user, the VCC users that
// hold its NVM Agent Id under another username: VCC keeps agent IDs
// unique, so the worker's create would be refused, and the holder may be
// this very person under an old name.
func (c *classifier) agentIDHeld(d handlers.Desired) string {
	if d.AgentID == "" {
		return ""
	}
	others := c.ix.byAgentID[d.AgentID]
	if len(others) == 0 {
		return ""
	}
	c.claim(others...)
	return fmt.Sprintf("VCC user %s holds the NVM Agent Id %s under another username", userList(others), d.AgentID)
}

// membership is the contact-center change u needs, if any.
func (c *classifier) membership(u events.User, d handlers.Desired) (handlers.Change, bool) {
	if c.members == nil {
		return handlers.Change{}, false
	}
	have := slices.Clone(c.members[u.ID])
	if id, err := events.NormalizeID(u.CallCenterID.Get()); err == nil && u.CallCenterID.Known() && !slices.Contains(have, id) {
		have = append(have, id)
	}
	slices.Sort(have)
	if (len(have) == 0 && d.ContactCenter == "") || (len(have) == 1 && have[0] == d.ContactCenter) {
		return handlers.Change{}, false
	}
	return handlers.Change{Field: "contactCenter", Old: strings.Join(have, ","), New: d.ContactCenter}, true
}

// userList names VCC users: username (userId), ….
func userList(vs []*vcc.User) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Username + " (" + v.UserID + ")"
	}
	return strings.Join(names, ", ")
}
