package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/vccsync/vccsync/pkg/events"
)

// cmdOptions are the flags of cmd: the common ones and the parameters of
// every action (each action takes some of them and refuses the others).
type cmdOptions struct {
	timeout     time.Duration
	user        string
	reason      string
	as          string
	id          string
	wait        bool
	waitTimeout time.Duration
	json        bool

	confirm                 bool
	region                  string
	numbers                 []string
	all, clear              bool
	enable, disable         bool
	phoneNumber             string
	webrtcOnly              bool
	live, nonLive, semiLive int
	useDefault              bool
	skill                   string
	level                   int
	allow, deny             bool
	agentID                 string
	alias                   string

	// given holds the names of the flags on the command line.
	given map[string]bool
}

// registerCommon registers the flags every action takes.
func (o *cmdOptions) registerCommon(fs *pflag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "the Salesforce user `ID` the command is for (005…, 15 or 18 characters); required")
	fs.StringVar(&o.reason, "reason", "", "why, in free `TEXT`: recorded in the command (data.reason) for the user's history")
	fs.StringVar(&o.as, "as", "", "who asks: recorded as requestedBy and source operator/`WHO` (default: the OS user name, else $USER)")
	fs.StringVar(&o.id, "id", "", "the command `ID` (default: a new one, cmd-<time-sortable random>); give the printed id again to retry a publish safely")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the stream's acknowledgement")
	fs.BoolVar(&o.wait, "wait", false, "after publishing, wait for syncworker's outcome: applied, refused (with VCC's message) or dead-lettered; the exit status says which")
	fs.DurationVar(&o.waitTimeout, "wait-timeout", time.Minute, "with --wait: how long to wait for the outcome")
	fs.BoolVar(&o.json, "json", false, "print one JSON document (the published command and, with --wait, its outcome) instead of key=value lines")
}

// paramFlags are the names of the parameter flags, registerParams's.
var paramFlags = map[string]bool{}

// registerParams registers the parameter flags of every action, with the
// usage their actions give them.
func (o *cmdOptions) registerParams(fs *pflag.FlagSet) {
	doc := map[string]string{}
	for _, a := range actions {
		for _, f := range a.flags {
			if doc[f.name] == "" {
				doc[f.name] = f.doc
			}
		}
	}
	fs.BoolVar(&o.confirm, "confirm", false, doc["confirm"])
	fs.StringVar(&o.region, "region", "", doc["region"])
	fs.StringArrayVar(&o.numbers, "number", nil, doc["number"])
	fs.BoolVar(&o.all, "all", false, doc["all"])
	fs.BoolVar(&o.clear, "clear", false, doc["clear"])
	fs.BoolVar(&o.enable, "enable", false, doc["enable"])
	fs.BoolVar(&o.disable, "disable", false, doc["disable"])
	fs.StringVar(&o.phoneNumber, "phone-number", "", doc["phone-number"])
	fs.BoolVar(&o.webrtcOnly, "webrtc-only", false, doc["webrtc-only"])
	fs.IntVar(&o.live, "live", 0, doc["live"])
	fs.IntVar(&o.nonLive, "non-live", 0, doc["non-live"])
	fs.IntVar(&o.semiLive, "semi-live", 0, doc["semi-live"])
	fs.BoolVar(&o.useDefault, "default", false, doc["default"])
	fs.StringVar(&o.skill, "skill", "", doc["skill"])
	fs.StringVar(&o.alias, "alias", "", doc["alias"])
	fs.IntVar(&o.level, "level", 0, doc["level"])
	fs.BoolVar(&o.allow, "allow", false, doc["allow"])
	fs.BoolVar(&o.deny, "deny", false, doc["deny"])
	fs.StringVar(&o.agentID, "agent-id", "", doc["agent-id"])
	fs.VisitAll(func(f *pflag.Flag) { paramFlags[f.Name] = true })
}

// flagDoc documents one parameter flag of an action.
type flagDoc struct {
	name, arg, doc string
}

func (f flagDoc) String() string {
	if f.arg == "" {
		return "--" + f.name
	}
	return "--" + f.name + " " + f.arg
}

// actionSpec is one action of cmd: what it does in VCC, its flags, and how
// they become the command's parameters.
type actionSpec struct {
	name     string
	synopsis string // the parameters, as usage shows them
	does     string // what the command does in VCC
	flags    []flagDoc
	// params maps the flags onto the command's parameters; problems are
	// the mistakes the contract would report in its own words (or not at
	// all), said in terms of flags.
	params func(o *cmdOptions) (p events.CommandParams, problems []string)
	// paramFlags names the flag of each parameter, for the contract's
	// messages (data.<parameter>: …).
	paramFlags map[string]string
}

var (
	enableDisable = []flagDoc{
		{"enable", "", "switch it on"},
		{"disable", "", "switch it off"},
	}
	enableDisableFlags = map[string]string{"enabled": "--enable/--disable"}
)

// actions lists the actions of cmd in the order of events.Actions.
var actions = []actionSpec{
	{
		name:   events.ActionArchive,
		does:   "Archives the VCC user: they can no longer log in to VCC or ContactPad (a ContactPad user is logged out, after the interaction in hand) or use their user-level API credentials, and they leave the Dashboards. reactivate reverts it.",
		params: noParams,
	},
	{
		name:   events.ActionReactivate,
		does:   "Reverts an archived VCC user to active: they can log in to VCC and ContactPad again.",
		params: noParams,
	},
	{
		name:     events.ActionDelete,
		synopsis: "--confirm",
		does:     "Deletes the VCC user for good. Only an archived user can be deleted (archive first), never one that has user-level API credentials in any account, and it cannot be undone.",
		flags:    []flagDoc{{"confirm", "", "required: deleting a VCC user cannot be undone"}},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			if !o.confirm {
				return events.CommandParams{}, []string{"delete needs --confirm: deleting a VCC user cannot be undone, and VCC deletes only archived users (archive the user first: vccctl cmd archive --user ID)"}
			}
			return events.CommandParams{Confirm: true}, nil
		},
		paramFlags: map[string]string{"confirm": "--confirm"},
	},
	{
		name:     events.ActionSetTelephonyRegion,
		synopsis: "--region NAME|NUMBER",
		does:     "Sets the agent's telephony region: the Vonage Contact Center infrastructure that delivers their outbound calls (Global Voice Assurance). An agent using WebRTC must then log out of ContactPad and wait 10 seconds before logging back in.",
		flags:    []flagDoc{{"region", "NAME|NUMBER", "the region's name, number or both, e.g. 11, \"EMEA - Primary\", Default; one of: " + regionNames()}},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			if !o.given["region"] {
				return events.CommandParams{}, []string{"set-telephony-region needs --region NAME|NUMBER; valid: " + regionNames()}
			}
			r, err := events.LookupTelephonyRegion(o.region)
			if err != nil {
				return events.CommandParams{}, []string{"--region: " + err.Error()}
			}
			return events.CommandParams{Region: r.Name}, nil
		},
		paramFlags: map[string]string{"region": "--region"},
	},
	{
		name:     events.ActionSetCallbackNumbers,
		synopsis: "--number ID [--number ID …] | --all | --clear",
		does:     "Restricts the callback numbers (outbound CLIDs) the agent can present from ContactPad to the ones given, or to all the numbers available to them, or clears them.",
		flags: []flagDoc{
			{"number", "ID", "a callback number's ID or CLID; repeat it for several"},
			{"all", "", "every callback number available to the agent"},
			{"clear", "", "remove all the agent's callback numbers"},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			var problems []string
			n := 0
			for _, b := range []bool{len(o.numbers) > 0, o.all, o.clear} {
				if b {
					n++
				}
			}
			if n != 1 {
				problems = append(problems, "set-callback-numbers needs exactly one of --number ID (repeatable), --all or --clear")
			}
			var numbers []string
			for _, s := range o.numbers {
				s = strings.TrimSpace(s)
				if s == "" {
					problems = append(problems, "--number: empty, want a callback number's ID or CLID")
				}
				if !slices.Contains(numbers, s) {
					numbers = append(numbers, s)
				}
			}
			return events.CommandParams{CallbackNumbers: numbers, All: o.all, Clear: o.clear}, problems
		},
		paramFlags: map[string]string{"callbackNumbers": "--number", "all": "--all", "clear": "--clear"},
	},
	{
		name:     events.ActionSetWebRTC,
		synopsis: "--enable [--phone-number NUMBER | --webrtc-only] | --disable",
		does:     "Lets the agent use ContactPad with WebRTC, or not. VCC routes the agent's calls to their phone number (unique in the account) when WebRTC is unavailable; an agent who only uses WebRTC gets their agent ID as that number.",
		flags: []flagDoc{
			{"enable", "", "switch WebRTC on"},
			{"disable", "", "switch WebRTC off"},
			{"phone-number", "NUMBER", "with --enable: the agent's phone number (digits, optionally a leading +); without it or --webrtc-only the agent keeps their current number, and the command is refused if they have none"},
			{"webrtc-only", "", "with --enable: the agent only uses WebRTC; their agent ID becomes their phone number"},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			enabled, problems := onOff(o.enable, o.disable, "set-webrtc", "--enable", "--disable")
			if o.phoneNumber != "" && o.webrtcOnly {
				problems = append(problems, "give --phone-number or --webrtc-only, not both")
			}
			if o.disable && (o.given["phone-number"] || o.webrtcOnly) {
				problems = append(problems, "--phone-number and --webrtc-only go with --enable: a phone number is set only when enabling WebRTC")
			}
			if o.given["phone-number"] && o.phoneNumber == "" {
				problems = append(problems, `--phone-number: "" is not a phone number (digits, optionally a leading +)`)
			}
			return events.CommandParams{Enabled: enabled, PhoneNumber: o.phoneNumber, WebRTCOnly: o.webrtcOnly}, problems
		},
		paramFlags: map[string]string{"enabled": "--enable/--disable", "phoneNumber": "--phone-number", "webrtcOnly": "--webrtc-only"},
	},
	toggle(events.ActionSetEnforcedDispositionCodes, "Switches the enforced disposition codes feature on or off for the agent (when the account has it and allows it per agent)."),
	toggle(events.ActionSetCallRecordingControl, "Lets the agent stop (pause) and start (resume) call recordings in ContactPad, or not (when the account has call recording control)."),
	toggle(events.ActionSetScreenRecording, "Lets the agent record their screen with the Vonage CC Screen Recording application, or not (when the account has screen recording)."),
	{
		name:     events.ActionSetInteractionCapacity,
		synopsis: "--live N --non-live N --semi-live N | --default",
		does:     "Sets the agent's own interaction capacity: the percentage of capacity for each interaction type, which takes precedence over the account's settings; --default reverts to the account's settings (System Settings).",
		flags: []flagDoc{
			{"live", "N", "percentage of capacity for live interactions, 0 to 100"},
			{"non-live", "N", "percentage of capacity for non-live interactions, 0 to 100"},
			{"semi-live", "N", "percentage of capacity for semi-live interactions, 0 to 100"},
			{"default", "", "use the account's interaction capacity settings"},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			var p events.CommandParams
			for _, f := range []struct {
				name string
				v    int
				dst  **int
			}{{"live", o.live, &p.Live}, {"non-live", o.nonLive, &p.NonLive}, {"semi-live", o.semiLive, &p.SemiLive}} {
				if o.given[f.name] {
					v := f.v
					*f.dst = &v
				}
			}
			p.Default = o.useDefault
			custom := p.Live != nil || p.NonLive != nil || p.SemiLive != nil
			switch {
			case custom && p.Default:
				return p, []string{"give --live, --non-live and --semi-live, or --default, not both"}
			case !custom && !p.Default:
				return p, []string{"set-interaction-capacity needs --live N --non-live N --semi-live N (percentages, 0 to 100), or --default"}
			}
			return p, nil
		},
		paramFlags: map[string]string{"live": "--live", "nonLive": "--non-live", "semiLive": "--semi-live", "default": "--default"},
	},
	{
		name:     events.ActionSetSkillLevel,
		synopsis: "--skill SKILL_ID --level N",
		does:     fmt.Sprintf("Sets how proficient the agent is in a skill (level %d to %d), adding the skill if the agent lacks it; of two otherwise identical agents available at the same time, the one with the higher level in a mandatory or unexpired skill gets the interaction.", events.MinSkillLevel, events.MaxSkillLevel),
		flags: []flagDoc{
			{"skill", "SKILL_ID", "the skill's VCC ID"},
			{"level", "N", fmt.Sprintf("the level, %d (lowest) to %d (highest)", events.MinSkillLevel, events.MaxSkillLevel)},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			var problems []string
			if !o.given["level"] {
				problems = append(problems, fmt.Sprintf("--level: missing: the skill level, %d to %d", events.MinSkillLevel, events.MaxSkillLevel))
			}
			return events.CommandParams{Skill: strings.TrimSpace(o.skill), Level: o.level}, problems
		},
		paramFlags: map[string]string{"skill": "--skill", "level": "--level"},
	},
	{
		name:     events.ActionAllowActAsAgent,
		synopsis: "--allow [--agent-id N] | --deny",
		does:     "Allows or denies a supervisor, admin or wallboard user to act as agent and handle interactions. Agent access, once granted, cannot be revoked in VCC (only denied); agent users always act as agents.",
		flags: []flagDoc{
			{"allow", "", "allow the user to act as agent"},
			{"deny", "", "deny it"},
			{"agent-id", "N", "with --allow: the agent ID for the first grant (default: the user's NVM Agent Id in Salesforce, else the next free ID)"},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			enabled, problems := onOff(o.allow, o.deny, "allow-act-as-agent", "--allow", "--deny")
			if o.deny && o.given["agent-id"] {
				problems = append(problems, "--agent-id goes with --allow: it is the agent ID of the first grant")
			}
			if o.given["agent-id"] && o.agentID == "" {
				problems = append(problems, `--agent-id: "" is not a numeric agent ID`)
			}
			return events.CommandParams{Enabled: enabled, AgentID: o.agentID}, problems
		},
		paramFlags: map[string]string{"enabled": "--allow/--deny", "agentId": "--agent-id"},
	},
	{
		name:   events.ActionUnlock,
		does:   "Unlocks a user account that VCC locked after five or more incorrect attempts to log in to the VCC Portal or ContactPad.",
		params: noParams,
	},
	{
		name:   events.ActionResetPassword,
		does:   "Sends the user an email with a password reset link (at most once per command id: after a crash in between, syncworker reports \"outcome unknown\" rather than send it twice).",
		params: noParams,
	},
	{
		name:     events.ActionChangeAlias,
		synopsis: "--alias ALIAS",
		does:     "Changes the user's Salesforce alias without breaking single sign-on: a contact-center member is removed from the contact center, the alias changed, and the user added back so the telephony username follows the alias (each step recorded; an interrupted change resumes).",
		flags: []flagDoc{
			{"alias", "ALIAS", "the new alias: 1 to 8 of A-Z, a-z, 0-9, '_', '.' and '-'"},
		},
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			var problems []string
			if !o.given["alias"] {
				problems = append(problems, "--alias: missing: the new alias")
			}
			return events.CommandParams{Alias: o.alias}, problems
		},
		paramFlags: map[string]string{"alias": "--alias"},
	},
	{
		name:   events.ActionResync,
		does:   "Brings the VCC user in step with the Salesforce user as it is now (create, update or archive, and contact-center membership), as if the user had just changed.",
		params: noParams,
	},
}

func noParams(*cmdOptions) (events.CommandParams, []string) { return events.CommandParams{}, nil }

// toggle is an action that switches an agent setting on or off.
func toggle(name, does string) actionSpec {
	return actionSpec{
		name: name, synopsis: "--enable | --disable", does: does, flags: enableDisable,
		params: func(o *cmdOptions) (events.CommandParams, []string) {
			enabled, problems := onOff(o.enable, o.disable, name, "--enable", "--disable")
			return events.CommandParams{Enabled: enabled}, problems
		},
		paramFlags: enableDisableFlags,
	}
}

// onOff maps a pair of exclusive switches onto Enabled.
func onOff(on, off bool, action, onFlag, offFlag string) (*bool, []string) {
	switch {
	case on && off:
		return nil, []string{fmt.Sprintf("give %s or %s, not both", onFlag, offFlag)}
	case !on && !off:
		return nil, []string{fmt.Sprintf("%s needs %s or %s", action, onFlag, offFlag)}
	}
	return &on, nil
}

func regionNames() string {
	names := make([]string, len(events.TelephonyRegions))
	for i, r := range events.TelephonyRegions {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func lookupAction(name string) (actionSpec, bool) {
	for _, a := range actions {
		if a.name == name {
			return a, true
		}
	}
	return actionSpec{}, false
}

// flagList is how a refusal names the flags an action takes.
func (a actionSpec) flagList() string {
	const common = "the common flags --user, --reason, --as, --id, --timeout, --wait, --wait-timeout, --json and --nats-*"
	if len(a.flags) == 0 {
		return a.name + " takes no parameters, only " + common
	}
	docs := make([]string, len(a.flags))
	for i, f := range a.flags {
		docs[i] = f.String()
	}
	return a.name + " takes " + strings.Join(docs, ", ") + ", and " + common
}

// checkFlags refuses the parameter flags given that are not the action's.
func (a actionSpec) checkFlags(given map[string]bool) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(given)) {
		if !paramFlags[name] || slices.ContainsFunc(a.flags, func(f flagDoc) bool { return f.name == name }) {
			continue
		}
		problems = append(problems, fmt.Sprintf("--%s is not a flag of %s; %s", name, a.name, a.flagList()))
	}
	return problems
}

// contractProblems says the contract's objections to p in terms of flags:
// data.level becomes --level.
func (a actionSpec) contractProblems(p events.CommandParams) []string {
	err := events.ValidateCommand(a.name, p)
	if err == nil {
		return nil
	}
	pairs := make([]string, 0, 2*len(a.paramFlags))
	for param, fl := range a.paramFlags {
		pairs = append(pairs, "data."+param, fl)
	}
	r := strings.NewReplacer(pairs...)
	return strings.Split(r.Replace(err.Error()), "; ")
}

// usage writes the action's entry of cmd's usage.
func (a actionSpec) usage(w io.Writer) {
	line := "  " + a.name
	if a.synopsis != "" {
		line += " " + a.synopsis
	}
	fmt.Fprintln(w, line)
	for _, l := range wrap(a.does, 72) {
		fmt.Fprintln(w, "      "+l)
	}
	for _, f := range a.flags {
		fmt.Fprintln(w, "      "+f.String())
		for _, l := range wrap(f.doc, 68) {
			fmt.Fprintln(w, "          "+l)
		}
	}
}

// wrap splits s into lines of at most width bytes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
