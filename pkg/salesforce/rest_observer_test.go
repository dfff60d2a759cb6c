package salesforce

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestObserverRoutes(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(3)
	f.set(func(f *sfFake) { f.pageSize = 2 })
	obs := &sfObserver{}
	c := f.client(func(c *Config) { c.Observer = obs })
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := c.GetUser(ctx, ids[0]); return err },
		func() error { _, err := c.QueryUsers(ctx, ids); return err },
		func() error { return c.SetAlias(ctx, ids[0], "newalias") },
		func() error { f.revoke(); _, err := c.GetUser(ctx, sfUserID(77)); return err },
	}
	for i, s := range steps {
		if err := s(); err != nil && i != len(steps)-1 {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []sfObservation{
		{"POST", RouteToken, 200},
		{"GET", RouteUser, 200},
		{"GET", RouteQuery, 200},
		{"GET", RouteQueryMore, 200},
		{"PATCH", RouteUser, 204},
		{"GET", RouteUser, 401},
		{"POST", RouteToken, 200},
		{"GET", RouteUser, 404},
	}
	got := obs.list()
	if !slices.Equal(got, want) {
		t.Errorf("observations\n got %v\nwant %v", got, want)
	}
	for _, o := range got {
		if strings.Contains(o.Route, "005") || strings.Contains(o.Route, "04v") || strings.Contains(o.Route, "v61.0") {
			t.Errorf("route %q carries an ID or version", o.Route)
		}
	}
}
