package handlers

import (
	"strconv"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Desired is the VCC user a Salesforce user asks for under the mapping. It
// is what the worker writes and what reconcile compares: one definition,
// so the two never disagree.
type Desired struct {
	Username string // "" when the mapping's username source is empty
	Name     string // "" when unknown
	Email    string // "" when unknown
	SSO      string // ssoExternalId = FederationIdentifier
	Active   bool
	// AgentID is Salesforce's NVM Agent Id, "" when it has none. VCC keeps
	// a user's agent ID immutable once set: it is given at creation and
	// otherwise only compared (AgentIDConflict), never written.
	AgentID string
	// Template is the template user's username, "" when the user is out
	// of scope.
	Template string
	// ContactCenter is the contact center an active user belongs to, ""
	// for none (inactive users, or membership not managed).
	ContactCenter string
}

// Desired returns the VCC user u asks for. The mapping must be normalized
// (see Normalized).
func (m Mapping) Desired(u events.User) Desired {
	d := Desired{Username: m.username(u), Name: u.Name(), Email: u.Email.Get(), SSO: u.FederationIdentifier.Get(),
		Active: u.IsActive.Get(), AgentID: u.AgentID.Get(), Template: m.template(u)}
	if d.Active {
		d.ContactCenter = m.contactCenter(u)
	}
	return d
}

// Diff lists, in the order the worker writes them, the fields of the VCC
// user cur that differ from d: username, name and email (when known), the
// SSO id, and active (archive or revert). The worker writes exactly these
// in one PATCH; reconcile plans exactly these.
func Diff(d Desired, cur *vcc.User) []Change {
	var out []Change
	add := func(field, old, new string) {
		if old != new {
			out = append(out, Change{Field: field, Old: old, New: new})
		}
	}
	if d.Username != "" {
		add(fUsername, cur.Username, d.Username)
	}
	if d.Name != "" {
		add(fName, cur.Name, d.Name)
	}
	if d.Email != "" {
		add(fEmail, cur.Email, d.Email)
	}
	add(fSSO, cur.SSO(), d.SSO)
	add(fActive, strconv.FormatBool(cur.IsActive()), strconv.FormatBool(d.Active))
	return out
}

// AgentIDConflict returns, when Salesforce's NVM Agent Id differs from the
// VCC user's agent ID, the note the worker records: VCC does not allow the
// change, so it is reported, not written. "" when they agree or either is
// unknown.
func AgentIDConflict(d Desired, cur *vcc.User) string {
	id := cur.AgentDisplayID()
	if d.AgentID == "" || id == "" || d.AgentID == id {
		return ""
	}
	return "Salesforce NVM Agent Id " + d.AgentID + " differs from VCC agent ID " + id + ", which VCC does not allow to change"
}

// fields returns d keyed like State.Synced.
func (d Desired) fields() map[string]string {
	return map[string]string{
		fUsername: d.Username,
		fName:     d.Name,
		fEmail:    d.Email,
		fSSO:      d.SSO,
		fActive:   strconv.FormatBool(d.Active),
		fAgentID:  d.AgentID,
	}
}

// desiredOf is Desired with active as the handler decided it (an unknown
// IsActive never archives).
func desiredOf(fields map[string]string, active bool) Desired {
	return Desired{Username: fields[fUsername], Name: fields[fName], Email: fields[fEmail], SSO: fields[fSSO],
		Active: active, AgentID: fields[fAgentID]}
}
