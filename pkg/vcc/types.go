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
// shows it only when actAsAgent is true.
type AgentConfiguration struct {
	AgentDisplayID             string            `json:"agentDisplayId,omitempty"`
	WebRTC                     *bool             `json:"webrtc,omitempty"`
	AgentControlWebRTC         *bool             `json:"agentControlWebrtc,omitempty"`
	HandleMultipleInteractions *bool             `json:"handleMultipleInteractions,omitempty"`
	EnforcedDispositionCodes   *bool             `json:"enforcedDispositionCodes,omitempty"`
	ScreenRecording            *bool             `json:"screenRecording,omitempty"`
	CallRecordingControls      *bool             `json:"callRecordingControls,omitempty"`
	TranscribeCalls            *bool             `json:"transcribeCalls,omitempty"`
	CallParking                *bool             `json:"callParking,omitempty"`
	Video                      *bool             `json:"video,omitempty"`
	Location                   string            `json:"location,omitempty"`
	TelephonyAddress           *TelephonyAddress `json:"telephonyAddress,omitempty"`
	Capacity                   *Capacity         `json:"capacity,omitempty"`
}

// TelephonyAddress is agentConfiguration.telephonyAddress.
type TelephonyAddress struct {
	TelephoneAddress          string `json:"telephoneAddress,omitempty"`
	TelephonyExtension        string `json:"telephonyExtension,omitempty"`
	OutboundTelephonyRegion   string `json:"outboundTelephonyRegion,omitempty"`
	VirtualLocation           string `json:"virtualLocation,omitempty"`
	PreventAutoCallbackNumber *bool  `json:"preventAutoCallbackNumber,omitempty"`
	SelectedCallbackNumberID  string `json:"selectedCallbackNumberId,omitempty"`
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

// UnmarshalJSON accepts "users" or "items".
func (p *UserPage) UnmarshalJSON(b []byte) error {
	var raw struct {
		Meta  PageMeta `json:"meta"`
		Users []User   `json:"users"`
		Items []User   `json:"items"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p.Meta, p.Users = raw.Meta, raw.Users
	if p.Users == nil {
		p.Users = raw.Items
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

// TelephonyRegion is one of the account's telephony regions: the ID that
// telephonyAddress.outboundTelephonyRegion holds, and its name (e.g.
// "EMEA - Primary (11)").
type TelephonyRegion struct {
	TelephonyRegionID string `json:"telephonyRegionId"`
	Name              string `json:"name"`
}

// UserCredential is an API credential (OAuth client) that belongs to a user.
type UserCredential struct {
	ClientID string `json:"clientId"`
}
