package vcctest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/vcc"
	"github.com/vccsync/vccsync/pkg/vcc/vcctest"
)

// TestSandbox runs the contract suite against the in-process sandbox,
// seeded with the demo account: the agent template has 40 skills and 30
// groups, callback numbers and group permissions (more than one page of
// 25 each), and the write checks change the demo agent Alice, locked
// first so that the unlock shows.
func TestSandbox(t *testing.T) {
	sb := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := sb.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })

	alice, ok := sb.UserByUsername(sandbox.DemoActiveUsername)
	if !ok {
		t.Fatalf("no demo user %s", sandbox.DemoActiveUsername)
	}
	if err := sb.ModifyUser(alice.User.UserID, func(r *sandbox.VCCUserRecord) { r.User.Locked = true }); err != nil {
		t.Fatal(err)
	}
	before, _ := sb.User(alice.User.UserID)
	template, _ := sb.UserByUsername(sandbox.DemoAgentTemplateUsername)

	c, err := vcc.New(vcc.Config{
		BaseURL:       url + sandbox.VCCAPIRoot,
		TokenURL:      url + sandbox.VCCTokenPath,
		ClientID:      sandbox.DemoClientID,
		ClientSecret:  sandbox.DemoClientSecret,
		RatePerMinute: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	vcctest.Run(t, vcctest.Target{
		Client:      c,
		Template:    sandbox.DemoAgentTemplateUsername,
		WriteUser:   sandbox.DemoActiveUsername,
		AllowWrites: true,
	})

	// The write checks restored what they changed (the lock excepted: they
	// unlocked), and the template was only read.
	after, _ := sb.User(alice.User.UserID)
	if after.User.Locked {
		t.Error("the write user is still locked after the unlock check")
	}
	before.User.Locked = false
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the write user was not restored (-want +got):\n%s", diff)
	}
	if now, _ := sb.UserByUsername(sandbox.DemoAgentTemplateUsername); !cmp.Equal(now, template) {
		t.Errorf("the template changed (-want +got):\n%s", cmp.Diff(template, now))
	}
	if n := len(template.Skills); n <= vcc.VCCDefaultPageSize {
		t.Errorf("the demo template has %d skills: the list checks need more than a page of %d", n, vcc.VCCDefaultPageSize)
	}
}
