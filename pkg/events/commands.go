package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Admin command actions (type vccsync.command.<action>, subject
// vccsync.user.<SalesforceUserId>.cmd.<action>).
const (
	ActionArchive                     = "archive"
	ActionReactivate                  = "reactivate"
	ActionDelete                      = "delete"
	ActionSetTelephonyRegion          = "set-telephony-region"
	ActionSetCallbackNumbers          = "set-callback-numbers"
	ActionSetWebRTC                   = "set-webrtc"
	ActionSetEnforcedDispositionCodes = "set-enforced-disposition-codes"
	ActionSetCallRecordingControl     = "set-call-recording-control"
	ActionSetScreenRecording          = "set-screen-recording"
	ActionSetInteractionCapacity      = "set-interaction-capacity"
	ActionSetSkillLevel               = "set-skill-level"
	ActionAllowActAsAgent             = "allow-act-as-agent"
	ActionUnlock                      = "unlock"
	ActionResetPassword               = "reset-password"
	ActionResync                      = "resync"
	ActionChangeAlias                 = "change-alias"
)

// Actions lists every admin command action.
var Actions = []string{
	ActionArchive, ActionReactivate, ActionDelete, ActionSetTelephonyRegion, ActionSetCallbackNumbers,
	ActionSetWebRTC, ActionSetEnforcedDispositionCodes, ActionSetCallRecordingControl, ActionSetScreenRecording,
	ActionSetInteractionCapacity, ActionSetSkillLevel, ActionAllowActAsAgent, ActionUnlock, ActionResetPassword,
	ActionChangeAlias, ActionResync,
}

// MinSkillLevel and MaxSkillLevel bound a skill level (VCC's slider).
const (
	MinSkillLevel = 1
	MaxSkillLevel = 10
)

// CommandParams are the parameters of every action; each action uses some
// and refuses the others. They travel in the command's data next to
// requestedBy and reason.
type CommandParams struct {
	// delete
	Confirm bool `json:"confirm,omitempty"`
	// set-telephony-region: a region's name or number ("EMEA - Primary (11)",
	// "EMEA - Primary", "11", "NAM EAST", "Default").
	Region string `json:"region,omitempty"`
	// set-callback-numbers: callback number IDs or CLIDs, or all, or clear.
	CallbackNumbers []string `json:"callbackNumbers,omitempty"`
	All             bool     `json:"all,omitempty"`
	Clear           bool     `json:"clear,omitempty"`
	// set-webrtc, set-enforced-disposition-codes, set-call-recording-control,
	// set-screen-recording, allow-act-as-agent: yes or no.
	Enabled *bool `json:"enabled,omitempty"`
	// set-webrtc: the agent's phone number (unique in the account), or
	// WebRTCOnly to use the agent ID as the number.
	PhoneNumber string `json:"phoneNumber,omitempty"`
	WebRTCOnly  bool   `json:"webrtcOnly,omitempty"`
	// set-interaction-capacity: percentages per interaction type, or Default
	// for the account's settings.
	Live     *int `json:"live,omitempty"`
	NonLive  *int `json:"nonLive,omitempty"`
	SemiLive *int `json:"semiLive,omitempty"`
	Default  bool `json:"default,omitempty"`
	// set-skill-level: a skill ID and a level.
	Skill string `json:"skill,omitempty"`
	Level int    `json:"level,omitempty"`
	// allow-act-as-agent: the agent ID for the first grant (else Salesforce's
	// NVM Agent Id, else the next free one).
	AgentID string `json:"agentId,omitempty"`
	// change-alias: the new Salesforce alias (1-8 of A-Z a-z 0-9 _ . -).
	Alias string `json:"alias,omitempty"`
}

// commandData is a command's data: who, why and the parameters.
type commandData struct {
	RequestedBy string `json:"requestedBy"`
	Reason      string `json:"reason,omitempty"`
	CommandParams
}

// Params decodes and validates the command's parameters for its action.
func (c *Command) Params() (CommandParams, error) {
	var d commandData
	dec := json.NewDecoder(bytes.NewReader(c.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return CommandParams{}, fmt.Errorf("data: %s: %w", c.Action, cleanJSONError(err))
	}
	return d.CommandParams, ValidateCommand(c.Action, d.CommandParams)
}

func cleanJSONError(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown parameter %s", msg)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: got JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return err
}

// used lists the parameters each action takes; any other set parameter is
// refused.
var used = map[string][]string{
	ActionArchive: nil, ActionReactivate: nil, ActionUnlock: nil, ActionResetPassword: nil, ActionResync: nil,
	ActionDelete:                      {"confirm"},
	ActionSetTelephonyRegion:          {"region"},
	ActionSetCallbackNumbers:          {"callbackNumbers", "all", "clear"},
	ActionSetWebRTC:                   {"enabled", "phoneNumber", "webrtcOnly"},
	ActionSetEnforcedDispositionCodes: {"enabled"},
	ActionSetCallRecordingControl:     {"enabled"},
	ActionSetScreenRecording:          {"enabled"},
	ActionSetInteractionCapacity:      {"live", "nonLive", "semiLive", "default"},
	ActionSetSkillLevel:               {"skill", "level"},
	ActionAllowActAsAgent:             {"enabled", "agentId"},
	ActionChangeAlias:                 {"alias"},
}

// set returns the names of the parameters p sets.
func (p CommandParams) set() []string {
	var s []string
	add := func(name string, ok bool) {
		if ok {
			s = append(s, name)
		}
	}
	add("confirm", p.Confirm)
	add("region", p.Region != "")
	add("callbackNumbers", len(p.CallbackNumbers) > 0)
	add("all", p.All)
	add("clear", p.Clear)
	add("enabled", p.Enabled != nil)
	add("phoneNumber", p.PhoneNumber != "")
	add("webrtcOnly", p.WebRTCOnly)
	add("live", p.Live != nil)
	add("nonLive", p.NonLive != nil)
	add("semiLive", p.SemiLive != nil)
	add("default", p.Default)
	add("skill", p.Skill != "")
	add("level", p.Level != 0)
	add("agentId", p.AgentID != "")
	add("alias", p.Alias != "")
	return s
}

// ValidateCommand checks an action's parameters: the action is known, no
// parameter of another action is set, and each rule an operator can get
// wrong is checked here, before anything reaches VCC.
func ValidateCommand(action string, p CommandParams) error {
	allowed, ok := used[action]
	if !ok {
		return fmt.Errorf("type: unknown action %q; actions: %s", action, strings.Join(Actions, ", "))
	}
	var errs fieldErrors
	for _, name := range p.set() {
		if !slices.Contains(allowed, name) {
			errs.add("data."+name, fmt.Sprintf("not a parameter of %s", action))
		}
	}
	needEnabled := func() {
		if p.Enabled == nil {
			errs.add("data.enabled", fmt.Sprintf("%s needs enabled: true or false", action))
		}
	}
	switch action {
	case ActionDelete:
		if !p.Confirm {
			errs.add("data.confirm", "delete needs confirm: true (deleting a VCC user cannot be undone)")
		}
	case ActionSetTelephonyRegion:
		if _, err := LookupTelephonyRegion(p.Region); err != nil {
			errs.add("data.region", err.Error())
		}
	case ActionSetCallbackNumbers:
		n := 0
		for _, b := range []bool{len(p.CallbackNumbers) > 0, p.All, p.Clear} {
			if b {
				n++
			}
		}
		if n != 1 {
			errs.add("data", "set-callback-numbers needs exactly one of callbackNumbers, all or clear")
		}
		for i, id := range p.CallbackNumbers {
			if strings.TrimSpace(id) == "" {
				errs.add(fmt.Sprintf("data.callbackNumbers[%d]", i), "empty")
			}
		}
	case ActionSetWebRTC:
		needEnabled()
		if p.PhoneNumber != "" && p.WebRTCOnly {
			errs.add("data.webrtcOnly", "give a phoneNumber or webrtcOnly, not both")
		}
		if p.Enabled != nil && !*p.Enabled && (p.PhoneNumber != "" || p.WebRTCOnly) {
			errs.add("data.phoneNumber", "a phone number is set only when enabling WebRTC")
		}
		if p.PhoneNumber != "" && !isPhoneNumber(p.PhoneNumber) {
			errs.add("data.phoneNumber", fmt.Sprintf("%q is not a phone number (digits, optionally a leading +)", p.PhoneNumber))
		}
	case ActionSetEnforcedDispositionCodes, ActionSetCallRecordingControl, ActionSetScreenRecording:
		needEnabled()
	case ActionAllowActAsAgent:
		needEnabled()
		if p.AgentID != "" && !isDigits(p.AgentID) {
			errs.add("data.agentId", fmt.Sprintf("%q is not a numeric agent ID", p.AgentID))
		}
	case ActionSetInteractionCapacity:
		custom := p.Live != nil || p.NonLive != nil || p.SemiLive != nil
		switch {
		case custom && p.Default:
			errs.add("data.default", "give percentages or default, not both")
		case !custom && !p.Default:
			errs.add("data", "set-interaction-capacity needs live, nonLive and semiLive percentages, or default")
		case custom:
			for _, f := range []struct {
				name string
				v    *int
			}{{"live", p.Live}, {"nonLive", p.NonLive}, {"semiLive", p.SemiLive}} {
				switch {
				case f.v == nil:
					errs.add("data."+f.name, "missing: a custom capacity sets all three percentages")
				case *f.v < 0 || *f.v > 100:
					errs.add("data."+f.name, fmt.Sprintf("%d%%, want 0 to 100", *f.v))
				}
			}
		}
	case ActionChangeAlias:
		if err := CheckAlias(p.Alias); err != nil {
			errs.add("data.alias", err.Error())
		}
	case ActionSetSkillLevel:
		if strings.TrimSpace(p.Skill) == "" {
			errs.add("data.skill", "missing: the skill ID")
		}
		if p.Level < MinSkillLevel || p.Level > MaxSkillLevel {
			errs.add("data.level", fmt.Sprintf("%d, want %d to %d", p.Level, MinSkillLevel, MaxSkillLevel))
		}
	}
	return errs.err()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func isPhoneNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	return len(s) >= 3 && len(s) <= 20 && isDigits(s)
}

// TelephonyRegion is one of VCC's telephony regions (seed 003).
type TelephonyRegion struct {
	Name   string // as VCC shows it, e.g. "EMEA - Primary (11)"
	Number string // the number in brackets, or "Default"
}

// TelephonyRegions are the regions an agent's outbound calls can use.
var TelephonyRegions = []TelephonyRegion{
	{"EMEA - Primary (11)", "11"},
	{"EMEA - Secondary (8)", "8"},
	{"NAM EAST (Default)", "Default"},
	{"NAM WEST (16)", "16"},
	{"Singapore (14)", "14"},
	{"Sydney (12)", "12"},
}

// LookupTelephonyRegion finds a region by its full name, its name without
// the number, or its number, ignoring case.
func LookupTelephonyRegion(s string) (TelephonyRegion, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for _, r := range TelephonyRegions {
		short := strings.TrimSpace(r.Name[:strings.Index(r.Name, "(")])
		if want != "" && (want == strings.ToLower(r.Name) || want == strings.ToLower(short) || want == strings.ToLower(r.Number)) {
			return r, nil
		}
	}
	names := make([]string, len(TelephonyRegions))
	for i, r := range TelephonyRegions {
		names[i] = r.Name
	}
	return TelephonyRegion{}, fmt.Errorf("%q is not a telephony region; valid: %s", s, strings.Join(names, ", "))
}

// NewCommand builds the envelope of an admin command.
func NewCommand(id, userID, action, requestedBy, reason string, p CommandParams) (Envelope, error) {
	if err := ValidateCommand(action, p); err != nil {
		return Envelope{}, err
	}
	data, err := json.Marshal(commandData{RequestedBy: requestedBy, Reason: reason, CommandParams: p})
	if err != nil {
		return Envelope{}, fmt.Errorf("encode command: %w", err)
	}
	return Envelope{SpecVersion: SpecVersion, ID: id, Source: "operator/" + requestedBy, Type: CommandTypePrefix + action,
		Subject: userID, DataContentType: "application/json", Data: data}, nil
}

// CheckAlias checks a Salesforce alias as contact centers need it: 1 to 8
// characters of A-Z, a-z, 0-9, '_', '.' and '-'.
func CheckAlias(alias string) error {
	if alias == "" || len(alias) > 8 {
		return fmt.Errorf("%q has %d characters, want 1 to 8", alias, len(alias))
	}
	for _, c := range alias {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("%q has %q: contact centers allow only A-Z, a-z, 0-9, '_', '.' and '-'", alias, c)
		}
	}
	return nil
}
