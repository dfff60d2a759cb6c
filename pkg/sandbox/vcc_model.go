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

// VCCAgentConfig is userAccountConfiguration.agentConfiguration.
type VCCAgentConfig struct {
	AgentDisplayID             string              `json:"agentDisplayId"`
	WebRTC                     bool                `json:"webrtc"`
	AgentControlWebRTC         bool                `json:"agentControlWebrtc"`
	HandleMultipleInteractions bool                `json:"handleMultipleInteractions"`
	EnforcedDispositionCodes   bool                `json:"enforcedDispositionCodes"`
	ScreenRecording            bool                `json:"screenRecording"`
	CallRecordingControls      bool                `json:"callRecordingControls"`
	TranscribeCalls            bool                `json:"transcribeCalls"`
	CallParking                bool                `json:"callParking"`
	Video                      bool                `json:"video"`
	Location                   string              `json:"location,omitempty"`
	TelephonyAddress           VCCTelephonyAddress `json:"telephonyAddress"`
	Capacity                   VCCCapacity         `json:"capacity"`
}

// VCCTelephonyAddress is agentConfiguration.telephonyAddress.
type VCCTelephonyAddress struct {
	TelephoneAddress          string `json:"telephoneAddress,omitempty"`
	TelephonyExtension        string `json:"telephonyExtension,omitempty"`
	OutboundTelephonyRegion   string `json:"outboundTelephonyRegion,omitempty"`
	VirtualLocation           string `json:"virtualLocation,omitempty"`
	PreventAutoCallbackNumber bool   `json:"preventAutoCallbackNumber"`
	SelectedCallbackNumberID  string `json:"selectedCallbackNumberId,omitempty"`
}

// VCCCapacity is agentConfiguration.capacity: IsAgentLevel false means the
// account's default capacity; true means the agent's own percentages.
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
// of agentConfiguration.telephonyAddress.outboundTelephonyRegion.
type VCCTelephonyRegion struct {
	ID   string `json:"telephonyRegionId"`
	Name string `json:"name"`
}

// VCCUserRecord is a user with its sub-resources: skills, group IDs and
// callback number IDs.
type VCCUserRecord struct {
	User            VCCUser
	Skills          []VCCSkill
	Groups          []string
	CallbackNumbers []string
}

func (r VCCUserRecord) clone() VCCUserRecord {
	r.User = r.User.clone()
	r.Skills = slices.Clone(r.Skills)
	r.Groups = slices.Clone(r.Groups)
	r.CallbackNumbers = slices.Clone(r.CallbackNumbers)
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

// userBody is a POST or PATCH body: every field optional, so absent differs
// from false. Keys match case-insensitively and unknown keys are ignored.
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
	AgentDisplayID             *string               `json:"agentDisplayId"`
	WebRTC                     *bool                 `json:"webrtc"`
	AgentControlWebRTC         *bool                 `json:"agentControlWebrtc"`
	HandleMultipleInteractions *bool                 `json:"handleMultipleInteractions"`
	EnforcedDispositionCodes   *bool                 `json:"enforcedDispositionCodes"`
	ScreenRecording            *bool                 `json:"screenRecording"`
	CallRecordingControls      *bool                 `json:"callRecordingControls"`
	TranscribeCalls            *bool                 `json:"transcribeCalls"`
	CallParking                *bool                 `json:"callParking"`
	Video                      *bool                 `json:"video"`
	Location                   *string               `json:"location"`
	TelephonyAddress           *telephonyAddressBody `json:"telephonyAddress"`
	Capacity                   *capacityBody         `json:"capacity"`
}

type telephonyAddressBody struct {
	TelephoneAddress          *string `json:"telephoneAddress"`
	TelephonyExtension        *string `json:"telephonyExtension"`
	OutboundTelephonyRegion   *string `json:"outboundTelephonyRegion"`
	VirtualLocation           *string `json:"virtualLocation"`
	PreventAutoCallbackNumber *bool   `json:"preventAutoCallbackNumber"`
	SelectedCallbackNumberID  *string `json:"selectedCallbackNumberId"`
}

type capacityBody struct {
	IsAgentLevel *bool `json:"isAgentLevel"`
	Live         *int  `json:"live"`
	NonLive      *int  `json:"nonLive"`
	SemiLive     *int  `json:"semiLive"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// applyTo deep-merges the body into u. agentConfiguration is taken only when
// the user acts as agent afterwards; an Agent always acts as agent. While
// acting as agent is denied the agent settings are kept as they are, and an
// attempt to change the agent ID of a user who has one is refused.
func (b *userBody) applyTo(u *VCCUser) *apiError {
	set(&u.Username, b.Username)
	set(&u.Name, b.Name)
	set(&u.Email, b.Email)
	set(&u.Active, b.Active)
	set(&u.SSOExternalID, b.SSOExternalID)
	if b.Locked != nil {
		if *b.Locked && !u.Locked {
			return apiErrorf(400, "locked can only be cleared: VCC locks a user after failed logins")
		}
		u.Locked = *b.Locked
	}
	c := b.Config
	if c == nil {
		c = &accountConfigBody{}
	}
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
	if a := c.Agent; a != nil {
		g := u.Config.Agent
		set(&g.AgentDisplayID, a.AgentDisplayID)
		set(&g.WebRTC, a.WebRTC)
		set(&g.AgentControlWebRTC, a.AgentControlWebRTC)
		set(&g.HandleMultipleInteractions, a.HandleMultipleInteractions)
		set(&g.EnforcedDispositionCodes, a.EnforcedDispositionCodes)
		set(&g.ScreenRecording, a.ScreenRecording)
		set(&g.CallRecordingControls, a.CallRecordingControls)
		set(&g.TranscribeCalls, a.TranscribeCalls)
		set(&g.CallParking, a.CallParking)
		set(&g.Video, a.Video)
		set(&g.Location, a.Location)
		if t := a.TelephonyAddress; t != nil {
			set(&g.TelephonyAddress.TelephoneAddress, t.TelephoneAddress)
			set(&g.TelephonyAddress.TelephonyExtension, t.TelephonyExtension)
			set(&g.TelephonyAddress.OutboundTelephonyRegion, t.OutboundTelephonyRegion)
			set(&g.TelephonyAddress.VirtualLocation, t.VirtualLocation)
			set(&g.TelephonyAddress.PreventAutoCallbackNumber, t.PreventAutoCallbackNumber)
			set(&g.TelephonyAddress.SelectedCallbackNumberID, t.SelectedCallbackNumberID)
		}
		if k := a.Capacity; k != nil {
			set(&g.Capacity.IsAgentLevel, k.IsAgentLevel)
			set(&g.Capacity.Live, k.Live)
			set(&g.Capacity.NonLive, k.NonLive)
			set(&g.Capacity.SemiLive, k.SemiLive)
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
	AgentGroups *[]groupView `json:"agentGroups"`
}

type groupView struct {
	GroupID string `json:"groupId"`
}

type callbackNumbersBody struct {
	CallbackNumbers *[]struct {
		ID string `json:"callbackNumberId"`
	} `json:"callbackNumbers"`
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
