package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/reconcile"
	"github.com/vccsync/vccsync/pkg/vcc"
)

const (
	agentProfile = "00e5e000000AgNt"
	otherProfile = "00e5e000000OtHr"
	tmpl         = "template.agent@acme.example"
	ccLondon     = "04v5e000000LdnC"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func mapping(t *testing.T, cc bool) handlers.Mapping {
	t.Helper()
	m := handlers.Mapping{Templates: map[string]string{agentProfile: tmpl}}
	if cc {
		m.DefaultContactCenter = ccLondon
	}
	n, err := m.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sfUser is an active agent-profile user; opts change it.
func sfUser(n int, opts ...func(*events.User)) events.User {
	id, _ := events.NormalizeID(fmt.Sprintf("0055e0000%06d", n))
	name := fmt.Sprintf("u%d@acme.example", n)
	u := events.User{ID: id, Username: events.Val(name), Email: events.Val(name), FirstName: events.Val("U"),
		LastName: events.Val(fmt.Sprint(n)), IsActive: events.Val(true), FederationIdentifier: events.Val(fmt.Sprintf("u%d", n)),
		ProfileID: events.Val(agentProfile), SystemModstamp: events.Val(events.Time{Time: t0})}
	for _, o := range opts {
		o(&u)
	}
	return u
}

// vccOf is the VCC user in step with u; opts change it.
func vccOf(u events.User, vid string, opts ...func(*vcc.User)) vcc.User {
	v := vcc.User{UserID: vid, Username: u.Username.Get(), Name: u.Name(), Email: u.Email.Get(), Active: vcc.Bool(u.IsActive.Get()),
		SSOExternalID: vcc.String(u.FederationIdentifier.Get())}
	for _, o := range opts {
		o(&v)
	}
	return v
}

func withAgentID(id string) func(*vcc.User) {
	return func(v *vcc.User) {
		v.Config = &vcc.AccountConfiguration{Role: vcc.RoleAgent, ActAsAgent: vcc.Bool(true), Agent: &vcc.AgentConfiguration{AgentDisplayID: id}}
	}
}

func TestClassify(t *testing.T) {
	u1 := sfUser(1)
	left := sfUser(2, func(u *events.User) { u.IsActive = events.Val(false) })
	renamed := sfUser(3, func(u *events.User) { u.Email = events.Val("new3@acme.example") })
	leaverMoved := sfUser(4, func(u *events.User) { u.IsActive, u.Email = events.Val(false), events.Val("gone4@acme.example") })
	withID := sfUser(5, func(u *events.User) { u.AgentID = events.Val("1005") })
	noTemplate := sfUser(6, func(u *events.User) { u.ProfileID = events.Val(otherProfile) })
	dupName := sfUser(7, func(u *events.User) { u.Username = events.Val("u1@acme.example") })

	for _, tc := range []struct {
		name    string
		sf      []events.User
		vcc     []vcc.User
		links   map[string]string
		cc      bool
		members map[string][]string
		want    map[string]string // user ID or VCC user ID → class/action
		reason  string            // a reason one entry must give
	}{
		{name: "in step", sf: []events.User{u1}, vcc: []vcc.User{vccOf(u1, "v1")},
			want: map[string]string{u1.ID: "in_step/"}},
		{name: "missing: created", sf: []events.User{u1},
			want: map[string]string{u1.ID: "missing/create"}},
		{name: "inactive without VCC user: in step", sf: []events.User{left},
			want: map[string]string{left.ID: "in_step/"}},
		{name: "leaver archived", sf: []events.User{left}, vcc: []vcc.User{vccOf(sfUser(2), "v2")},
			want: map[string]string{left.ID: "differs/archive"}},
		{name: "leaver's other changes are written with the archive, as the worker does", sf: []events.User{leaverMoved},
			vcc:  []vcc.User{vccOf(sfUser(4), "v4")},
			want: map[string]string{leaverMoved.ID: "differs/archive"}, reason: "email"},
		{name: "archived user's email changes: updated, as the worker does", sf: []events.User{leaverMoved},
			vcc:  []vcc.User{vccOf(sfUser(4), "v4", func(v *vcc.User) { v.Active = vcc.Bool(false) })},
			want: map[string]string{leaverMoved.ID: "differs/update"}},
		{name: "returner reverted", sf: []events.User{u1}, vcc: []vcc.User{vccOf(u1, "v1", func(v *vcc.User) { v.Active = vcc.Bool(false) })},
			want: map[string]string{u1.ID: "differs/revert"}},
		{name: "email differs: update", sf: []events.User{renamed}, vcc: []vcc.User{vccOf(sfUser(3), "v3", func(v *vcc.User) { v.Email = "u3@acme.example" })},
			want: map[string]string{renamed.ID: "differs/update"}},
		{name: "stored link wins over the username", sf: []events.User{u1}, links: map[string]string{u1.ID: "v9"},
			vcc:  []vcc.User{vccOf(u1, "v9", func(v *vcc.User) { v.Username = "old.name@acme.example" })},
			want: map[string]string{u1.ID: "differs/update"}, reason: "username"},
		{name: "a link to a deleted VCC user falls back to the username", sf: []events.User{u1}, links: map[string]string{u1.ID: "gone"},
			vcc: []vcc.User{vccOf(u1, "v1")}, want: map[string]string{u1.ID: "in_step/"}},
		{name: "without the link, a renamed VCC user is missing and vcc_only", sf: []events.User{u1},
			vcc:  []vcc.User{vccOf(u1, "v9", func(v *vcc.User) { v.Username, v.Email = "old.name@acme.example", "old@acme.example" })},
			want: map[string]string{u1.ID: "missing/create", "v9": "vcc_only/"}},
		{name: "agent ID held by another VCC user: ambiguous, a create would be refused", sf: []events.User{withID},
			vcc:  []vcc.User{vccOf(withID, "v8", func(v *vcc.User) { v.Username, v.Email = "someone@acme.example", "" }, withAgentID("1005"))},
			want: map[string]string{withID.ID: "ambiguous/"}, reason: "NVM Agent Id 1005"},
		{name: "agent ID differs from the matched user's: reported, not written", sf: []events.User{withID},
			vcc:  []vcc.User{vccOf(withID, "v5", withAgentID("2005"))},
			want: map[string]string{withID.ID: "in_step/"}, reason: "differs from VCC agent ID 2005"},
		{name: "match by email only: ambiguous", sf: []events.User{u1},
			vcc:  []vcc.User{vccOf(u1, "v7", func(v *vcc.User) { v.Username = "other@acme.example" })},
			want: map[string]string{u1.ID: "ambiguous/"}, reason: "have the email"},
		{name: "two Salesforce users derive one username: ambiguous", sf: []events.User{u1, dupName}, vcc: []vcc.User{vccOf(u1, "v1")},
			want: map[string]string{u1.ID: "ambiguous/", dupName.ID: "ambiguous/"}},
		{name: "out of scope", sf: []events.User{noTemplate},
			want: map[string]string{noTemplate.ID: "out_of_scope/"}},
		{name: "template users are neither matched nor vcc_only", sf: []events.User{u1},
			vcc:  []vcc.User{vccOf(u1, "v1"), {UserID: "vt", Username: tmpl, Active: vcc.Bool(true)}},
			want: map[string]string{u1.ID: "in_step/"}},
		{name: "contact center missing: membership", sf: []events.User{u1}, vcc: []vcc.User{vccOf(u1, "v1")}, cc: true,
			members: map[string][]string{}, want: map[string]string{u1.ID: "differs/membership"}},
		{name: "contact center right: in step", sf: []events.User{u1}, vcc: []vcc.User{vccOf(u1, "v1")}, cc: true,
			members: map[string][]string{u1.ID: {mapping(t, true).DefaultContactCenter}}, want: map[string]string{u1.ID: "in_step/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := reconcile.Classify(mapping(t, tc.cc), reconcile.Input{SF: tc.sf, VCC: tc.vcc, Links: tc.links, Members: tc.members})
			got := map[string]string{}
			var reasons []string
			for _, e := range rep.Users {
				k := e.UserID
				if k == "" {
					k = e.VCCUserID
				}
				got[k] = e.Class + "/" + e.Action
				reasons = append(reasons, e.Line())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("classes\n got %v\nwant %v", got, tc.want)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(reasons, "\n"), tc.reason) {
				t.Errorf("no line says %q:\n%s", tc.reason, strings.Join(reasons, "\n"))
			}
		})
	}
}

// TestPlanIsWhatTheWorkerWrites: for every differing user the plan's
// changes are exactly handlers.Diff of the desired user, the function the
// worker's PATCH is built from.
func TestPlanIsWhatTheWorkerWrites(t *testing.T) {
	m := mapping(t, false)
	u := sfUser(1, func(u *events.User) { u.IsActive, u.Email = events.Val(false), events.Val("x@acme.example") })
	cur := vccOf(sfUser(1), "v1", func(v *vcc.User) { v.SSOExternalID = vcc.String("old") })
	rep := reconcile.Classify(m, reconcile.Input{SF: []events.User{u}, VCC: []vcc.User{cur}})
	want := handlers.Diff(m.Desired(u), &cur)
	if len(rep.Users) != 1 || fmt.Sprint(rep.Users[0].Changes) != fmt.Sprint(want) {
		t.Fatalf("plan %+v\nwant the worker's %v", rep.Users, want)
	}
	if len(want) != 3 {
		t.Errorf("the worker's diff %v: want email, ssoExternalId and active", want)
	}
}

func TestThresholdDescribe(t *testing.T) {
	var th reconcile.Threshold
	if err := th.Set("10%"); err != nil {
		t.Fatal(err)
	}
	if got := th.Describe(7); got != "10% of 7 in-scope users = 0.7" {
		t.Errorf("Describe(7) = %q", got)
	}
}

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		in      string
		inScope int
		limit   float64
		err     bool
	}{
		{"10%", 50, 5, false}, {"0.2", 50, 10, false}, {"25", 50, 25, false},
		{"101%", 0, 0, true}, {"2.5", 0, 0, true}, {"-1", 0, 0, true}, {"many", 0, 0, true},
	} {
		var th reconcile.Threshold
		err := th.Set(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("Set(%q): %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && th.Limit(tc.inScope) != tc.limit {
			t.Errorf("%q of %d: limit %v, want %v", tc.in, tc.inScope, th.Limit(tc.inScope), tc.limit)
		}
	}
}
