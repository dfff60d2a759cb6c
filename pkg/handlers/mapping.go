package handlers

import (
	"errors"
	"fmt"
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
	if out.DefaultTemplate == "" && len(out.Templates) == 0 {
		errs = append(errs, errors.New("mapping: no template users: set defaultTemplate or templates"))
	}
	return out, errors.Join(errs...)
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

// TemplateUsernames returns the usernames of the template users.
func (m Mapping) TemplateUsernames() []string {
	var out []string
	if m.DefaultTemplate != "" {
		out = append(out, m.DefaultTemplate)
	}
	for _, t := range m.Templates {
		out = append(out, t)
	}
	return out
}
