package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Salesforce is what reconcile reads of Salesforce.
type Salesforce interface {
	ForEachUser(ctx context.Context, fn func(events.User) error) error
	Members(ctx context.Context, ccID string) ([]salesforce.Member, error)
}

// VCC is what reconcile reads of VCC.
type VCC interface {
	ForEachUser(ctx context.Context, include string, pageSize int, fn func(*vcc.User) error) error
}

// Read reads every Salesforce user, every VCC user (active and archived)
// and, when the mapping names contact centers, their members.
func Read(ctx context.Context, m handlers.Mapping, sf Salesforce, v VCC) (Input, error) {
	var in Input
	if err := sf.ForEachUser(ctx, func(u events.User) error {
		in.SF = append(in.SF, u)
		return nil
	}); err != nil {
		return in, fmt.Errorf("read Salesforce users: %w", err)
	}
	if err := v.ForEachUser(ctx, vcc.IncludeAll, vcc.MaxPageSize, func(u *vcc.User) error {
		in.VCC = append(in.VCC, *u)
		return nil
	}); err != nil {
		return in, fmt.Errorf("read VCC users: %w", err)
	}
	if !m.ManagesContactCenters() {
		return in, nil
	}
	in.Members = map[string][]string{}
	for _, cc := range contactCenters(m) {
		ms, err := sf.Members(ctx, cc)
		if err != nil {
			return in, fmt.Errorf("read members of contact center %s: %w", cc, err)
		}
		for _, mb := range ms {
			if k, err := events.UserKey(mb.UserID); err == nil && !slices.Contains(in.Members[k], cc) {
				in.Members[k] = append(in.Members[k], cc)
			}
		}
	}
	return in, nil
}

// contactCenters are the distinct contact centers of the mapping, sorted.
func contactCenters(m handlers.Mapping) []string {
	var out []string
	if m.DefaultContactCenter != "" {
		out = append(out, m.DefaultContactCenter)
	}
	for _, cc := range m.ContactCenters {
		if !slices.Contains(out, cc) {
			out = append(out, cc)
		}
	}
	slices.Sort(out)
	return out
}
