package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listPage is one page of any VCC list.
type listPage struct {
	Meta  listMeta
	Items []json.RawMessage
}

// page GETs path and decodes the page under key (or a bare array).
func (e *env) page(path, key string) listPage {
	e.t.Helper()
	body := e.must(200, "GET", path, "").body
	if body[0] == '[' {
		return listPage{Items: decode[[]json.RawMessage](e.t, body)}
	}
	m := decode[map[string]json.RawMessage](e.t, body)
	items := decode[[]json.RawMessage](e.t, m[key])
	if items == nil {
		e.t.Fatalf("%s: %q is %s, want a list", path, key, m[key])
	}
	return listPage{Meta: decode[listMeta](e.t, m["meta"]), Items: items}
}

// lists are every paged list of the API, on the demo agent template.
var lists = []struct {
	name, path, key string
	total           int
}{
	{"user skills", "/useradmin/users/" + templateAgentID + "/skills", "agentSkills", DemoAgentTemplateSkills},
	{"user groups", "/useradmin/users/" + templateAgentID + "/groups", "agentGroups", DemoAgentTemplateGroups},
	{"user callback numbers", "/useradmin/users/" + templateAgentID + "/callbackNumbers", "callbackNumbers", DemoAgentTemplateCallbackNumbers},
	{"user group permissions", "/useradmin/users/" + templateAgentID + "/permissions/groups", "groupPermissions", DemoAgentTemplateGroupPermissions},
	{"account callback numbers", "/useradmin/callbackNumbers", "callbackNumbers", demoCallbackNumbers},
	{"users", "/useradmin/users?include=All", "users", 6},
}

func TestEveryListIsPaged(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			sep := "?"
			if l.name == "users" {
				sep = "&"
			}
			pages := (l.total + 24) / 25
			first := e.page(l.path, l.key)
			if want := (listMeta{Page: 1, Count: min(25, l.total), PageCount: pages, TotalCount: l.total}); first.Meta != want {
				t.Fatalf("default page: meta %+v, want %+v", first.Meta, want)
			}
			var paged []json.RawMessage
			for n := 1; n <= pages; n++ {
				p := e.page(l.path+sep+"page="+strconv.Itoa(n), l.key)
				paged = append(paged, p.Items...)
			}
			all := e.page(l.path+sep+"limit=5000", l.key)
			if diff := cmp.Diff(all.Items, paged); len(all.Items) != l.total || diff != "" {
				t.Fatalf("pages of 25 give %d items, limit=5000 %d, want the same %d in the same order (-limit=5000 +pages of 25):\n%s",
					len(paged), len(all.Items), l.total, diff)
			}
			past := e.page(l.path+sep+"page="+strconv.Itoa(pages+1)+"&limit=25", l.key)
			if want := (listMeta{Page: pages + 1, PageCount: pages, TotalCount: l.total}); past.Meta != want || len(past.Items) != 0 {
				t.Fatalf("page past the end: %+v %d items, want %+v and none", past.Meta, len(past.Items), want)
			}
			three := e.page(l.path+sep+"limit=3&page=2", l.key)
			if diff := cmp.Diff(all.Items[3:6], three.Items); diff != "" || three.Meta.Count != 3 || three.Meta.PageCount != (l.total+2)/3 {
				t.Fatalf("limit=3 page=2: %+v; items (-want +got):\n%s", three.Meta, diff)
			}
			for _, q := range []string{"limit=0", "limit=5001", "limit=x", "page=0", "page=-1", "page=y"} {
				if r := e.api("GET", l.path+sep+q, ""); r.status != 400 || r.message(t) == "" {
					t.Errorf("%s: %d %s, want 400 with a message", q, r.status, r.body)
				}
			}
		})
	}
}

func TestListsAsBareArrays(t *testing.T) {
	e := newEnv(t, VCCOptions{ListsAsBareArrays: true})
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			sep := "?"
			if l.name == "users" {
				sep = "&"
			}
			body := e.must(200, "GET", l.path, "").body
			if body[0] != '[' {
				t.Fatalf("not a bare array: %.80s", body)
			}
			if n := len(decode[[]json.RawMessage](t, body)); n != min(25, l.total) {
				t.Fatalf("default page: %d items", n)
			}
			if n := len(e.page(l.path+sep+"limit=5000", l.key).Items); n != l.total {
				t.Fatalf("limit=5000: %d items, want %d", n, l.total)
			}
			if n := len(e.page(l.path+sep+"page=9", l.key).Items); n != 0 {
				t.Fatalf("page past the end: %d items", n)
			}
		})
	}
}

func TestCreateEmptyBody(t *testing.T) {
	e := newEnv(t, VCCOptions{CreateEmptyBody: true, CreateStatus: http.StatusOK})
	r := e.must(200, "POST", "/useradmin/users", newAgentBody("quiet@acme.example", "2001"))
	if len(r.body) != 0 {
		t.Fatalf("create answered with a body: %s", r.body)
	}
	u := decode[VCCUser](t, e.must(200, "GET", "/useradmin/users/by/username/quiet@acme.example", "").body)
	if u.agentID() != "2001" || e.vcc.WriteCount(u.UserID, "POST") != 1 {
		t.Fatalf("created %+v", u)
	}
}

func TestUnlock(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	if err := e.vcc.ModifyUser(activeUserID, func(r *VCCUserRecord) { r.User.Locked = true }); err != nil {
		t.Fatal(err)
	}
	reader := e.token(readerID, readerSecret, "users:read")
	if r := e.raw("POST", "/useradmin/users/"+activeUserID+"/unlock", reader, VCCAcceptV4, ""); r.status != 403 {
		t.Fatalf("unlock without users:write: %d", r.status)
	}
	r := e.must(200, "POST", "/useradmin/users/"+activeUserID+"/unlock", "")
	if len(r.body) != 0 {
		t.Fatalf("unlock answered with a body: %s", r.body)
	}
	if u := decode[VCCUser](t, e.must(200, "GET", "/useradmin/users/"+activeUserID, "").body); u.Locked {
		t.Fatal("still locked")
	}
	e.must(200, "POST", "/useradmin/users/"+activeUserID+"/unlock", "") // not locked: succeeds, changes nothing
	e.must(404, "POST", "/useradmin/users/nope/unlock", "")
	log := e.vcc.WritesTo(activeUserID)
	if len(log) != 2 || log[0].Method != "POST" || !log[0].Changed || log[1].Changed {
		t.Fatalf("write log %+v: want a changing unlock, then a no-op", log)
	}
}

func TestOnlyDocumentedRoutes(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	user := "/useradmin/users/" + activeUserID
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/useradmin/telephonyRegions", 404, ""},
		{"GET", user + "/credentials", 404, ""},
		{"POST", user + "/passwordReset", 404, ""},
		{"GET", "/useradmin/skills", 404, ""},
		{"GET", user + "/permissions/queues", 404, ""},
		{"GET", user + "/unlock", 405, "POST"},
		{"DELETE", user + "/forgotPassword", 405, "POST"},
		{"POST", user + "/skills", 405, "GET, PUT"},
		{"PATCH", user + "/permissions/groups", 405, "GET, PUT"},
		{"PUT", "/useradmin/callbackNumbers", 405, "GET"},
		{"POST", user, 405, "GET, PATCH, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.api(tt.method, tt.path, "")
			if r.status != tt.status || r.header.Get("Allow") != tt.allow || r.message(t) == "" {
				t.Fatalf("%d Allow %q %s, want %d Allow %q", r.status, r.header.Get("Allow"), r.body, tt.status, tt.allow)
			}
		})
	}
}

func TestArchiveInMultipleAccounts(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	multi, _ := e.vcc.UserByUsername(DemoMultiAccountUsername)
	path := "/useradmin/users/" + multi.User.UserID
	e.run([]step{
		{"archive without the flag", "PATCH", path, `{"active":false}`, 400, MsgMultiAccountArchive},
		{"with the flag false", "PATCH", path + "?acceptArchiveInMultipleAccounts=false", `{"active":false,"name":"D"}`, 400, MsgMultiAccountArchive},
		{"other changes need no flag", "PATCH", path, `{"name":"Dana M. Multi"}`, 200, ""},
		{"archive with the flag", "PATCH", path + "?acceptArchiveInMultipleAccounts=true", `{"active":false}`, 200, ""},
		{"revert needs no flag", "PATCH", path, `{"active":true}`, 200, ""},
		{"a one-account user needs none", "PATCH", "/useradmin/users/" + activeUserID, `{"active":false}`, 200, ""},
	})
	if n := e.vcc.WriteCount(multi.User.UserID, "PATCH"); n != 3 {
		t.Fatalf("PATCH writes %d, want 3 (refusals are not writes)", n)
	}

	custom := newEnv(t, VCCOptions{MultiAccountArchiveStatus: http.StatusConflict})
	if err := custom.vcc.SetAccounts(activeUserID, 3); err != nil {
		t.Fatal(err)
	}
	custom.run([]step{{"settable status", "PATCH", "/useradmin/users/" + activeUserID, `{"active":false}`, 409, MsgMultiAccountArchive}})
	if err := custom.vcc.SetAccounts("nope", 2); err == nil {
		t.Fatal("SetAccounts of an unknown user succeeded")
	}
	if err := custom.vcc.SetAccounts(activeUserID, 0); err == nil {
		t.Fatal("SetAccounts(0) succeeded")
	}
}

// virtualClock is a clock a test moves by hand.
type virtualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *virtualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *virtualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimit(t *testing.T) {
	clock := &virtualClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	e := newEnv(t, VCCOptions{RateLimitPerMinute: 3, Now: clock.now})
	get := func() response { return e.api("GET", "/useradmin/users/"+activeUserID, "") }
	statuses := func(n int) []int {
		var out []int
		for range n {
			out = append(out, get().status)
		}
		return out
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429}, statuses(4)); diff != "" {
		t.Fatalf("first minute (-want +got):\n%s", diff)
	}
	r := get()
	if r.status != 429 || r.message(t) != "Too Many Requests" || r.header.Get("Retry-After") != "" {
		t.Fatalf("over the limit: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	// The token endpoint is not under /useradmin.
	e.token(DemoClientID, DemoClientSecret, "users:read")

	clock.add(59 * time.Second)
	if got := get().status; got != 429 {
		t.Fatalf("59 s later: %d, want 429 (the window slides)", got)
	}
	clock.add(time.Second)
	// 60 s after the first three: they left the window; the 429s never counted.
	if diff := cmp.Diff([]int{200, 200, 200, 429}, statuses(4)); diff != "" {
		t.Fatalf("a minute later (-want +got):\n%s", diff)
	}
	clock.add(30 * time.Second)
	if got := get().status; got != 429 {
		t.Fatalf("30 s later: %d", got)
	}
	if st := e.vcc.Stats(); st.RateLimited != 5 {
		t.Fatalf("RateLimited %d, want 5", st.RateLimited)
	}

	unlimited := newEnv(t, VCCOptions{Now: clock.now})
	for range 50 {
		unlimited.must(200, "GET", "/useradmin/users", "")
	}
}

func TestSelectedCallbackNumberMustBeTheUsers(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	notMine := func(id string) string {
		return `userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId "` + id +
			`" is not one of the user's callback numbers: assign it with PUT /users/{userId}/callbackNumbers first`
	}
	address := func(selected string) string {
		return `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"1001","selectedCallbackNumberId":"` + selected + `"}}}}`
	}
	user := "/useradmin/users/" + activeUserID
	numbers := func(ids ...string) string {
		b := `{"callbackNumbers":[`
		for i, id := range ids {
			if i > 0 {
				b += ","
			}
			b += `{"callbackNumberId":"` + id + `"}`
		}
		return b + `]}`
	}
	e.run([]step{
		{"an account number the user lacks", "PATCH", user, address(DemoCallbackLondon), 400, notMine(DemoCallbackLondon)},
		{"give her numbers", "PUT", user + "/callbackNumbers", numbers(DemoCallbackLondon, DemoCallbackSydney), 200, ""},
		{"select one of hers", "PATCH", user, address(DemoCallbackSydney), 200, ""},
		{"cannot remove the selected one", "PUT", user + "/callbackNumbers", numbers(DemoCallbackLondon), 400,
			"callbackNumbers: " + DemoCallbackSydney + " is the user's selectedCallbackNumberId: change telephonyAddress.selectedCallbackNumberId before removing it"},
		{"select another", "PATCH", user, address(DemoCallbackLondon), 200, ""},
		{"now Sydney can go", "PUT", user + "/callbackNumbers", numbers(DemoCallbackLondon), 200, ""},
		{"clear the selection", "PATCH", user, `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"1001"}}}}`, 200, ""},
		{"then all can go", "PUT", user + "/callbackNumbers", numbers(), 200, ""},
	})
	// A template copy: create without the selection, assign numbers, then select.
	id := decode[VCCUser](t, e.must(201, "POST", "/useradmin/users", newAgentBody("copy@acme.example", "2001")).body).UserID
	e.run([]step{
		{"assign the template's numbers", "PUT", "/useradmin/users/" + id + "/callbackNumbers", numbers(DemoCallbackLondon, DemoCallbackManchester), 200, ""},
		{"select the template's", "PATCH", "/useradmin/users/" + id,
			`{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"selectedCallbackNumberId":"` + DemoCallbackLondon + `"}}}}`, 200, ""},
	})
	if rec, _ := e.vcc.User(id); rec.User.selectedCallbackNumber() != DemoCallbackLondon {
		t.Fatalf("selected %q", rec.User.selectedCallbackNumber())
	}
}

func TestGroupPermissions(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	path := "/useradmin/users/" + supervisorTemplateID + "/permissions/groups"
	type view struct {
		GroupID    string `json:"groupId"`
		DisplayID  string `json:"groupDisplayId"`
		Name       string `json:"groupName"`
		Permission string `json:"groupPermission"`
	}
	type page struct {
		Meta        listMeta `json:"meta"`
		UserID      string   `json:"userId"`
		Permissions []view   `json:"groupPermissions"`
	}
	got := decode[page](t, e.must(200, "GET", path, "").body)
	if got.UserID != supervisorTemplateID || got.Meta.TotalCount != 4 ||
		got.Permissions[0] != (view{demoGroupID(3), "1103", "US Supervisors", "Write"}) || got.Permissions[3].Permission != "None" {
		t.Fatalf("GET %+v", got)
	}

	team := func(n int) string { return demoGroupID(n) }
	e.must(200, "PUT", path, `{"groupPermissions":[{"groupId":"`+team(7)+`","groupPermission":"Read"},{"groupId":"`+team(1)+`","groupPermission":"Write"}]}`)
	want := []VCCGroupPermission{{team(7), "Read"}, {team(1), "Write"}}
	rec, _ := e.vcc.User(supervisorTemplateID)
	if diff := cmp.Diff(want, rec.GroupPermissions); diff != "" {
		t.Fatalf("stored (-want +got):\n%s", diff)
	}
	refusals := []struct{ name, body, message string }{
		{"unknown group", `{"groupPermissions":[{"groupId":"nope","groupPermission":"Read"}]}`, `groupPermissions: unknown groupId "nope"`},
		{"unknown permission", `{"groupPermissions":[{"groupId":"` + team(1) + `","groupPermission":"Admin"}]}`,
			`groupPermissions: groupPermission "Admin" of group ` + team(1) + ` must be one of None, Read, Write`},
		{"permission in another case", `{"groupPermissions":[{"groupId":"` + team(1) + `","groupPermission":"read"}]}`,
			`groupPermissions: groupPermission "read" of group ` + team(1) + ` must be one of None, Read, Write`},
		{"no permission", `{"groupPermissions":[{"groupId":"` + team(1) + `"}]}`,
			`groupPermissions: groupPermission "" of group ` + team(1) + ` must be one of None, Read, Write`},
		{"no group", `{"groupPermissions":[{"groupPermission":"Read"}]}`, "groupPermissions: groupId is required"},
		{"twice", `{"groupPermissions":[{"groupId":"` + team(1) + `","groupPermission":"Read"},{"groupId":"` + team(1) + `","groupPermission":"None"}]}`,
			"groupPermissions: group " + team(1) + " is listed twice"},
		{"no list", `{}`, "groupPermissions is required"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if m := e.must(400, "PUT", path, tt.body).message(t); m != tt.message {
				t.Fatalf("message %q, want %q", m, tt.message)
			}
		})
	}
	rec, _ = e.vcc.User(supervisorTemplateID)
	if diff := cmp.Diff(want, rec.GroupPermissions); diff != "" {
		t.Fatalf("a refused PUT changed the permissions (-want +got):\n%s", diff)
	}
	e.must(200, "PUT", path, `{"groupPermissions":[]}`)
	if got := decode[page](t, e.must(200, "GET", path, "").body); got.Meta.TotalCount != 0 || got.Permissions == nil {
		t.Fatalf("after clearing: %+v", got)
	}
	e.must(404, "GET", "/useradmin/users/nope/permissions/groups", "")
	writer := e.token(writerID, writerSecret, "users:write")
	if r := e.raw("GET", path, writer, VCCAcceptV4, ""); r.status != 403 {
		t.Fatalf("GET without users:read: %d", r.status)
	}
	if n := e.vcc.WriteCount(supervisorTemplateID, "PUT"); n != 2 {
		t.Fatalf("PUT writes %d, want 2", n)
	}
	if _, err := e.vcc.AddUser(VCCUserRecord{User: VCCUser{Username: "p@acme.example", Name: "P", Email: "p@acme.example", Active: true,
		Config: VCCAccountConfig{Role: VCCRoleSupervisor}}, GroupPermissions: []VCCGroupPermission{{"nope", "Read"}}}); err == nil {
		t.Fatal("AddUser with a permission on an unknown group succeeded")
	}
}
