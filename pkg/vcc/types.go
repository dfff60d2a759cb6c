package vcc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Roles of a VCC user.
const (
	RoleAdmin      = "Admin"
	RoleSupervisor = "Supervisor"
	RoleWallboard  = "Wallboard"
	RoleAgent      = "Agent"
)

// Include values of the user list.
const (
	IncludeActive   = "Active"
	IncludeArchived = "Archived"
	IncludeAll      = "All"
)

// User is a VCC user (User Admin API v4). Optional fields are pointers so a
// PATCH body carries only what it sets ("unset" differs from "false");
// unknown keys in replies are ignored and key matching is case-insensitive
// (older pages spell "nonlive").
type User struct {
	UserID        string                `json:"userId,omitempty"`
	Username      string                `json:"username,omitempty"`
	Name          string                `json:"name,omitempty"`
	Email         string                `json:"email,omitempty"`
	LastLoginTime string                `json:"lastLoginTime,omitempty"`
	Active        *bool                 `json:"active,omitempty"`
	Locked        *bool                 `json:"locked,omitempty"`
	SSOExternalID *string               `json:"ssoExternalId,omitempty"`
	Config        *AccountConfiguration `json:"userAccountConfiguration,omitempty"`
}

// AccountConfiguration is userAccountConfiguration.
type AccountConfiguration struct {
	Role       string              `json:"role,omitempty"`
	Chargeable *bool               `json:"chargeable,omitempty"`
	ActAsAgent *bool               `json:"actAsAgent,omitempty"`
	Agent      *AgentConfiguration `json:"agentConfiguration,omitempty"`
}

// AgentConfiguration is userAccountConfiguration.agentConfiguration; VCC
// shows it only when actAsAgent is true. It has every field of VCC's
// documented user object (Create user, Get users), the ones a template
// user carries beyond the reference's example included: a copy from a
// template must carry them too. Timespans are integer milliseconds.
type AgentConfiguration struct {
	AgentDisplayID             string `json:"agentDisplayId,omitempty"`
	WebRTC                     *bool  `json:"webrtc,omitempty"`
	AgentControlWebRTC         *bool  `json:"agentControlWebrtc,omitempty"`
	HandleMultipleInteractions *bool  `json:"handleMultipleInteractions,omitempty"`
	EnforcedDispositionCodes   *bool  `json:"enforcedDispositionCodes,omitempty"`
	TranscribeCalls            *bool  `json:"transcribeCalls,omitempty"`
	ScreenRecording            *bool  `json:"screenRecording,omitempty"`
	CallParking                *bool  `json:"callParking,omitempty"`
	// SalesCadence turns Cadence on for the agent.
	SalesCadence *bool `json:"salesCadence,omitempty"`
	// OutboundAutoAnswer and InboundAutoAnswer answer the agent's outbound
	// and inbound calls automatically. VCC spells them with a lower-case
	// "answer"; keys are matched case-insensitively on decode.
	OutboundAutoAnswer *bool `json:"outboundAutoanswer,omitempty"`
	InboundAutoAnswer  *bool `json:"inboundAutoanswer,omitempty"`
	// OutboundWrapUp is the wrap-up time after an outbound call.
	OutboundWrapUp *int `json:"outboundWrapUp,omitempty"`
	// The BackToReadyAfter… fields are how long the agent stays out of
	// Ready after an outbound call that was not answered, met a busy line,
	// an invalid number or a network issue.
	BackToReadyAfterNoAnswer      *int `json:"backToReadyAfterNoAnswer,omitempty"`
	BackToReadyAfterLineBusy      *int `json:"backToReadyAfterLineBusy,omitempty"`
	BackToReadyAfterInvalidNumber *int `json:"backToReadyAfterInvalidNumber,omitempty"`
	BackToReadyAfterNetworkIssue  *int `json:"backToReadyAfterNetworkIssue,omitempty"`
	// CallRatingFrequency is how often (a percentage of calls) the agent is
	// asked to rate the call quality.
	CallRatingFrequency     *int              `json:"callRatingFrequency,omitempty"`
	Video                   *bool             `json:"video,omitempty"`
	TranscribeCallsRealTime *bool             `json:"transcribeCallsRealTime,omitempty"`
	CallRecordingControls   *bool             `json:"callRecordingControls,omitempty"`
	Location                string            `json:"location,omitempty"`
	TelephonyAddress        *TelephonyAddress `json:"telephonyAddress,omitempty"`
	Capacity                *Capacity         `json:"capacity,omitempty"`
	// AssociatedUsers links the user to users of other Vonage applications
	// (e.g. VBC). They belong to this user: not a template field.
	AssociatedUsers []AssociatedUser `json:"associatedUsers,omitempty"`
}

// TelephonyAddress is agentConfiguration.telephonyAddress.
type TelephonyAddress struct {
	TelephoneAddress   string `json:"telephoneAddress,omitempty"`
	TelephonyExtension string `json:"telephonyExtension,omitempty"`
	// OutboundTelephonyRegion is the GUID of a telephony region. VCC has no
	// endpoint that lists them: see Client.RegionsInUse.
	OutboundTelephonyRegion string `json:"outboundTelephonyRegion,omitempty"`
	// NationalDisplay shows outbound numbers in national format.
	NationalDisplay           *bool  `json:"nationalDisplay,omitempty"`
	VirtualLocation           string `json:"virtualLocation,omitempty"`
	PreventAutoCallbackNumber *bool  `json:"preventAutoCallbackNumber,omitempty"`
	SelectedCallbackNumberID  string `json:"selectedCallbackNumberId,omitempty"`
}

// AssociatedUser is a user of another Vonage application linked to a VCC
// user.
type AssociatedUser struct {
	Username        string `json:"username,omitempty"`
	ApplicationType string `json:"applicationType,omitempty"` // e.g. "VBC"
}

// Capacity is the agent's interaction capacity. IsAgentLevel false means the
// account's default capacity applies.
type Capacity struct {
	IsAgentLevel *bool `json:"isAgentLevel,omitempty"`
	Live         *int  `json:"live,omitempty"`
	NonLive      *int  `json:"nonLive,omitempty"`
	SemiLive     *int  `json:"semiLive,omitempty"`
}

// IsActive reports whether the user is active (VCC omits nothing here in
// practice; a missing flag counts as active).
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// AgentDisplayID returns the agent ID, or "" when none is set.
func (u *User) AgentDisplayID() string {
	if u.Config == nil || u.Config.Agent == nil {
		return ""
	}
	return u.Config.Agent.AgentDisplayID
}

// SSO returns ssoExternalId, or "" when unset.
func (u *User) SSO() string {
	if u.SSOExternalID == nil {
		return ""
	}
	return *u.SSOExternalID
}

// UserPage is one page of GET /users. VCC documents the list under "users";
// some pages show "items": both are accepted.
type UserPage struct {
	Meta  PageMeta `json:"meta"`
	Users []User   `json:"users"`
}

// PageMeta is the paging block of a list reply.
type PageMeta struct {
	Page       int `json:"page"`
	Count      int `json:"count"`
	PageCount  int `json:"pageCount"`
	TotalCount int `json:"totalCount"`
}

// UnmarshalJSON accepts the list under "users" or "items" (keys matched
// case-insensitively) or a bare array, as every list of the client does;
// a bare array has no meta (ForEachUser then reads on while pages come
// back full).
func (p *UserPage) UnmarshalJSON(b []byte) error {
	pg, err := decodePage(b, "users")
	if err != nil {
		return err
	}
	*p = UserPage{}
	if pg.meta != nil {
		p.Meta = *pg.meta
	}
	if pg.hasList {
		return json.Unmarshal(pg.items, &p.Users)
	}
	return nil
}

// Skill is an agent's skill with its level.
type Skill struct {
	SkillID string     `json:"skillId"`
	Level   SkillLevel `json:"agentSkillLevel"`
}

// SkillLevel is a skill level. VCC's GET shows it as a string ("6"), PUT
// takes a number: both decode; it encodes as a number.
type SkillLevel int

// UnmarshalJSON accepts 6 and "6".
func (l *SkillLevel) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(bytes.TrimSpace(b), `"`))
	if s == "" || s == "null" {
		*l = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("agentSkillLevel %s: not a number", b)
	}
	*l = SkillLevel(n)
	return nil
}

// Group is an agent's group membership.
type Group struct {
	GroupID string `json:"groupId"`
}

// CallbackNumberRef is a callback number assigned to a user.
type CallbackNumberRef struct {
	CallbackNumberID string `json:"callbackNumberId"`
}

// CallbackNumber is one of the account's outbound CLIDs.
type CallbackNumber struct {
	CallbackNumberID   string `json:"callbackNumberId"`
	CallbackNumberName string `json:"callbackNumberName"`
	CallbackNumberClid string `json:"callbackNumberClid"`
}

// Bool returns a pointer to b, for PATCH bodies.
func Bool(b bool) *bool { return &b }

// String returns a pointer to s, for PATCH bodies.
func String(s string) *string { return &s }

// GroupPermission is a supervisor's permission on a group
// (/users/{userId}/permissions/groups).
type GroupPermission struct {
	GroupID    string `json:"groupId"`
	Permission string `json:"groupPermission"` // PermissionNone, PermissionRead or PermissionWrite
}

// Group permissions.
const (
	PermissionNone  = "None"
	PermissionRead  = "Read"
	PermissionWrite = "Write"
)

// Int returns a pointer to n, for PATCH bodies.
func Int(n int) *int { return &n }

// RegionUse is one telephony region in use in the account (see
// Client.RegionsInUse).
type RegionUse struct {
	// Region is the GUID users carry in
	// telephonyAddress.outboundTelephonyRegion.
	Region string `json:"region"`
	// Users is how many users (active and archived) carry it.
	Users int `json:"users"`
	// Examples are up to three of their usernames, for an operator to
	// recognise the region by.
	Examples []string `json:"examples"`
}
