package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Demo account of SeedDemo.
const (
	DemoClientID     = "vccsync-demo"
	DemoClientSecret = "vccsync-demo-secret"

	DemoAgentTemplateUsername      = "template.agent@demo.example"
	DemoSupervisorTemplateUsername = "template.supervisor@demo.example"
	DemoActiveUsername             = "alice.archer@demo.example" // active Agent, agentDisplayId 1001
	DemoArchivedUsername           = "bob.bennett@demo.example"  // archived Agent, agentDisplayId 1003
	DemoAdminUsername              = "carol.admin@demo.example"  // Admin, not acting as agent

	DemoCallbackLondon     = "5c1f3f0e-8a51-4a3e-9b1e-0d2a6c1e0a01" // +44 20 7946 0000
	DemoCallbackManchester = "5c1f3f0e-8a51-4a3e-9b1e-0d2a6c1e0a02" // +44 161 496 0000
	DemoCallbackNewYork    = "5c1f3f0e-8a51-4a3e-9b1e-0d2a6c1e0a03" // +1 212 555 0100
	DemoCallbackSydney     = "5c1f3f0e-8a51-4a3e-9b1e-0d2a6c1e0a04" // +61 2 5550 0100

	// Telephony region IDs (outboundTelephonyRegion).
	DemoRegionEMEAPrimary   = "b4c6e398-0011-4c1e-9d6e-3e1f00000011" // EMEA - Primary (11)
	DemoRegionEMEASecondary = "b4c6e398-0008-4c1e-9d6e-3e1f00000008" // EMEA - Secondary (8)
	DemoRegionNAMEast       = "b4c6e398-0000-4c1e-9d6e-3e1f00000000" // NAM EAST (Default)
	DemoRegionNAMWest       = "b4c6e398-0016-4c1e-9d6e-3e1f00000016" // NAM WEST (16)
	DemoRegionSingapore     = "b4c6e398-0014-4c1e-9d6e-3e1f00000014" // Singapore (14)
	DemoRegionSydney        = "b4c6e398-0012-4c1e-9d6e-3e1f00000012" // Sydney (12)
)

// DemoTelephonyRegions are the six telephony regions VCC documents, with
// the demo account's IDs.
func DemoTelephonyRegions() []VCCTelephonyRegion {
	return []VCCTelephonyRegion{
		{ID: DemoRegionEMEAPrimary, Name: "EMEA - Primary (11)"},
		{ID: DemoRegionEMEASecondary, Name: "EMEA - Secondary (8)"},
		{ID: DemoRegionNAMEast, Name: "NAM EAST (Default)"},
		{ID: DemoRegionNAMWest, Name: "NAM WEST (16)"},
		{ID: DemoRegionSingapore, Name: "Singapore (14)"},
		{ID: DemoRegionSydney, Name: "Sydney (12)"},
	}
}

// AddClient registers an API client of the account.
func (v *VCC) AddClient(c VCCClient) error {
	if c.ID == "" || c.Secret == "" {
		return errors.New("add vcc client: id and secret are required")
	}
	for _, s := range c.Scopes {
		if s != VCCScopeRead && s != VCCScopeWrite {
			return fmt.Errorf("add vcc client %s: unknown scope %q", c.ID, s)
		}
	}
	c.Scopes = slices.Clone(c.Scopes)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clients[c.ID] = c
	return nil
}

// AddCallbackNumber adds an outbound CLID to the account.
func (v *VCC) AddCallbackNumber(n VCCCallbackNumber) error {
	if n.ID == "" || n.CLID == "" {
		return errors.New("add callback number: id and clid are required")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.callbackNumber(n.ID); ok {
		return fmt.Errorf("add callback number %s: already exists", n.ID)
	}
	v.numbers = append(v.numbers, n)
	return nil
}

// CallbackNumbers returns the account's callback numbers.
func (v *VCC) CallbackNumbers() []VCCCallbackNumber {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.numbers)
}

// AddTelephonyRegion adds a telephony region to the account. Only the
// account's regions are accepted as outboundTelephonyRegion.
func (v *VCC) AddTelephonyRegion(t VCCTelephonyRegion) error {
	if t.ID == "" || t.Name == "" {
		return errors.New("add telephony region: id and name are required")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.telephonyRegion(t.ID); ok {
		return fmt.Errorf("add telephony region %s: already exists", t.ID)
	}
	v.regions = append(v.regions, t)
	return nil
}

// TelephonyRegions returns the account's telephony regions.
func (v *VCC) TelephonyRegions() []VCCTelephonyRegion {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.regions)
}

// AddUser stores a user under the same rules as the API (required fields,
// role, unique username, agentDisplayId and telephoneAddress, known callback
// numbers and telephony region, a telephone number with WebRTC, skill
// levels), without counting a write or checking licences.
// An empty UserID gets a new one. User.Active is taken as given: false
// stores an archived user.
func (v *VCC) AddUser(rec VCCUserRecord) (VCCUserRecord, error) {
	rec = rec.clone()
	u := &rec.User
	if u.UserID == "" {
		u.UserID = newUUID()
	}
	if u.Config.Role == VCCRoleAgent {
		u.Config.ActAsAgent = true
	}
	if u.Config.ActAsAgent && u.Config.Agent == nil {
		u.Config.Agent = &VCCAgentConfig{}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	fail := func(err error) (VCCUserRecord, error) {
		return VCCUserRecord{}, fmt.Errorf("add vcc user %s: %w", u.Username, err)
	}
	if _, ok := v.users[u.UserID]; ok {
		return fail(fmt.Errorf("userId %s already exists", u.UserID))
	}
	if aerr := v.check(*u, nil, true); aerr != nil {
		return fail(aerr)
	}
	for _, s := range rec.Skills {
		if s.SkillID == "" || s.Level < 1 || s.Level > v.opts.MaxSkillLevel {
			return fail(fmt.Errorf("skill %q level %d: want an id and a level between 1 and %d", s.SkillID, s.Level, v.opts.MaxSkillLevel))
		}
	}
	for _, id := range rec.CallbackNumbers {
		if _, ok := v.callbackNumber(id); !ok {
			return fail(fmt.Errorf("unknown callback number %s", id))
		}
	}
	v.put(rec)
	return rec.clone(), nil
}

// ModifyUser changes a stored user outside the API, as an administrator in
// the VCC portal would (the rules are not applied; the userId is kept).
// Clearing Locked resets the count of failed logins.
func (v *VCC) ModifyUser(userID string, fn func(*VCCUserRecord)) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return fmt.Errorf("modify vcc user %s: not found", userID)
	}
	rec := e.rec.clone()
	fn(&rec)
	rec.User.UserID = userID
	if e.rec.User.Locked && !rec.User.Locked {
		e.failedLogins = 0
	}
	v.put(rec)
	return nil
}

// User returns a copy of the user with that userId.
func (v *VCC) User(userID string) (VCCUserRecord, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.users[userID]
	if e == nil {
		return VCCUserRecord{}, false
	}
	return e.rec.clone(), true
}

// UserByUsername returns a copy of the user with that username (compared
// case-insensitively).
func (v *VCC) UserByUsername(username string) (VCCUserRecord, bool) {
	v.mu.Lock()
	id := v.byUsername[strings.ToLower(username)]
	v.mu.Unlock()
	return v.User(id)
}

// Users returns copies of all users, active and archived, in creation order.
func (v *VCC) Users() []VCCUserRecord {
	v.mu.Lock()
	defer v.mu.Unlock()
	entries := make([]*userEntry, 0, len(v.users))
	for _, e := range v.users {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *userEntry) int { return a.seq - b.seq })
	out := make([]VCCUserRecord, len(entries))
	for i, e := range entries {
		out[i] = e.rec.clone()
	}
	return out
}

// SeedDemo fills the account with the demo data: the admin client
// DemoClientID/DemoClientSecret (users:read users:write), the six telephony
// regions of [DemoTelephonyRegions], four callback numbers, an agent
// template, a supervisor template, an active agent with agentDisplayId 1001,
// an archived agent with 1003 and an admin who does not act as agent. The
// agents use WebRTC with their agent ID as telephone number, as VCC advises
// for WebRTC-only agents. No user has a password.
func (v *VCC) SeedDemo() error {
	if err := v.AddClient(VCCClient{ID: DemoClientID, Secret: DemoClientSecret, Scopes: []string{VCCScopeRead, VCCScopeWrite}, Admin: true}); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	for _, t := range DemoTelephonyRegions() {
		if err := v.AddTelephonyRegion(t); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	for _, n := range []VCCCallbackNumber{
		{ID: DemoCallbackLondon, Name: "London Support", CLID: "+442079460000"},
		{ID: DemoCallbackManchester, Name: "Manchester Sales", CLID: "+441614960000"},
		{ID: DemoCallbackNewYork, Name: "New York Support", CLID: "+12125550100"},
		{ID: DemoCallbackSydney, Name: "Sydney Support", CLID: "+61255500100"},
	} {
		if err := v.AddCallbackNumber(n); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	agent := func(id, region, location string, capacity VCCCapacity, callback string) *VCCAgentConfig {
		return &VCCAgentConfig{
			AgentDisplayID: id, WebRTC: true, AgentControlWebRTC: true, HandleMultipleInteractions: true,
			EnforcedDispositionCodes: true, CallRecordingControls: true, TranscribeCalls: true, CallParking: true,
			Location: location,
			TelephonyAddress: VCCTelephonyAddress{
				TelephoneAddress:        id,
				OutboundTelephonyRegion: region, PreventAutoCallbackNumber: true, SelectedCallbackNumberID: callback,
			},
			Capacity: capacity,
		}
	}
	user := func(id, username, name, role string, active bool, a *VCCAgentConfig) VCCUser {
		return VCCUser{
			UserID: id, Username: username, Name: name, Email: username, Active: active,
			LastLoginTime: "2026-01-05T08:30:00.000Z",
			Config:        VCCAccountConfig{Role: role, Chargeable: role == VCCRoleAgent, ActAsAgent: a != nil, Agent: a},
		}
	}
	users := []VCCUserRecord{
		{
			User: user("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000001", DemoAgentTemplateUsername, "Template Agent", VCCRoleAgent, true,
				agent("9901", DemoRegionEMEAPrimary, "GB", VCCCapacity{IsAgentLevel: true, Live: 100, NonLive: 50, SemiLive: 75}, DemoCallbackLondon)),
			Skills: []VCCSkill{
				{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001", Level: 6}, // Billing
				{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000002", Level: 3}, // Technical Support
			},
			Groups: []string{
				"3f9a2b10-6c4d-4e8f-a1b2-c3d400000001", // UK Service
				"3f9a2b10-6c4d-4e8f-a1b2-c3d400000002", // Inbound Sales
			},
			CallbackNumbers: []string{DemoCallbackLondon, DemoCallbackManchester},
		},
		{
			User: user("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000002", DemoSupervisorTemplateUsername, "Template Supervisor", VCCRoleSupervisor, true,
				agent("9902", DemoRegionNAMEast, "US", VCCCapacity{}, DemoCallbackNewYork)),
			Skills: []VCCSkill{
				{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000003", Level: 8}, // Escalations
				{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000004", Level: 5}, // Complaints
			},
			Groups:          []string{"3f9a2b10-6c4d-4e8f-a1b2-c3d400000003"}, // US Supervisors
			CallbackNumbers: []string{DemoCallbackNewYork},
		},
		{
			User: user("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000003", DemoActiveUsername, "Alice Archer", VCCRoleAgent, true,
				agent("1001", DemoRegionEMEAPrimary, "GB", VCCCapacity{}, "")),
			Skills: []VCCSkill{{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001", Level: 4}},
			Groups: []string{"3f9a2b10-6c4d-4e8f-a1b2-c3d400000001"},
		},
		{
			User: user("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000004", DemoArchivedUsername, "Bob Bennett", VCCRoleAgent, false,
				agent("1003", DemoRegionEMEAPrimary, "GB", VCCCapacity{}, "")),
		},
		{
			User: user("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000005", DemoAdminUsername, "Carol Admin", VCCRoleAdmin, true, nil),
		},
	}
	for _, rec := range users {
		if _, err := v.AddUser(rec); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	return nil
}
