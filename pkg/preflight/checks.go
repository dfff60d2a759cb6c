package preflight

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// Names of the checks built here.
const (
	NameVCCAccess  = "vcc-access"
	NameTemplates  = "vcc-templates"
	NameRegions    = "vcc-regions"
	NameSalesforce = "salesforce"
)

// VCC is what the checks read of VCC.
type VCC interface {
	ListUsers(ctx context.Context, include string, page, limit int) (*vcc.UserPage, error)
	GetUserByUsername(ctx context.Context, username string) (*vcc.User, error)
	GetSkills(ctx context.Context, userID string) ([]vcc.Skill, error)
	GetGroups(ctx context.Context, userID string) ([]vcc.Group, error)
	GetCallbackNumbers(ctx context.Context, userID string) ([]vcc.CallbackNumberRef, error)
	GetGroupPermissions(ctx context.Context, userID string) ([]vcc.GroupPermission, error)
	RegionsInUse(ctx context.Context) ([]vcc.RegionUse, error)
}

// VCCAccess checks that VCC grants the token (with the scopes the client
// asks for) and answers a read of the user list.
func VCCAccess(v VCC) Check {
	return Check{Name: NameVCCAccess, Run: func(ctx context.Context) (string, error) {
		p, err := v.ListUsers(ctx, vcc.IncludeAll, 1, 1)
		if err != nil {
			return "", fmt.Errorf("read the user list: %w", err)
		}
		return fmt.Sprintf("token granted, user list readable (%d users, active and archived)", p.Meta.TotalCount), nil
	}}
}

// Templates checks that every template user exists, has a role, and that
// its skills, groups, callback numbers and group permissions can be read
// in full.
func Templates(v VCC, usernames []string) Check {
	return Check{Name: NameTemplates, Run: func(ctx context.Context) (string, error) {
		if len(usernames) == 0 {
			return "", errors.New("the mapping names no template user")
		}
		var details, problems []string
		for _, name := range usernames {
			d, err := template(ctx, v, name)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			details = append(details, d)
		}
		if len(problems) > 0 {
			return "", errors.New(strings.Join(problems, "; "))
		}
		return strings.Join(details, "; "), nil
	}}
}

func template(ctx context.Context, v VCC, name string) (string, error) {
	u, err := v.GetUserByUsername(ctx, name)
	if errors.Is(err, vcc.ErrNotFound) {
		return "", fmt.Errorf("template %s: no such VCC user", name)
	}
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	if u.Config == nil || u.Config.Role == "" {
		return "", fmt.Errorf("template %s: VCC shows no role", name)
	}
	if !u.IsActive() {
		return "", fmt.Errorf("template %s: archived in VCC", name)
	}
	skills, err := v.GetSkills(ctx, u.UserID)
	if err != nil {
		return "", fmt.Errorf("template %s: read skills: %w", name, err)
	}
	groups, err := v.GetGroups(ctx, u.UserID)
	if err != nil {
		return "", fmt.Errorf("template %s: read groups: %w", name, err)
	}
	cbs, err := v.GetCallbackNumbers(ctx, u.UserID)
	if err != nil {
		return "", fmt.Errorf("template %s: read callback numbers: %w", name, err)
	}
	perms, err := v.GetGroupPermissions(ctx, u.UserID)
	if err != nil {
		return "", fmt.Errorf("template %s: read group permissions: %w", name, err)
	}
	return fmt.Sprintf("%s (%s): %d skills, %d groups, %d callback numbers, %d group permissions",
		name, u.Config.Role, len(skills), len(groups), len(cbs), len(perms)), nil
}

// TemplatesExist is the cheap form of Templates, for the worker's probe
// while a missing template keeps it quarantined: each template user exists.
func TemplatesExist(ctx context.Context, v interface {
	GetUserByUsername(ctx context.Context, username string) (*vcc.User, error)
}, usernames []string) error {
	for _, name := range usernames {
		if _, err := v.GetUserByUsername(ctx, name); err != nil {
			if errors.Is(err, vcc.ErrNotFound) {
				return fmt.Errorf("template VCC user %s: no such user", name)
			}
			return fmt.Errorf("read template VCC user %s: %w", name, err)
		}
	}
	return nil
}

// Regions compares the configured region GUIDs (region name → GUID) with
// those VCC's users carry. VCC lists no regions, so a GUID no user carries
// cannot be confirmed: a warning. No regions configured is a warning too:
// set-telephony-region is refused until they are.
func Regions(v VCC, regions map[string]string) Check {
	return Check{Name: NameRegions, Run: func(ctx context.Context) (string, error) {
		if len(regions) == 0 {
			return "", &Warning{Msg: "no telephony regions configured: set-telephony-region is refused until mapping.telephonyRegions maps names to GUIDs (syncworker --list-regions shows the GUIDs users carry)"}
		}
		used, err := v.RegionsInUse(ctx)
		if err != nil {
			return "", fmt.Errorf("read the regions users carry: %w", err)
		}
		seen := make(map[string]int, len(used))
		for _, r := range used {
			seen[strings.ToLower(r.Region)] = r.Users
		}
		var unseen, ok []string
		for _, name := range slices.Sorted(maps.Keys(regions)) {
			id := regions[name]
			if n := seen[strings.ToLower(id)]; n > 0 {
				ok = append(ok, fmt.Sprintf("%s (%d users)", name, n))
			} else {
				unseen = append(unseen, fmt.Sprintf("%s = %s", name, id))
			}
		}
		if len(unseen) > 0 {
			return "", &Warning{Msg: fmt.Sprintf("no VCC user carries %s: check the GUID (syncworker --list-regions); confirmed: %s",
				strings.Join(unseen, ", "), orNone(ok))}
		}
		return "every configured region is in use: " + strings.Join(ok, ", "), nil
	}}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Salesforce is what the Salesforce check needs: the User fields the API
// user cannot read and vccsync can do without (hidden), or an error.
type Salesforce interface {
	CheckUserFields(ctx context.Context) (hidden []string, err error)
}

// SalesforceAccess checks that Salesforce grants the token and shows the
// User fields vccsync needs; it passes, naming them, when only optional
// fields are hidden (vccsync then reads users without them).
func SalesforceAccess(sf Salesforce) Check {
	return Check{Name: NameSalesforce, Run: func(ctx context.Context) (string, error) {
		hidden, err := sf.CheckUserFields(ctx)
		if err != nil {
			return "", fmt.Errorf("query the User fields vccsync reads: %w", err)
		}
		if len(hidden) > 0 {
			return "token granted", &Warning{Msg: fmt.Sprintf("User field(s) the integration user cannot read, left out of every query (users carry them unknown): %s; grant read access to sync them (a managed package's field, such as VCC's NVM Agent Id, needs the package's permission set)",
				strings.Join(hidden, ", "))}
		}
		return "token granted, every User field vccsync reads is visible", nil
	}}
}

// Startup is the worker's start-up suite, the one syncworker runs (its
// /readyz and --check) and vccctl check runs: VCC access, the template
// users, the telephony-region GUIDs and, when sf is not nil, Salesforce,
// in that order, each given at most timeout per run (0: 30s).
func Startup(timeout time.Duration, v VCC, templates []string, regions map[string]string, sf Salesforce) *Suite {
	cs := []Check{VCCAccess(v), Templates(v, templates), Regions(v, regions)}
	if sf != nil {
		cs = append(cs, SalesforceAccess(sf))
	}
	return New(timeout, cs...)
}
