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

	// DemoAgentTemplateUsername is an Agent template with more skills,
	// groups, callback numbers and group permissions than one page of 25,
	// and a non-default value in every agentConfiguration field.
	DemoAgentTemplateUsername = "template.agent@demo.example"
	// DemoSupervisorTemplateUsername is a Supervisor template acting as
	// agent, with a non-default value in every agentConfiguration field.
	DemoSupervisorTemplateUsername = "template.supervisor@demo.example"
	DemoActiveUsername             = "alice.archer@demo.example" // active Agent, agentDisplayId 1001
	DemoArchivedUsername           = "bob.bennett@demo.example"  // archived Agent, agentDisplayId 1003
	DemoAdminUsername              = "carol.admin@demo.example"  // Admin, not acting as agent
	// DemoMultiAccountUsername is an active Supervisor (not acting as
	// agent) who belongs to two VCC accounts: archiving needs
	// acceptArchiveInMultipleAccounts=true.
	DemoMultiAccountUsername = "dana.multi@demo.example"

	// The agent template's list sizes (each over one default page of 25).
	DemoAgentTemplateSkills           = 40
	DemoAgentTemplateGroups           = 30
	DemoAgentTemplateCallbackNumbers  = 30
	DemoAgentTemplateGroupPermissions = 30

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

// Sizes of the demo account's catalogues.
const (
	demoGroups          = 40
	demoCallbackNumbers = 32
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

// AddGroup adds a group to the account. Only the account's groups are
// accepted in a user's groups and group permissions.
func (v *VCC) AddGroup(g VCCGroup) error {
	if g.ID == "" || g.Name == "" {
		return errors.New("add group: id and name are required")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.group(g.ID); ok {
		return fmt.Errorf("add group %s: already exists", g.ID)
	}
	v.groups = append(v.groups, g)
	return nil
}

// Groups returns the account's groups.
func (v *VCC) Groups() []VCCGroup {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.groups)
}

// AddTelephonyRegion adds a telephony region to the account. Only the
// account's regions are accepted as outboundTelephonyRegion. VCC has no
// endpoint that lists them: operators find the IDs on existing users.
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
// role, unique username, agentDisplayId and telephoneAddress, known
// telephony region, a selectedCallbackNumberId among the record's callback
// numbers, a telephone number with WebRTC, value ranges, skill levels, the
// account's callback numbers and groups, valid group permissions), without
// counting a write or checking licences. An empty UserID gets a new one.
// User.Active is taken as given: false stores an archived user.
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
	if err := v.checkRecord(rec); err != nil {
		return VCCUserRecord{}, fmt.Errorf("add vcc user %s: %w", u.Username, err)
	}
	v.put(rec)
	return rec.clone(), nil
}

// checkRecord applies the API's rules to a user seeded through Go; the
// caller holds v.mu.
func (v *VCC) checkRecord(rec VCCUserRecord) error {
	if _, ok := v.users[rec.User.UserID]; ok {
		return fmt.Errorf("userId %s already exists", rec.User.UserID)
	}
	if aerr := v.check(rec, nil, true); aerr != nil {
		return aerr
	}
	for _, s := range rec.Skills {
		if s.SkillID == "" || s.Level < 1 || s.Level > v.opts.MaxSkillLevel {
			return fmt.Errorf("skill %q level %d: want an id and a level between 1 and %d", s.SkillID, s.Level, v.opts.MaxSkillLevel)
		}
	}
	for _, id := range rec.CallbackNumbers {
		if _, ok := v.callbackNumber(id); !ok {
			return fmt.Errorf("unknown callback number %s", id)
		}
	}
	if id, ok := v.unknownGroup(rec.Groups); !ok {
		return fmt.Errorf("unknown group %s", id)
	}
	for i, p := range rec.GroupPermissions {
		if aerr := checkGroupPermission(rec.GroupPermissions[:i], p); aerr != nil {
			return aerr
		}
		if _, ok := v.group(p.GroupID); !ok {
			return fmt.Errorf("group permission: unknown group %s", p.GroupID)
		}
	}
	return nil
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
	entries := v.sortedEntries()
	out := make([]VCCUserRecord, len(entries))
	for i, e := range entries {
		out[i] = e.rec.clone()
	}
	return out
}

// SeedDemo fills the account with the demo data: the admin client
// DemoClientID/DemoClientSecret (users:read users:write), the six telephony
// regions of [DemoTelephonyRegions], 32 callback numbers (four named
// DemoCallback…), 40 groups, and users: an agent template (40 skills, 30
// groups, 30 callback numbers, 30 group permissions: more than a page of
// 25 each), a supervisor template, an active agent with agentDisplayId
// 1001, an archived agent with 1003, an admin who does not act as agent
// and a supervisor in two accounts ([DemoMultiAccountUsername]). Both
// templates have a non-default value in every agentConfiguration field.
// The agents use WebRTC with their agent ID as telephone number, as VCC
// advises for WebRTC-only agents. No user has a password.
func (v *VCC) SeedDemo() error {
	if err := v.seedDemo(); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	return nil
}

func (v *VCC) seedDemo() error {
	if err := v.AddClient(VCCClient{ID: DemoClientID, Secret: DemoClientSecret, Scopes: []string{VCCScopeRead, VCCScopeWrite}, Admin: true}); err != nil {
		return err
	}
	if err := v.seedDemoCatalogue(); err != nil {
		return err
	}
	for _, rec := range demoUsers() {
		if _, err := v.AddUser(rec); err != nil {
			return err
		}
	}
	return v.SetAccounts(demoUserID(6), 2)
}

// seedDemoCatalogue adds the demo regions, callback numbers and groups.
func (v *VCC) seedDemoCatalogue() error {
	for _, t := range DemoTelephonyRegions() {
		if err := v.AddTelephonyRegion(t); err != nil {
			return err
		}
	}
	for _, n := range demoCallbackNumbersList() {
		if err := v.AddCallbackNumber(n); err != nil {
			return err
		}
	}
	for n := 1; n <= demoGroups; n++ {
		g := VCCGroup{ID: demoGroupID(n), DisplayID: fmt.Sprint(1100 + n), Name: fmt.Sprintf("Team %02d", n)}
		switch n {
		case 1:
			g.Name = "UK Service"
		case 2:
			g.Name = "Inbound Sales"
		case 3:
			g.Name = "US Supervisors"
		}
		if err := v.AddGroup(g); err != nil {
			return err
		}
	}
	return nil
}

func demoCallbackNumbersList() []VCCCallbackNumber {
	out := []VCCCallbackNumber{
		{ID: DemoCallbackLondon, Name: "London Support", CLID: "+442079460000"},
		{ID: DemoCallbackManchester, Name: "Manchester Sales", CLID: "+441614960000"},
		{ID: DemoCallbackNewYork, Name: "New York Support", CLID: "+12125550100"},
		{ID: DemoCallbackSydney, Name: "Sydney Support", CLID: "+61255500100"},
	}
	for n := 5; n <= demoCallbackNumbers; n++ {
		out = append(out, VCCCallbackNumber{ID: demoCallbackID(n), Name: fmt.Sprintf("London Line %02d", n), CLID: fmt.Sprintf("+442079460%03d", n)})
	}
	return out
}

func demoUserID(n int) string  { return fmt.Sprintf("0b7d4f4e-1c2a-4d8e-9a61-7e0c1a%06d", n) }
func demoSkillID(n int) string { return fmt.Sprintf("7a1e0c55-5b0e-4c7c-8f3a-1d2e%08x", n) }
func demoGroupID(n int) string { return fmt.Sprintf("3f9a2b10-6c4d-4e8f-a1b2-c3d4%08x", n) }
func demoCallbackID(n int) string {
	return fmt.Sprintf("5c1f3f0e-8a51-4a3e-9b1e-0d2a6c1e%04x", 0x0a00+n)
}

func demoUsers() []VCCUserRecord {
	user := func(n int, username, name, role string, active bool, a *VCCAgentConfig) VCCUser {
		return VCCUser{
			UserID: demoUserID(n), Username: username, Name: name, Email: username, Active: active,
			LastLoginTime: "2026-01-05T08:30:00.000Z",
			Config:        VCCAccountConfig{Role: role, Chargeable: role == VCCRoleAgent, ActAsAgent: a != nil, Agent: a},
		}
	}
	return []VCCUserRecord{
		demoAgentTemplate(user(1, DemoAgentTemplateUsername, "Template Agent", VCCRoleAgent, true, demoAgentTemplateConfig())),
		{
			User: user(2, DemoSupervisorTemplateUsername, "Template Supervisor", VCCRoleSupervisor, true, demoSupervisorTemplateConfig()),
			Skills: []VCCSkill{
				{SkillID: demoSkillID(3), Level: 8}, // Escalations
				{SkillID: demoSkillID(4), Level: 5}, // Complaints
			},
			Groups:          []string{demoGroupID(3)},
			CallbackNumbers: []string{DemoCallbackNewYork},
			GroupPermissions: []VCCGroupPermission{
				{GroupID: demoGroupID(3), Permission: VCCGroupPermissionWrite},
				{GroupID: demoGroupID(1), Permission: VCCGroupPermissionRead},
				{GroupID: demoGroupID(2), Permission: VCCGroupPermissionRead},
				{GroupID: demoGroupID(4), Permission: VCCGroupPermissionNone},
			},
		},
		{
			User:   user(3, DemoActiveUsername, "Alice Archer", VCCRoleAgent, true, demoAgent("1001")),
			Skills: []VCCSkill{{SkillID: demoSkillID(1), Level: 4}},
			Groups: []string{demoGroupID(1)},
		},
		{User: user(4, DemoArchivedUsername, "Bob Bennett", VCCRoleAgent, false, demoAgent("1003"))},
		{User: user(5, DemoAdminUsername, "Carol Admin", VCCRoleAdmin, true, nil)},
		{User: user(6, DemoMultiAccountUsername, "Dana Multi", VCCRoleSupervisor, true, nil)},
	}
}

// demoAgentTemplate gives the agent template lists longer than a page.
func demoAgentTemplate(u VCCUser) VCCUserRecord {
	rec := VCCUserRecord{User: u}
	skills := []int{1, 2} // Billing, Technical Support
	for n := 5; len(skills) < DemoAgentTemplateSkills; n++ {
		skills = append(skills, n)
	}
	for _, n := range skills {
		level := 1 + n%8
		switch n {
		case 1:
			level = 6
		case 2:
			level = 3
		}
		rec.Skills = append(rec.Skills, VCCSkill{SkillID: demoSkillID(n), Level: level})
	}
	groups := []int{1, 2} // UK Service, Inbound Sales
	for n := 4; len(groups) < DemoAgentTemplateGroups; n++ {
		groups = append(groups, n)
	}
	perms := []string{VCCGroupPermissionRead, VCCGroupPermissionWrite, VCCGroupPermissionNone}
	for i, n := range groups {
		rec.Groups = append(rec.Groups, demoGroupID(n))
		rec.GroupPermissions = append(rec.GroupPermissions, VCCGroupPermission{GroupID: demoGroupID(n), Permission: perms[i%len(perms)]})
	}
	rec.CallbackNumbers = []string{DemoCallbackLondon, DemoCallbackManchester}
	for n := 5; len(rec.CallbackNumbers) < DemoAgentTemplateCallbackNumbers; n++ {
		rec.CallbackNumbers = append(rec.CallbackNumbers, demoCallbackID(n))
	}
	return rec
}

// demoAgentTemplateConfig sets every agent setting to a non-default value.
func demoAgentTemplateConfig() *VCCAgentConfig {
	return &VCCAgentConfig{
		AgentDisplayID: "9901", WebRTC: true, AgentControlWebRTC: true, HandleMultipleInteractions: true,
		EnforcedDispositionCodes: true, ScreenRecording: true, CallRecordingControls: true,
		TranscribeCalls: true, TranscribeCallsRealTime: true, CallParking: true, Video: true, SalesCadence: true,
		OutboundAutoAnswer: true, InboundAutoAnswer: true, OutboundWrapUp: 120,
		BackToReadyAfterNoAnswer: 30, BackToReadyAfterLineBusy: 45, BackToReadyAfterInvalidNumber: 15, BackToReadyAfterNetworkIssue: 60,
		CallRatingFrequency: 25, Location: "GB",
		TelephonyAddress: VCCTelephonyAddress{
			TelephoneAddress: "9901", TelephonyExtension: "101", OutboundTelephonyRegion: DemoRegionEMEAPrimary,
			NationalDisplay: true, VirtualLocation: "GB", PreventAutoCallbackNumber: true, SelectedCallbackNumberID: DemoCallbackLondon,
		},
		Capacity: VCCCapacity{IsAgentLevel: true, Live: 100, NonLive: 50, SemiLive: 75},
	}
}

// demoSupervisorTemplateConfig sets every agent setting to a non-default
// value, other than the agent template's where the type allows.
func demoSupervisorTemplateConfig() *VCCAgentConfig {
	return &VCCAgentConfig{
		AgentDisplayID: "9902", WebRTC: true, AgentControlWebRTC: true, HandleMultipleInteractions: true,
		EnforcedDispositionCodes: true, ScreenRecording: true, CallRecordingControls: true,
		TranscribeCalls: true, TranscribeCallsRealTime: true, CallParking: true, Video: true, SalesCadence: true,
		OutboundAutoAnswer: true, InboundAutoAnswer: true, OutboundWrapUp: 200,
		BackToReadyAfterNoAnswer: 100, BackToReadyAfterLineBusy: 90, BackToReadyAfterInvalidNumber: 80, BackToReadyAfterNetworkIssue: 5,
		CallRatingFrequency: 50, Location: "US",
		TelephonyAddress: VCCTelephonyAddress{
			TelephoneAddress: "9902", TelephonyExtension: "202", OutboundTelephonyRegion: DemoRegionNAMEast,
			NationalDisplay: true, VirtualLocation: "US", PreventAutoCallbackNumber: true, SelectedCallbackNumberID: DemoCallbackNewYork,
		},
		Capacity: VCCCapacity{IsAgentLevel: true, Live: 80, NonLive: 40, SemiLive: 60},
	}
}

// demoAgent is an ordinary agent's settings: WebRTC with the agent ID as
// telephone number, in EMEA - Primary.
func demoAgent(id string) *VCCAgentConfig {
	return &VCCAgentConfig{
		AgentDisplayID: id, WebRTC: true, AgentControlWebRTC: true, HandleMultipleInteractions: true,
		EnforcedDispositionCodes: true, CallRecordingControls: true, TranscribeCalls: true, CallParking: true,
		Location: "GB",
		TelephonyAddress: VCCTelephonyAddress{
			TelephoneAddress: id, OutboundTelephonyRegion: DemoRegionEMEAPrimary, PreventAutoCallbackNumber: true,
		},
	}
}
