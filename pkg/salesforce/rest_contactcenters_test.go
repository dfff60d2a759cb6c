package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestAddMembersSplitsAndMapsResults(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(230)
	cc := sfCCID(1)
	other := sfCCID(2)
	f.set(func(f *sfFake) {
		f.centers[cc] = map[string]string{}
		f.centers[other] = map[string]string{}
		f.refuse[ids[5]] = restErrorItem{ErrorCode: "NO_CONTACT_CENTER_PERMISSION", Message: "User " + ids[5] + " needs the Contact Center Agent or Contact Center Admin permission set"}
		f.refuse[ids[150]] = restErrorItem{ErrorCode: "ALREADY_IN_CONTACT_CENTER", Message: "User " + ids[150] + " is a member of contact center " + other + " (one contact center per user)"}
		f.refuse[ids[229]] = restErrorItem{ErrorCode: "INVALID_ALIAS", Message: "Alias j smith has characters outside [A-Za-z0-9_.-]"}
	})
	c := f.client()
	res, err := c.AddMembers(context.Background(), cc, ids)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	batches := slices.Clone(f.addBatches)
	members := len(f.centers[cc])
	f.mu.Unlock()
	if !slices.Equal(batches, []int{100, 100, 30}) {
		t.Errorf("batches %v, want [100 100 30]", batches)
	}
	if len(res) != 230 {
		t.Fatalf("%d results, want 230", len(res))
	}
	refused := map[int]string{5: "NO_CONTACT_CENTER_PERMISSION", 150: "ALREADY_IN_CONTACT_CENTER", 229: "INVALID_ALIAS"}
	for i, r := range res {
		if r.UserID != ids[i] {
			t.Fatalf("result %d is for %s, want %s (input order)", i, r.UserID, ids[i])
		}
		code, isRefused := refused[i]
		switch {
		case isRefused && (r.OK || r.Code != code || r.Message == ""):
			t.Errorf("result %d: %+v, want refused with %s", i, r, code)
		case !isRefused && (!r.OK || r.Code != "" || r.Message != ""):
			t.Errorf("result %d: %+v, want OK", i, r)
		}
	}
	if !strings.Contains(res[150].Message, "one contact center per user") {
		t.Errorf("message %q", res[150].Message)
	}
	if members != 227 {
		t.Errorf("%d members, want 227", members)
	}
	for _, r := range f.recorded() {
		var body struct {
			UserIDs []string `json:"userIds"`
		}
		if r.Method != http.MethodPost || r.Path != "/services/apexrest/vccsync/contactcenters/"+cc+"/members" ||
			json.Unmarshal([]byte(r.Body), &body) != nil || len(body.UserIDs) == 0 || len(body.UserIDs) > 100 {
			t.Errorf("request %s %s %.60s", r.Method, r.Path, r.Body)
		}
	}
}

func TestAddMembersEdges(t *testing.T) {
	ctx := context.Background()
	t.Run("validation before any request", func(t *testing.T) {
		f := newSFFake(t)
		c := f.client()
		if _, err := c.AddMembers(ctx, "00e5e000000AbCdAAK", []string{sfUserID(1)}); err == nil || !strings.Contains(err.Error(), "not a CallCenter ID") {
			t.Errorf("bad cc: %v", err)
		}
		_, err := c.AddMembers(ctx, sfCCID(1), []string{sfUserID(1), "nope"})
		if err == nil || !strings.Contains(err.Error(), "userIDs[1]") {
			t.Errorf("bad user: %v", err)
		}
		if res, err := c.AddMembers(ctx, sfCCID(1), nil); err != nil || len(res) != 0 {
			t.Errorf("no users: %v %v", res, err)
		}
		if n := len(f.recorded()); n != 0 {
			t.Errorf("%d requests", n)
		}
	})
	t.Run("repeats sent once, missing result", func(t *testing.T) {
		f := newSFFake(t)
		ids := f.addUsers(3)
		f.set(func(f *sfFake) {
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || r.URL.Path == RouteToken {
					return false
				}
				sfWriteJSON(w, 200, map[string]any{"results": []any{
					map[string]any{"userId": ids[0], "success": true},
					map[string]any{"userId": ids[1][:15], "success": false, "errors": []any{
						map[string]any{"errorCode": "INACTIVE_USER", "message": "inactive"},
						map[string]any{"errorCode": "INVALID_ALIAS", "message": "bad alias"},
					}},
				}})
				return true
			}
		})
		res, err := f.client().AddMembers(ctx, sfCCID(1), []string{ids[0], ids[1], ids[0], ids[2]})
		if err != nil {
			t.Fatal(err)
		}
		want := []AddResult{
			{UserID: ids[0], OK: true},
			{UserID: ids[1], Code: "INACTIVE_USER", Message: "inactive; INVALID_ALIAS: bad alias"},
			{UserID: ids[2], Code: CodeNoResult, Message: "the reply has no result for this user"},
		}
		if !slices.Equal(res, want) {
			t.Errorf("got  %+v\nwant %+v", res, want)
		}
	})
	t.Run("failing batch returns earlier results", func(t *testing.T) {
		f := newSFFake(t)
		ids := f.addUsers(150)
		cc := sfCCID(1)
		f.set(func(f *sfFake) {
			f.centers[cc] = map[string]string{}
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				f.mu.Lock()
				first := len(f.addBatches) == 0
				f.mu.Unlock()
				if r.Method != http.MethodPost || r.URL.Path == RouteToken || first {
					return false
				}
				sfWriteJSON(w, 503, []restErrorItem{{ErrorCode: "SERVER_UNAVAILABLE", Message: "try later"}})
				return true
			}
		})
		res, err := f.client().AddMembers(ctx, cc, ids)
		var e *Error
		if !errors.As(err, &e) || !e.Temporary() {
			t.Fatalf("err %v, want a temporary *Error", err)
		}
		if len(res) != 100 {
			t.Errorf("%d results with the error, want the first batch's 100", len(res))
		}
	})
	t.Run("unknown contact center", func(t *testing.T) {
		f := newSFFake(t)
		ids := f.addUsers(1)
		_, err := f.client().AddMembers(ctx, sfCCID(9), ids)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("err %v, want ErrNotFound", err)
		}
	})
}

func TestMembersAndRemoveMember(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(3)
	cc := sfCCID(1)
	f.set(func(f *sfFake) { f.centers[cc] = map[string]string{} })
	c := f.client()
	ctx := context.Background()
	if _, err := c.AddMembers(ctx, cc, ids[:2]); err != nil {
		t.Fatal(err)
	}
	got, err := c.Members(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{
		{UserID: ids[0], TelephonyUsername: "u1@" + ids[0] + "@" + sfTestOrgID},
		{UserID: ids[1], TelephonyUsername: "u2@" + ids[1] + "@" + sfTestOrgID},
	}
	if !slices.Equal(got, want) {
		t.Errorf("members %+v, want %+v", got, want)
	}
	if err := c.RemoveMember(ctx, cc, ids[0]); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if err := c.RemoveMember(ctx, cc, ids[2]); err != nil {
		t.Fatalf("RemoveMember of a non-member: %v", err)
	}
	got, err = c.Members(ctx, cc)
	if err != nil || len(got) != 1 || got[0].UserID != ids[1] {
		t.Errorf("after removal: %+v %v", got, err)
	}
	reqs := f.recorded()
	del := reqs[2]
	if del.Method != http.MethodDelete || del.Path != "/services/apexrest/vccsync/contactcenters/"+cc+"/members/"+ids[0] || del.Body != "" {
		t.Errorf("delete request %s %s %q", del.Method, del.Path, del.Body)
	}

	empty := sfCCID(2)
	f.set(func(f *sfFake) { f.centers[empty] = map[string]string{} })
	if got, err := c.Members(ctx, empty); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty contact center: %#v %v", got, err)
	}
	if _, err := c.Members(ctx, sfCCID(9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Members of an unknown contact center: %v", err)
	}
	if err := c.RemoveMember(ctx, sfCCID(9), ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveMember from an unknown contact center: %v", err)
	}
	if err := c.RemoveMember(ctx, cc, "bad"); err == nil {
		t.Error("RemoveMember with a bad user ID: no error")
	}
}

func TestObserverRoutes(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(3)
	cc := sfCCID(1)
	f.set(func(f *sfFake) { f.centers[cc] = map[string]string{}; f.pageSize = 2 })
	obs := &sfObserver{}
	c := f.client(func(c *Config) { c.Observer = obs })
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := c.GetUser(ctx, ids[0]); return err },
		func() error { _, err := c.QueryUsers(ctx, ids); return err },
		func() error { return c.SetAlias(ctx, ids[0], "newalias") },
		func() error { _, err := c.AddMembers(ctx, cc, ids[:1]); return err },
		func() error { _, err := c.Members(ctx, cc); return err },
		func() error { return c.RemoveMember(ctx, cc, ids[0]) },
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
		{"POST", RouteMembers, 200},
		{"GET", RouteMembers, 200},
		{"DELETE", RouteMember, 204},
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
