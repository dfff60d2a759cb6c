package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Demo org of [Salesforce.SeedDemo].
const (
	DemoSFOrgID       = "00D5e000000KQ2eEAG"
	DemoSFInstanceURL = "https://vccsync-demo.my.salesforce.com"

	DemoSFClientID          = "vccsync-demo-connected-app"
	DemoSFClientSecret      = "vccsync-demo-consumer-secret"
	DemoSFUsername          = "vccsync.integration@demo.example" // run-as user of the demo client
	DemoSFIntegrationUserID = "0055e000000IntgAAC"               // the run-as user's ID in token replies

	DemoSFAgentProfileID      = "00e5e000000AgtVAAS" // "Contact Center Agent"
	DemoSFSupervisorProfileID = "00e5e000000SupVAAS" // "Contact Center Supervisor"

	DemoSFContactCenterLondon  = "04v5e000000LdnCAAS" // "London Contact Center"
	DemoSFContactCenterNewYork = "04v5e000000NycCAAS" // "New York Contact Center"

	DemoSFActionID = "04k5e000000VccSAAS" // the outbound message definition

	DemoSFJaneID  = "0055e000001JaneAAC" // Jane Smith, agent, NVM Agent Id 1042, ContactCenterAgent, member of London
	DemoSFOmarID  = "0055e000001OmarAAC" // Omar Haddad, agent, ContactCenterAgent
	DemoSFLenaID  = "0055e000001LenaAAC" // Lena Fischer, agent, no contact-center permission set
	DemoSFPriyaID = "0055e000001PryaAAC" // Priya Natarajan, supervisor, ContactCenterAdmin
	DemoSFTomID   = "0055e000001TombAAC" // Tom Becker, agent, ContactCenterAgent
	DemoSFAnaID   = "0055e000001AnasAAC" // Ana Souza, agent, ContactCenterAgent

	// The users of publisher's example events (cmd/publisher/testdata/
	// example.jsonl), in the state those events bring them to.
	DemoSFNoahID = "0055e000001NoahAAC" // Noah Kim, agent, NVM Agent Id 1050, alias nkim2, ContactCenterAgent
	DemoSFMiaID  = "0055e000001MiaRAAS" // Mia Rossi, supervisor, inactive, ContactCenterAdmin
	DemoSFLiamID = "0055e000001LiamAAC" // Liam Okafor, agent, ContactCenterAgent
)

// AddProfile adds a profile (ID 00e…, 15 or 18 characters). Once the org
// has a profile, a user's ProfileId must be one of the org's.
func (s *Salesforce) AddProfile(id, name string) error {
	full, ok := sfNormalizeID(id, SFPrefixProfile)
	if !ok {
		return fmt.Errorf("add profile %q: not a profile ID (00e…, 15 or 18 characters)", id)
	}
	if name == "" {
		return fmt.Errorf("add profile %s: name is required", full)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.profiles[full]; dup {
		return fmt.Errorf("add profile %s: already exists", full)
	}
	s.profiles[full] = name
	return nil
}

// AddUser stores a user under the record rules (required Username,
// LastName, Alias, Email and ProfileId, lengths, unique Username and
// FederationIdentifier, a known profile) without counting a write. The
// REST API's alias character rule is not applied: a user created in Setup
// may have any alias. An empty ID gets a new one; a zero LastModifiedDate
// or SystemModstamp is set to now. A CallCenterID makes the user a member
// under the rules of [Salesforce.AddMember] (a contact center of the org,
// the permission set, the alias characters).
func (s *Salesforce) AddUser(u SFUser) (SFUser, error) {
	u = u.clone()
	fail := func(err error) (SFUser, error) {
		return SFUser{}, fmt.Errorf("add salesforce user %s: %w", u.Username, err)
	}
	u.CallCenterID = sfNormalizeRef(u.CallCenterID, SFPrefixContactCenter)
	for _, p := range u.PermissionSets {
		if p == "" {
			return fail(errors.New("empty permission set name"))
		}
	}
	u.PermissionSets = sfDedupe(u.PermissionSets)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		for u.ID == "" || s.users[u.ID] != nil {
			u.ID = sfMakeID(SFPrefixUser, s.idSeq.Add(1))
		}
	} else {
		id, ok := sfNormalizeID(u.ID, SFPrefixUser)
		if !ok {
			return fail(fmt.Errorf("%q is not a user ID (005…, 15 or 18 characters)", u.ID))
		}
		if s.users[id] != nil {
			return fail(fmt.Errorf("ID %s already exists", id))
		}
		u.ID = id
	}
	if fail2 := s.checkUser(u, nil, false); fail2 != nil {
		return fail(fail2)
	}
	s.userSeq++
	e := &sfUserEntry{seq: s.userSeq}
	explicit := !u.SystemModstamp.IsZero() || !u.LastModifiedDate.IsZero()
	s.store(e, u)
	s.users[e.u.ID] = e
	if explicit {
		e.u.SystemModstamp = sfStamp(e.u.SystemModstamp, e.u.LastModifiedDate)
		e.u.LastModifiedDate = sfStamp(e.u.LastModifiedDate, e.u.SystemModstamp)
		s.notify(e.u.ID)
	} else {
		s.touch(e)
	}
	return e.u.clone(), nil
}

// sfDedupe returns the distinct non-empty names in order.
func sfDedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// sfStamp is t at millisecond precision in UTC, or other when t is zero.
func sfStamp(t, other time.Time) time.Time {
	if t.IsZero() {
		t = other
	}
	return t.UTC().Truncate(time.Millisecond)
}

// ModifyUser changes a stored user outside the API, as an administrator
// in Setup would: the record rules of [Salesforce.AddUser] apply, the ID
// and CallCenterID are kept (membership changes through
// [Salesforce.AddMember] and [Salesforce.RemoveMember]), and
// LastModifiedDate and SystemModstamp are bumped unless fn changed them.
func (s *Salesforce) ModifyUser(userID string, fn func(*SFUser)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return fmt.Errorf("modify salesforce user %s: not found", userID)
	}
	u := e.u.clone()
	fn(&u)
	u.ID, u.CallCenterID = e.u.ID, e.u.CallCenterID
	u.PermissionSets = sfDedupe(u.PermissionSets)
	if fail := s.checkUser(u, e, false); fail != nil {
		return fmt.Errorf("modify salesforce user %s: %w", id, fail)
	}
	explicit := !u.SystemModstamp.Equal(e.u.SystemModstamp) || !u.LastModifiedDate.Equal(e.u.LastModifiedDate)
	s.store(e, u)
	if explicit {
		e.u.SystemModstamp = sfStamp(e.u.SystemModstamp, e.u.LastModifiedDate)
		e.u.LastModifiedDate = sfStamp(e.u.LastModifiedDate, e.u.SystemModstamp)
		s.notify(id)
	} else {
		s.touch(e)
	}
	return nil
}

// AssignPermissionSet assigns a permission set (by API name, e.g.
// [SFPermissionSetAgent]) to a user. It is a PermissionSetAssignment, not
// a change of the User record: the timestamps stay.
func (s *Salesforce) AssignPermissionSet(userID, name string) error {
	if name == "" {
		return fmt.Errorf("assign permission set to %s: name is required", userID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return fmt.Errorf("assign permission set %s to %s: user not found", name, userID)
	}
	if !slices.Contains(e.u.PermissionSets, name) {
		e.u.PermissionSets = append(e.u.PermissionSets, name)
	}
	return nil
}

// RemovePermissionSet removes a permission set assignment from a user
// (nothing when it has none). Contact-center membership stays.
func (s *Salesforce) RemovePermissionSet(userID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := sfNormalizeID(userID, SFPrefixUser)
	e := s.users[id]
	if e == nil {
		return fmt.Errorf("remove permission set %s from %s: user not found", name, userID)
	}
	e.u.PermissionSets = slices.DeleteFunc(e.u.PermissionSets, func(p string) bool { return p == name })
	return nil
}

// User returns a copy of the user with that 15- or 18-character ID.
func (s *Salesforce) User(id string) (SFUser, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	full, _ := sfNormalizeID(id, SFPrefixUser)
	e := s.users[full]
	if e == nil {
		return SFUser{}, false
	}
	return e.u.clone(), true
}

// UserByUsername returns a copy of the user with that username (compared
// case-insensitively).
func (s *Salesforce) UserByUsername(username string) (SFUser, bool) {
	s.mu.Lock()
	id := s.byUsername[strings.ToLower(username)]
	s.mu.Unlock()
	return s.User(id)
}

// Users returns copies of all users in creation order.
func (s *Salesforce) Users() []SFUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SFUser
	for _, e := range s.sortedUsers() {
		out = append(out, e.u.clone())
	}
	return out
}

// SeedDemo fills the org with the demo data: the connected app
// DemoSFClientID/DemoSFClientSecret running as DemoSFUsername (client
// credentials), the agent and supervisor profiles, the London and New York
// contact centers and six active users (the DemoSF…ID constants): Jane,
// Omar, Tom and Ana (agent profile, ContactCenterAgent), Priya (supervisor
// profile, ContactCenterAdmin) and Lena (agent profile, no contact-center
// permission set). Jane, NVM Agent Id 1042, is a member of London (her
// CallCenterId); nobody else is a member. Usernames are first.last@demo.example.
func (s *Salesforce) SeedDemo() error {
	fail := func(err error) error { return fmt.Errorf("seed demo salesforce org: %w", err) }
	if err := s.AddClient(SFClient{ID: DemoSFClientID, Secret: DemoSFClientSecret, Username: DemoSFUsername}); err != nil {
		return fail(err)
	}
	for id, name := range map[string]string{DemoSFAgentProfileID: "Contact Center Agent", DemoSFSupervisorProfileID: "Contact Center Supervisor"} {
		if err := s.AddProfile(id, name); err != nil {
			return fail(err)
		}
	}
	for _, cc := range []SFContactCenter{{DemoSFContactCenterLondon, "London Contact Center"}, {DemoSFContactCenterNewYork, "New York Contact Center"}} {
		if err := s.AddContactCenter(cc.ID, cc.Name); err != nil {
			return fail(err)
		}
	}
	t0 := s.opts.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	for i, d := range []struct {
		id, first, last, agentID, profile, permSet string
	}{
		{DemoSFJaneID, "Jane", "Smith", "1042", DemoSFAgentProfileID, SFPermissionSetAgent},
		{DemoSFOmarID, "Omar", "Haddad", "", DemoSFAgentProfileID, SFPermissionSetAgent},
		{DemoSFLenaID, "Lena", "Fischer", "", DemoSFAgentProfileID, ""},
		{DemoSFPriyaID, "Priya", "Natarajan", "", DemoSFSupervisorProfileID, SFPermissionSetAdmin},
		{DemoSFTomID, "Tom", "Becker", "", DemoSFAgentProfileID, SFPermissionSetAgent},
		{DemoSFAnaID, "Ana", "Souza", "", DemoSFAgentProfileID, SFPermissionSetAgent},
	} {
		username := strings.ToLower(d.first + "." + d.last + "@demo.example")
		short := strings.ToLower(d.first[:1] + d.last)
		u := SFUser{
			ID: d.id, Username: username, Email: username, FirstName: d.first, LastName: d.last,
			Alias: short[:min(len(short), SFAliasMaxLength)], IsActive: true, FederationIdentifier: short,
			ProfileID: d.profile, NVMAgentID: d.agentID,
			LastModifiedDate: t0.Add(time.Duration(i) * time.Minute), SystemModstamp: t0.Add(time.Duration(i) * time.Minute),
		}
		if d.permSet != "" {
			u.PermissionSets = []string{d.permSet}
		}
		if _, err := s.AddUser(u); err != nil {
			return fail(err)
		}
	}
	if err := s.AddMember(DemoSFContactCenterLondon, DemoSFJaneID); err != nil {
		return fail(err)
	}
	return nil
}

// SeedExampleUsers adds, after SeedDemo, the users of publisher's example
// events (cmd/publisher/testdata/example.jsonl) as the last event of each
// leaves them, with its timestamps: Noah (agent, 1050, alias changed to
// nkim2), Mia (supervisor, left) and Liam (agent). None is a
// contact-center member: the worker adds them when their events are
// applied.
func (s *Salesforce) SeedExampleUsers() error {
	at := func(v string) time.Time {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			panic(err) // the seed is static
		}
		return t
	}
	for _, u := range []SFUser{
		{ID: DemoSFNoahID, Username: "noah.kim@demo.example", Email: "noah.kim@demo.example", FirstName: "Noah", LastName: "Kim",
			Alias: "nkim2", IsActive: true, FederationIdentifier: "nkim", ProfileID: DemoSFAgentProfileID, NVMAgentID: "1050",
			PermissionSets: []string{SFPermissionSetAgent}, LastModifiedDate: at("2026-11-20T11:02:40Z"), SystemModstamp: at("2026-11-20T11:02:40Z")},
		{ID: DemoSFMiaID, Username: "mia.rossi@demo.example", Email: "mia.rossi@demo.example", FirstName: "Mia", LastName: "Rossi",
			Alias: "mrossi", IsActive: false, FederationIdentifier: "mrossi", ProfileID: DemoSFSupervisorProfileID,
			PermissionSets: []string{SFPermissionSetAdmin}, LastModifiedDate: at("2026-11-20T17:45:21Z"), SystemModstamp: at("2026-11-20T17:45:21Z")},
		{ID: DemoSFLiamID, Username: "liam.okafor@demo.example", Email: "liam.okafor@demo.example", FirstName: "Liam", LastName: "Okafor",
			Alias: "lokafor", IsActive: true, FederationIdentifier: "lokafor", ProfileID: DemoSFAgentProfileID,
			PermissionSets: []string{SFPermissionSetAgent}, LastModifiedDate: at("2026-11-20T11:30:04Z"), SystemModstamp: at("2026-11-20T11:30:04Z")},
	} {
		if _, err := s.AddUser(u); err != nil {
			return fmt.Errorf("seed example users: %w", err)
		}
	}
	return nil
}
