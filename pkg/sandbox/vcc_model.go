package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Roles of a VCC user.
const (
	VCCRoleAdmin      = "Admin"
	VCCRoleSupervisor = "Supervisor"
	VCCRoleWallboard  = "Wallboard"
	VCCRoleAgent      = "Agent"
)

var vccRoles = []string{VCCRoleAdmin, VCCRoleSupervisor, VCCRoleWallboard, VCCRoleAgent}

// Group permission levels (groupPermission of /users/{userId}/permissions/groups).
const (
	VCCGroupPermissionNone  = "None"
	VCCGroupPermissionRead  = "Read"
	VCCGroupPermissionWrite = "Write"
)

var vccGroupPermissions = []string{VCCGroupPermissionNone, VCCGroupPermissionRead, VCCGroupPermissionWrite}

// VCCUser is a VCC user in the v4 shape of the User Admin API.
// Config.Agent is kept when actAsAgent is turned off (the agent ID stays
// taken) but the API shows it only while actAsAgent is true.
type VCCUser struct {
	UserID        string           `json:"userId"`
	Username      string           `json:"username"`
	Name          string           `json:"name"`
	Email         string           `json:"email"`
	LastLoginTime string           `json:"lastLoginTime,omitempty"`
	Active        bool             `json:"active"`
	Locked        bool             `json:"locked"`
	SSOExternalID string           `json:"ssoExternalId,omitempty"`
	Config        VCCAccountConfig `json:"userAccountConfiguration"`
}

// VCCAccountConfig is userAccountConfiguration.
type VCCAccountConfig struct {
	Role       string          `json:"role"`
	Chargeable bool            `json:"chargeable"`
	ActAsAgent bool            `json:"actAsAgent"`
	Agent      *VCCAgentConfig `json:"agentConfiguration,omitempty"`
}

// VCCAgentConfig is userAccountConfiguration.agentConfiguration, every
// field VCC documents for it (the user object of Get user by user ID and
// Create user, VCC API docs space VCCA) except associatedUsers. Timespans
// (outboundWrapUp, backToReadyAfter…) are whole numbers as VCC shows them.
type VCCAgentConfig struct {
	AgentDisplayID                string              `json:"agentDisplayId"`
	WebRTC                        bool                `json:"webrtc"`
	AgentControlWebRTC            bool                `json:"agentControlWebrtc"`
	HandleMultipleInteractions    bool                `json:"handleMultipleInteractions"`
	EnforcedDispositionCodes      bool                `json:"enforcedDispositionCodes"`
	ScreenRecording               bool                `json:"screenRecording"`
	CallRecordingControls         bool                `json:"callRecordingControls"`
	TranscribeCalls               bool                `json:"transcribeCalls"`
	TranscribeCallsRealTime       bool                `json:"transcribeCallsRealTime"`
	CallParking                   bool                `json:"callParking"`
	Video                         bool                `json:"video"`
	SalesCadence                  bool                `json:"salesCadence"`
	OutboundAutoAnswer            bool                `json:"outboundAutoanswer"`
	InboundAutoAnswer             bool                `json:"inboundAutoanswer"`
	OutboundWrapUp                int                 `json:"outboundWrapUp"`
	BackToReadyAfterNoAnswer      int                 `json:"backToReadyAfterNoAnswer"`
	BackToReadyAfterLineBusy      int                 `json:"backToReadyAfterLineBusy"`
	BackToReadyAfterInvalidNumber int                 `json:"backToReadyAfterInvalidNumber"`
	BackToReadyAfterNetworkIssue  int                 `json:"backToReadyAfterNetworkIssue"`
	CallRatingFrequency           int                 `json:"callRatingFrequency"`
	Location                      string              `json:"location,omitempty"`
	TelephonyAddress              VCCTelephonyAddress `json:"telephonyAddress"`
	Capacity                      VCCCapacity         `json:"capacity"`
}

// VCCTelephonyAddress is agentConfiguration.telephonyAddress.
type VCCTelephonyAddress struct {
	TelephoneAddress          string `json:"telephoneAddress,omitempty"`
	TelephonyExtension        string `json:"telephonyExtension,omitempty"`
	OutboundTelephonyRegion   string `json:"outboundTelephonyRegion,omitempty"`
	NationalDisplay           bool   `json:"nationalDisplay"`
	VirtualLocation           string `json:"virtualLocation,omitempty"`
	PreventAutoCallbackNumber bool   `json:"preventAutoCallbackNumber"`
	SelectedCallbackNumberID  string `json:"selectedCallbackNumberId,omitempty"`
}

// VCCCapacity is agentConfiguration.capacity: IsAgentLevel false means the
// account's default capacity; true means the agent's own percentages.
// Older pages spell nonlive and semilive; keys are decoded
// case-insensitively.
type VCCCapacity struct {
	IsAgentLevel bool `json:"isAgentLevel"`
	Live         int  `json:"live"`
	NonLive      int  `json:"nonLive"`
	SemiLive     int  `json:"semiLive"`
}

// VCCSkill is one of an agent's skills with its level.
type VCCSkill struct {
	SkillID string
	Level   int
}

// VCCCallbackNumber is one of the account's outbound CLIDs.
type VCCCallbackNumber struct {
	ID   string `json:"callbackNumberId"`
	Name string `json:"callbackNumberName"`
	CLID string `json:"callbackNumberClid"`
}

// VCCTelephonyRegion is one of the account's telephony regions, the values
// of agentConfiguration.telephonyAddress.outboundTelephonyRegion. VCC has
// no endpoint that lists them: they are seeded through Go only.
type VCCTelephonyRegion struct {
	ID   string
	Name string
}

// VCCGroup is one of the account's groups.
type VCCGroup struct {
	ID        string // groupId
	DisplayID string // groupDisplayId
	Name      string // groupName
}

// VCCGroupPermission is a user's access level to one group.
type VCCGroupPermission struct {
	GroupID    string
	Permission string // VCCGroupPermissionNone, …Read or …Write
}

// VCCUserRecord is a user with its sub-resources: skills, group IDs,
// callback number IDs and group permissions, each in the order last put.
type VCCUserRecord struct {
	User             VCCUser
	Skills           []VCCSkill
	Groups           []string
	CallbackNumbers  []string
	GroupPermissions []VCCGroupPermission
}

func (r VCCUserRecord) clone() VCCUserRecord {
	r.User = r.User.clone()
	r.Skills = slices.Clone(r.Skills)
	r.Groups = slices.Clone(r.Groups)
	r.CallbackNumbers = slices.Clone(r.CallbackNumbers)
	r.GroupPermissions = slices.Clone(r.GroupPermissions)
	return r
}

func (u VCCUser) clone() VCCUser {
	if u.Config.Agent != nil {
		a := *u.Config.Agent
		u.Config.Agent = &a
	}
	return u
}

// view is the user as the API shows it.
func (u VCCUser) view() VCCUser {
	u = u.clone()
	if !u.Config.ActAsAgent {
		u.Config.Agent = nil
	}
	return u
}

func (u VCCUser) agentID() string {
	if u.Config.Agent == nil {
		return ""
	}
	return u.Config.Agent.AgentDisplayID
}

func (u VCCUser) phone() string {
	if u.Config.Agent == nil {
		return ""
	}
	return u.Config.Agent.TelephonyAddress.TelephoneAddress
}

func (u VCCUser) region() string {
	if u.Config.Agent == nil {
		return ""
	}
	return u.Config.Agent.TelephonyAddress.OutboundTelephonyRegion
}

func (u VCCUser) selectedCallbackNumber() string {
	if u.Config.Agent == nil {
		return ""
	}
	return u.Config.Agent.TelephonyAddress.SelectedCallbackNumberID
}

// webrtcWithoutPhone reports whether the user acts as agent with WebRTC on
// but no telephone number to fall back on.
func (u VCCUser) webrtcWithoutPhone() bool {
	return u.Config.ActAsAgent && u.Config.Agent != nil && u.Config.Agent.WebRTC &&
		strings.TrimSpace(u.Config.Agent.TelephonyAddress.TelephoneAddress) == ""
}

// usesLicence reports whether the user takes an agent licence.
func (u VCCUser) usesLicence() bool {
	return u.Active && u.Config.Chargeable && u.Config.Role == VCCRoleAgent
}

// userBody is a POST or PATCH body: every scalar optional, so absent
// differs from false. Keys match case-insensitively and unknown keys are
// ignored. telephonyAddress and capacity are whole objects: given, they
// replace the stored one.
type userBody struct {
	Username      *string            `json:"username"`
	Name          *string            `json:"name"`
	Email         *string            `json:"email"`
	Active        *bool              `json:"active"`
	Locked        *bool              `json:"locked"`
	SSOExternalID *string            `json:"ssoExternalId"`
	Config        *accountConfigBody `json:"userAccountConfiguration"`
}

type accountConfigBody struct {
	Role       *string          `json:"role"`
	Chargeable *bool            `json:"chargeable"`
	ActAsAgent *bool            `json:"actAsAgent"`
	Agent      *agentConfigBody `json:"agentConfiguration"`
}

type agentConfigBody struct {
	AgentDisplayID                *string              `json:"agentDisplayId"`
	WebRTC                        *bool                `json:"webrtc"`
	AgentControlWebRTC            *bool                `json:"agentControlWebrtc"`
	HandleMultipleInteractions    *bool                `json:"handleMultipleInteractions"`
	EnforcedDispositionCodes      *bool                `json:"enforcedDispositionCodes"`
	ScreenRecording               *bool                `json:"screenRecording"`
	CallRecordingControls         *bool                `json:"callRecordingControls"`
	TranscribeCalls               *bool                `json:"transcribeCalls"`
	TranscribeCallsRealTime       *bool                `json:"transcribeCallsRealTime"`
	CallParking                   *bool                `json:"callParking"`
	Video                         *bool                `json:"video"`
	SalesCadence                  *bool                `json:"salesCadence"`
	OutboundAutoAnswer            *bool                `json:"outboundAutoanswer"`
	InboundAutoAnswer             *bool                `json:"inboundAutoanswer"`
	OutboundWrapUp                *int                 `json:"outboundWrapUp"`
	BackToReadyAfterNoAnswer      *int                 `json:"backToReadyAfterNoAnswer"`
	BackToReadyAfterLineBusy      *int                 `json:"backToReadyAfterLineBusy"`
	BackToReadyAfterInvalidNumber *int                 `json:"backToReadyAfterInvalidNumber"`
	BackToReadyAfterNetworkIssue  *int                 `json:"backToReadyAfterNetworkIssue"`
	CallRatingFrequency           *int                 `json:"callRatingFrequency"`
	Location                      *string              `json:"location"`
	TelephonyAddress              *VCCTelephonyAddress `json:"telephonyAddress"`
	Capacity                      *VCCCapacity         `json:"capacity"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// errLockedReadOnly refuses a body that sets locked. VCC documents locked
// as set by failed logins and cleared by POST /users/{userId}/unlock; it
// does not say a PATCH may change it, so the sandbox refuses (strict).
var errLockedReadOnly = apiErrorf(400, "locked is read-only: unlock with POST /users/{userId}/unlock")

// applyTo merges the body into u: top-level, userAccountConfiguration and
// agentConfiguration scalars change only when present; telephonyAddress
// and capacity are replaced whole.
func (b *userBody) applyTo(u *VCCUser) *apiError {
	if b.Locked != nil {
		return errLockedReadOnly
	}
	set(&u.Username, b.Username)
	set(&u.Name, b.Name)
	set(&u.Email, b.Email)
	set(&u.Active, b.Active)
	set(&u.SSOExternalID, b.SSOExternalID)
	c := b.Config
	if c == nil {
		c = &accountConfigBody{}
	}
	return c.applyTo(u)
}

// applyTo merges userAccountConfiguration. agentConfiguration is taken only
// when the user acts as agent afterwards; an Agent always acts as agent.
// While acting as agent is denied the agent settings are kept as they are,
// and an attempt to change the agent ID of a user who has one is refused.
func (c *accountConfigBody) applyTo(u *VCCUser) *apiError {
	if c.Role != nil {
		u.Config.Role = *c.Role
		for _, r := range vccRoles {
			if strings.EqualFold(r, *c.Role) {
				u.Config.Role = r
			}
		}
	}
	set(&u.Config.Chargeable, c.Chargeable)
	set(&u.Config.ActAsAgent, c.ActAsAgent)
	if u.Config.Role == VCCRoleAgent {
		if c.ActAsAgent != nil && !*c.ActAsAgent {
			return apiErrorf(400, "userAccountConfiguration.actAsAgent cannot be false for a user with role Agent")
		}
		u.Config.ActAsAgent = true
	}
	if !u.Config.ActAsAgent {
		if id := u.agentID(); id != "" && c.Agent != nil && c.Agent.AgentDisplayID != nil && *c.Agent.AgentDisplayID != id {
			return apiErrorf(400, "agentDisplayId cannot be changed once set (it is %s)", id)
		}
		return nil
	}
	if u.Config.Agent == nil {
		u.Config.Agent = &VCCAgentConfig{}
	}
	if c.Agent != nil {
		c.Agent.applyTo(u.Config.Agent)
	}
	return nil
}

// applyTo merges the agent settings into g. telephonyAddress and capacity
// replace the stored objects (fields left out become empty): VCC does not
// document whether a partial nested object is merged, so the sandbox takes
// the strict reading and a client must send the whole object.
func (a *agentConfigBody) applyTo(g *VCCAgentConfig) {
	set(&g.AgentDisplayID, a.AgentDisplayID)
	set(&g.WebRTC, a.WebRTC)
	set(&g.AgentControlWebRTC, a.AgentControlWebRTC)
	set(&g.HandleMultipleInteractions, a.HandleMultipleInteractions)
	set(&g.EnforcedDispositionCodes, a.EnforcedDispositionCodes)
	set(&g.ScreenRecording, a.ScreenRecording)
	set(&g.CallRecordingControls, a.CallRecordingControls)
	set(&g.TranscribeCalls, a.TranscribeCalls)
	set(&g.TranscribeCallsRealTime, a.TranscribeCallsRealTime)
	set(&g.CallParking, a.CallParking)
	set(&g.Video, a.Video)
	set(&g.SalesCadence, a.SalesCadence)
	set(&g.OutboundAutoAnswer, a.OutboundAutoAnswer)
	set(&g.InboundAutoAnswer, a.InboundAutoAnswer)
	set(&g.OutboundWrapUp, a.OutboundWrapUp)
	set(&g.BackToReadyAfterNoAnswer, a.BackToReadyAfterNoAnswer)
	set(&g.BackToReadyAfterLineBusy, a.BackToReadyAfterLineBusy)
	set(&g.BackToReadyAfterInvalidNumber, a.BackToReadyAfterInvalidNumber)
	set(&g.BackToReadyAfterNetworkIssue, a.BackToReadyAfterNetworkIssue)
	set(&g.CallRatingFrequency, a.CallRatingFrequency)
	set(&g.Location, a.Location)
	set(&g.TelephonyAddress, a.TelephonyAddress)
	set(&g.Capacity, a.Capacity)
}

// checkAgentNumbers applies the range rules of the agent's numeric
// settings: capacity and callRatingFrequency are percentages (0 to 100;
// callRatingFrequency's range is not documented, a strict choice), the
// timespans cannot be negative.
func checkAgentNumbers(a *VCCAgentConfig) *apiError {
	const prefix = "userAccountConfiguration.agentConfiguration."
	for _, c := range []struct {
		name string
		n    int
	}{
		{"capacity.live", a.Capacity.Live}, {"capacity.nonLive", a.Capacity.NonLive},
		{"capacity.semiLive", a.Capacity.SemiLive}, {"callRatingFrequency", a.CallRatingFrequency},
	} {
		if c.n < 0 || c.n > 100 {
			return apiErrorf(400, prefix+"%s must be a percentage between 0 and 100", c.name)
		}
	}
	for _, c := range []struct {
		name string
		n    int
	}{
		{"outboundWrapUp", a.OutboundWrapUp}, {"backToReadyAfterNoAnswer", a.BackToReadyAfterNoAnswer},
		{"backToReadyAfterLineBusy", a.BackToReadyAfterLineBusy}, {"backToReadyAfterInvalidNumber", a.BackToReadyAfterInvalidNumber},
		{"backToReadyAfterNetworkIssue", a.BackToReadyAfterNetworkIssue},
	} {
		if c.n < 0 {
			return apiErrorf(400, prefix+"%s cannot be negative", c.name)
		}
	}
	return nil
}

// skillLevel decodes a level given as a JSON number or a numeric string.
type skillLevel int

func (l *skillLevel) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("agentSkillLevel %s is not a whole number", b)
	}
	*l = skillLevel(n)
	return nil
}

type skillsBody struct {
	AgentSkills *[]struct {
		SkillID string     `json:"skillId"`
		Level   skillLevel `json:"agentSkillLevel"`
	} `json:"agentSkills"`
}

type skillView struct {
	SkillID string `json:"skillId"`
	Level   string `json:"agentSkillLevel"`
}

type groupsBody struct {
	AgentGroups *[]struct {
		GroupID string `json:"groupId"`
	} `json:"agentGroups"`
}

type groupView struct {
	GroupID   string `json:"groupId"`
	DisplayID string `json:"groupDisplayId,omitempty"`
	Name      string `json:"groupName,omitempty"`
}

type callbackNumbersBody struct {
	CallbackNumbers *[]struct {
		ID string `json:"callbackNumberId"`
	} `json:"callbackNumbers"`
}

type groupPermissionsBody struct {
	GroupPermissions *[]struct {
		GroupID    string `json:"groupId"`
		Permission string `json:"groupPermission"`
	} `json:"groupPermissions"`
}

type groupPermissionView struct {
	groupView
	Permission string `json:"groupPermission"`
}

func decodeJSON(b []byte, dst any) *apiError {
	if len(bytes.TrimSpace(b)) == 0 {
		return apiErrorf(400, "Invalid request body: the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		return apiErrorf(400, "Invalid request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apiErrorf(400, "Invalid request body: unexpected data after the JSON value")
	}
	return nil
}
