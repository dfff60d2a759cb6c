package salesforce_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// routeLog records the client's requests as method and route.
type routeLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *routeLog) ObserveRequest(method, route string, status int, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, fmt.Sprintf("%s %s %d", method, route, status))
}

func (l *routeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

// demoOrg serves the demo org and returns it with a client of it.
func demoOrg(t *testing.T) (*sandbox.Salesforce, *salesforce.Client, *routeLog) {
	t.Helper()
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sf.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	log := &routeLog{}
	c, err := salesforce.NewClient(salesforce.Config{BaseURL: url, ClientID: sandbox.DemoSFClientID, ClientSecret: sandbox.DemoSFClientSecret, Observer: log})
	if err != nil {
		t.Fatal(err)
	}
	return sf, c, log
}

func memberIDs(t *testing.T, c *salesforce.Client, cc string) []string {
	t.Helper()
	ms, err := c.Members(context.Background(), cc)
	if err != nil {
		t.Fatalf("Members(%s): %v", cc, err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.UserID)
	}
	return ids
}

// Membership is User.CallCenterId: the client lists it with SOQL, sets it
// with sObject Collections and clears it, and the org enforces its rules.
func TestMembershipThroughCallCenterID(t *testing.T) {
	sf, c, log := demoOrg(t)
	ctx := context.Background()
	london, newYork := sandbox.DemoSFContactCenterLondon, sandbox.DemoSFContactCenterNewYork

	if got := memberIDs(t, c, london); !slices.Equal(got, []string{sandbox.DemoSFJaneID}) {
		t.Fatalf("London's members %v, want Jane (seeded)", got)
	}
	res, err := c.AddMembers(ctx, london, []string{sandbox.DemoSFOmarID, sandbox.DemoSFLenaID, sandbox.DemoSFOmarID[:15], sandbox.DemoSFTomID})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].OK || res[1].OK || !res[2].OK || res[0].UserID != sandbox.DemoSFOmarID || res[1].UserID != sandbox.DemoSFLenaID {
		t.Fatalf("AddMembers results %+v; want Omar and Tom added, Lena refused, the repeat sent once", res)
	}
	if res[1].Code != "FIELD_INTEGRITY_EXCEPTION" || res[1].Message == "" {
		t.Errorf("Lena's refusal %+v; want Salesforce's code and message", res[1])
	}
	want := []string{sandbox.DemoSFJaneID, sandbox.DemoSFOmarID, sandbox.DemoSFTomID}
	slices.Sort(want)
	if got := memberIDs(t, c, london); !slices.Equal(got, want) {
		t.Errorf("London's members %v, want %v", got, want)
	}
	if m, ok := sf.Member(sandbox.DemoSFOmarID); !ok || m.ContactCenterID != london {
		t.Errorf("the org's record of Omar: %+v, %v; want a member of London", m, ok)
	}

	// One contact center per user: adding Omar to New York moves him.
	if res, err := c.AddMembers(ctx, newYork, []string{sandbox.DemoSFOmarID}); err != nil || !res[0].OK {
		t.Fatalf("move Omar: %+v, %v", res, err)
	}
	if got := memberIDs(t, c, london); slices.Contains(got, sandbox.DemoSFOmarID) {
		t.Errorf("Omar is still in London after joining New York: %v", got)
	}
	// Removing him from London, where he no longer is, leaves him in New York.
	if err := c.RemoveMember(ctx, london, sandbox.DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, c, newYork); !slices.Equal(got, []string{sandbox.DemoSFOmarID}) {
		t.Errorf("New York's members %v after removing Omar from London; want Omar still there", got)
	}
	log.take()
	if err := c.RemoveMember(ctx, newYork, sandbox.DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, c, newYork); len(got) != 0 {
		t.Errorf("New York's members %v after removing Omar, want none", got)
	}
	wantRoutes := []string{
		"GET " + salesforce.RouteUser + " 200", "PATCH " + salesforce.RouteUser + " 204",
		"GET " + salesforce.RouteCallCenter + " 200", "GET " + salesforce.RouteQuery + " 200",
	}
	if diff := cmp.Diff(wantRoutes, log.take()); diff != "" {
		t.Errorf("requests of a removal and a listing (-want +got):\n%s", diff)
	}

	// Unknown contact centers.
	const nowhere = "04v5e000000ZzzzAAC"
	if _, err := c.Members(ctx, nowhere); !errors.Is(err, salesforce.ErrNotFound) {
		t.Errorf("Members of an unknown contact center: %v, want ErrNotFound", err)
	}
	res, err = c.AddMembers(ctx, nowhere, []string{sandbox.DemoSFTomID})
	if err != nil || len(res) != 1 || res[0].OK || res[0].Code != "INVALID_CROSS_REFERENCE_KEY" {
		t.Errorf("AddMembers to an unknown contact center: %+v, %v; want Tom refused with INVALID_CROSS_REFERENCE_KEY", res, err)
	}
	if _, err := c.AddMembers(ctx, "001000000000000AAA", []string{sandbox.DemoSFTomID}); err == nil {
		t.Error("AddMembers with an account ID for a contact center: no error")
	}
}

// More users than one sObject Collections update takes go in several.
func TestAddMembersSplitsAtTheCollectionsLimit(t *testing.T) {
	sf, c, log := demoOrg(t)
	var ids []string
	for i := range salesforce.MaxAddMembers + 1 {
		u, err := sf.AddUser(sandbox.SFUser{
			Username: fmt.Sprintf("agent%03d@demo.example", i), Email: fmt.Sprintf("agent%03d@demo.example", i),
			LastName: fmt.Sprintf("Agent%03d", i), Alias: fmt.Sprintf("ag%03d", i), IsActive: true,
			ProfileID: sandbox.DemoSFAgentProfileID, PermissionSets: []string{sandbox.SFPermissionSetAgent},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	log.take()
	res, err := c.AddMembers(context.Background(), sandbox.DemoSFContactCenterLondon, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.OK || r.UserID != ids[i] {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	patches := 0
	for _, r := range log.take() {
		if r == "PATCH "+salesforce.RouteComposite+" 200" {
			patches++
		}
	}
	if patches != 2 {
		t.Errorf("%d sObject Collections updates for %d users, want 2", patches, len(ids))
	}
	if got := memberIDs(t, c, sandbox.DemoSFContactCenterLondon); len(got) != len(ids)+1 {
		t.Errorf("London has %d members, want %d (and Jane)", len(got), len(ids))
	}
}

// The alias of a member changes as seed 004 says: removed, alias changed,
// added back, and single sign-on works with the new alias.
func TestAliasChangeKeepsSSO(t *testing.T) {
	sf, c, _ := demoOrg(t)
	ctx := context.Background()
	jane, london := sandbox.DemoSFJaneID, sandbox.DemoSFContactCenterLondon
	if _, err := sf.CheckSSO(jane); err != nil {
		t.Fatalf("Jane's SSO before: %v", err)
	}
	if err := c.SetAlias(ctx, jane, "jsmith2"); err != nil {
		t.Fatal(err)
	}
	if _, err := sf.CheckSSO(jane); err == nil {
		t.Fatal("SSO still works after a member's alias changed in place: the org does not model seed 004")
	}
	if err := c.RemoveMember(ctx, london, jane); err != nil {
		t.Fatal(err)
	}
	if res, err := c.AddMembers(ctx, london, []string{jane}); err != nil || !res[0].OK {
		t.Fatalf("add Jane back: %+v, %v", res, err)
	}
	if tel, err := sf.CheckSSO(jane); err != nil || tel != sandbox.TelephonyUsername("jsmith2", jane, sf.OrgID()) {
		t.Errorf("Jane's SSO after remove, alias change, add: %q, %v", tel, err)
	}
}
