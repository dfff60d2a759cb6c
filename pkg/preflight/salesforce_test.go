package preflight_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/sandbox"
)

// An integration user without VCC's package permission set cannot read the
// NVM Agent Id: a query naming it fails whole, so the check leaves it out
// and says so, and users are read without it.
func TestSalesforceFieldNotVisible(t *testing.T) {
	sf := sandbox.NewSalesforce(sandbox.SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	if err := sf.HideUserFields(sandbox.DemoSFUsername, events.AgentIDField); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sf.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	var told [][]string
	c, err := salesforce.NewClient(salesforce.Config{BaseURL: url, ClientID: sandbox.DemoSFClientID, ClientSecret: sandbox.DemoSFClientSecret,
		HiddenFields: func(f []string) { told = append(told, f) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A query naming the field fails whole (INVALID_FIELD); the client
	// then reads the describe and queries again without it, once.
	for range 2 {
		users, err := c.QueryUsers(ctx, []string{sandbox.DemoSFJaneID})
		if err != nil || len(users) != 1 || users[0].AgentID.Known() {
			t.Fatalf("QueryUsers with the agent id hidden = %+v, %v; want Jane without it", users, err)
		}
	}
	if len(told) != 1 || len(told[0]) != 1 || told[0][0] != events.AgentIDField {
		t.Errorf("HiddenFields told %v, want %s once", told, events.AgentIDField)
	}
	if n := sf.Stats().Requests["GET /services/data/{version}/sobjects/User/describe"]; n != 1 {
		t.Errorf("%d describes, want 1", n)
	}

	r := preflight.SalesforceAccess(c)
	detail, err := r.Run(ctx)
	var warn *preflight.Warning
	if !errors.As(err, &warn) || !strings.Contains(warn.Msg, events.AgentIDField) || detail != "token granted" {
		t.Fatalf("check = %q, %v; want it passed with a warning naming %s", detail, err, events.AgentIDField)
	}
	users, err := c.QueryUsers(ctx, []string{sandbox.DemoSFJaneID})
	if err != nil || len(users) != 1 {
		t.Fatalf("QueryUsers after the check = %v, %v; want Jane", users, err)
	}
	if u := users[0]; u.Username.Get() != "jane.smith@demo.example" || u.AgentID.Known() {
		t.Errorf("Jane = %+v; want her fields, the agent id unknown", u)
	}

	// A field vccsync needs is an error.
	if err := sf.HideUserFields(sandbox.DemoSFUsername, "Username"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); err == nil || errors.As(err, &warn) || !strings.Contains(err.Error(), "Username") {
		t.Errorf("check with Username hidden = %v; want a failure naming it", err)
	}
}
