package handlers

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
)

// Username sources: which Salesforce field becomes the VCC username.
const (
	UsernameFromUsername   = "Username"
	UsernameFromEmail      = "Email"
	UsernameFromFederation = "FederationIdentifier"
)

// Mapping says how Salesforce users become VCC users. It is the
// desired-state part of the configuration file.
type Mapping struct {
	// DefaultTemplate is the VCC username of the template user for users
	// whose ProfileId has no template of its own. Empty: such users are out
	// of scope.
	DefaultTemplate string `yaml:"defaultTemplate"`
	// Templates maps a Salesforce ProfileId (15 or 18 characters) to the VCC
	// username of its template user.
	Templates map[string]string `yaml:"templates"`
	// UsernameSource is the Salesforce field the VCC username comes from:
	// Username (default), Email or FederationIdentifier.
	UsernameSource string `yaml:"usernameSource"`
	// AgentIDStart is the first agent ID handed out when Salesforce has no
	// NVM Agent Id for a user (default 1, as in VCC's own tool).
	AgentIDStart int `yaml:"agentIdStart"`
	// ContactCenters maps a Salesforce ProfileId to the Salesforce contact
	// center (04v…) its active users belong to; DefaultContactCenter is for
	// the other profiles. Both empty: vccsync leaves membership alone.
	ContactCenters       map[string]string `yaml:"contactCenters"`
	DefaultContactCenter string            `yaml:"defaultContactCenter"`
	// TelephonyRegions maps a telephony region's name (as set-telephony-region
	// takes it: "EMEA - Primary (11)", "EMEA - Primary" or "11") to the GUID
	// VCC keeps in telephonyAddress.outboundTelephonyRegion. VCC has no
	// endpoint that lists regions: operators find the GUIDs on existing
	// users (syncworker --list-regions). A region not mapped here cannot be
	// set.
	TelephonyRegions map[string]string `yaml:"telephonyRegions"`
}

// normalized checks the mapping and returns it with defaults applied and
// ProfileIds in their 18-character form.
func (m Mapping) normalized() (Mapping, error) {
	var errs []error
	out := Mapping{
		DefaultTemplate: strings.TrimSpace(m.DefaultTemplate),
		Templates:       make(map[string]string, len(m.Templates)),
		UsernameSource:  m.UsernameSource,
		AgentIDStart:    m.AgentIDStart,
	}
	if out.UsernameSource == "" {
		out.UsernameSource = UsernameFromUsername
	}
	switch out.UsernameSource {
	case UsernameFromUsername, UsernameFromEmail, UsernameFromFederation:
	default:
		errs = append(errs, fmt.Errorf("mapping.usernameSource: %q, want Username, Email or FederationIdentifier", m.UsernameSource))
	}
	if out.AgentIDStart == 0 {
		out.AgentIDStart = 1
	}
	if out.AgentIDStart < 0 {
		errs = append(errs, fmt.Errorf("mapping.agentIdStart: %d, want a positive number", m.AgentIDStart))
	}
	for profile, tmpl := range m.Templates {
		id, err := events.NormalizeID(profile)
		if err != nil || !strings.HasPrefix(profile, "00e") {
			errs = append(errs, fmt.Errorf("mapping.templates: key %q is not a Salesforce profile ID (00e…, 15 or 18 characters)", profile))
			continue
		}
		if strings.TrimSpace(tmpl) == "" {
			errs = append(errs, fmt.Errorf("mapping.templates[%s]: empty template username", profile))
			continue
		}
		out.Templates[id] = strings.TrimSpace(tmpl)
	}
	out.ContactCenters = make(map[string]string, len(m.ContactCenters))
	for profile, cc := range m.ContactCenters {
		id, err := events.NormalizeID(profile)
		if err != nil || !strings.HasPrefix(profile, "00e") {
			errs = append(errs, fmt.Errorf("mapping.contactCenters: key %q is not a Salesforce profile ID (00e…, 15 or 18 characters)", profile))
			continue
		}
		ccID, err := contactCenterID(cc)
		if err != nil {
			errs = append(errs, fmt.Errorf("mapping.contactCenters[%s]: %w", profile, err))
			continue
		}
		out.ContactCenters[id] = ccID
	}
	if m.DefaultContactCenter != "" {
		ccID, err := contactCenterID(m.DefaultContactCenter)
		if err != nil {
			errs = append(errs, fmt.Errorf("mapping.defaultContactCenter: %w", err))
		}
		out.DefaultContactCenter = ccID
	}
	out.TelephonyRegions = make(map[string]string, len(m.TelephonyRegions))
	for name, id := range m.TelephonyRegions {
		r, err := events.LookupTelephonyRegion(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("mapping.telephonyRegions: key %w", err))
			continue
		}
		if !isGUID(strings.TrimSpace(id)) {
			errs = append(errs, fmt.Errorf("mapping.telephonyRegions[%s]: %q is not a GUID (8-4-4-4-12 hexadecimal digits, as in telephonyAddress.outboundTelephonyRegion)", name, id))
			continue
		}
		if prev, dup := out.TelephonyRegions[r.Name]; dup {
			errs = append(errs, fmt.Errorf("mapping.telephonyRegions: %q and another key both name region %s (%s)", name, r.Name, prev))
			continue
		}
		out.TelephonyRegions[r.Name] = strings.ToLower(strings.TrimSpace(id))
	}
	if out.DefaultTemplate == "" && len(out.Templates) == 0 {
		errs = append(errs, errors.New("mapping: no template users: set defaultTemplate or templates"))
	}
	return out, errors.Join(errs...)
}

// isGUID reports whether s is a GUID: 8-4-4-4-12 hexadecimal digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// regionID returns the GUID configured for a region (its canonical
// name), and the canonical name of the region whose GUID is id.
func (m Mapping) regionID(name string) (string, bool) {
	id, ok := m.TelephonyRegions[name]
	return id, ok
}

func (m Mapping) regionName(id string) string {
	for name, rid := range m.TelephonyRegions {
		if strings.EqualFold(rid, id) {
			return name
		}
	}
	return id
}

// contactCenterID checks a contact center ID and returns its 18-character form.
func contactCenterID(s string) (string, error) {
	id, err := events.NormalizeID(strings.TrimSpace(s))
	if err != nil || !strings.HasPrefix(id, "04v") {
		return "", fmt.Errorf("%q is not a Salesforce contact center ID (04v…, 15 or 18 characters)", s)
	}
	return id, nil
}

// ManagesContactCenters reports whether the mapping names any contact
// center (and so needs a Salesforce connection).
func (m Mapping) ManagesContactCenters() bool {
	return m.DefaultContactCenter != "" || len(m.ContactCenters) > 0
}

// contactCenter returns the contact center for the user, "" for none.
func (m Mapping) contactCenter(u events.User) string {
	if u.ProfileID.Known() {
		if id, err := events.NormalizeID(u.ProfileID.Value); err == nil {
			if cc, ok := m.ContactCenters[id]; ok {
				return cc
			}
		}
	}
	return m.DefaultContactCenter
}

// template returns the template username for the user, or "" when the user
// is out of scope.
func (m Mapping) template(u events.User) string {
	if u.ProfileID.Known() {
		if id, err := events.NormalizeID(u.ProfileID.Value); err == nil {
			if t, ok := m.Templates[id]; ok {
				return t
			}
		}
	}
	return m.DefaultTemplate
}

// username is the VCC username for the user, "" when unknown.
func (m Mapping) username(u events.User) string {
	switch m.UsernameSource {
	case UsernameFromEmail:
		return u.Email.Get()
	case UsernameFromFederation:
		return u.FederationIdentifier.Get()
	}
	return u.Username.Get()
}

// Normalized checks the mapping and returns it with defaults applied and
// ProfileIds in their 18-character form; the other exported methods expect
// a normalized mapping.
func (m Mapping) Normalized() (Mapping, error) { return m.normalized() }

// Template returns the template username for the user, or "" when the user
// is out of scope.
func (m Mapping) Template(u events.User) string { return m.template(u) }

// ContactCenter returns the contact center for the user, "" for none.
func (m Mapping) ContactCenter(u events.User) string { return m.contactCenter(u) }

// Username is the VCC username for the user, "" when unknown.
func (m Mapping) Username(u events.User) string { return m.username(u) }

// TemplateUsernames returns the distinct usernames of the template users,
// the default first, the others sorted.
func (m Mapping) TemplateUsernames() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append([]string{m.DefaultTemplate}, slices.Sorted(maps.Values(m.Templates))...) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
