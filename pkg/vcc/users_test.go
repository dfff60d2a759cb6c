package vcc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sampleUser is the user object of the reference, with an undocumented key
// and the older "nonlive" spelling.
const sampleUser = `{
  "userId": "8e22b1fe-0001", "username": "jsmith@example.com", "name": "Jane Smith",
  "email": "jsmith@example.com", "lastLoginTime": "2021-08-26T07:37:55.465Z",
  "active": true, "locked": false, "ssoExternalId": "jsmith", "somethingNew": {"x": 1},
  "userAccountConfiguration": {
    "role": "Agent", "chargeable": true, "actAsAgent": true,
    "agentConfiguration": {
      "agentDisplayId": "1234", "webrtc": true, "location": "GB",
      "telephonyAddress": {"telephoneAddress": "800200", "outboundTelephonyRegion": "b4c6e398-0001",
        "preventAutoCallbackNumber": true, "selectedCallbackNumberId": "4c0b6793-0001"},
      "capacity": {"isAgentLevel": true, "live": 50, "nonlive": 33, "semiLive": 40}
    }
  }
}`

func TestGetUserDecodesTolerantly(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		_, _ = io.WriteString(w, sampleUser)
	})
	u, err := f.client().GetUser(context.Background(), "8e22b1fe-0001")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserID != "8e22b1fe-0001" || u.Username != "jsmith@example.com" || !u.IsActive() || u.SSO() != "jsmith" || u.AgentDisplayID() != "1234" {
		t.Errorf("user = %+v", u)
	}
	cp := u.Config.Agent.Capacity
	if cp == nil || *cp.Live != 50 || cp.NonLive == nil || *cp.NonLive != 33 || *cp.SemiLive != 40 {
		t.Errorf("capacity = %+v", cp)
	}
	if got := u.Config.Agent.TelephonyAddress.SelectedCallbackNumberID; got != "4c0b6793-0001" {
		t.Errorf("selectedCallbackNumberId = %q", got)
	}
}

func TestGetUserByUsernameEscapes(t *testing.T) {
	tests := []struct{ username, wantEscaped string }{
		{"jane.smith@acme.example", "/useradmin/users/by/username/jane.smith@acme.example"},
		{"a/b c?d#e%f", "/useradmin/users/by/username/a%2Fb%20c%3Fd%23e%25f"},
		{"ünï", "/useradmin/users/by/username/%C3%BCn%C3%AF"},
	}
	f := newFake(t)
	c := f.client()
	for _, tt := range tests {
		before := len(f.requests())
		if _, err := c.GetUserByUsername(context.Background(), tt.username); err != nil {
			t.Fatalf("%q: %v", tt.username, err)
		}
		r := f.requests()[before]
		if r.EscapedPath != tt.wantEscaped || r.Path != "/useradmin/users/by/username/"+tt.username {
			t.Errorf("%q: path %q (escaped %q), want escaped %q", tt.username, r.Path, r.EscapedPath, tt.wantEscaped)
		}
		if r.Query != "" {
			t.Errorf("%q: query %q", tt.username, r.Query)
		}
	}
}

func TestEmptyArgumentsMakeNoRequest(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	calls := map[string]func() error{
		"GetUser":           func() error { _, err := c.GetUser(ctx, ""); return err },
		"GetUserByUsername": func() error { _, err := c.GetUserByUsername(ctx, " "); return err },
		"PatchUser":         func() error { _, err := c.PatchUser(ctx, "", &User{}); return err },
		"PatchUser nil":     func() error { _, err := c.PatchUser(ctx, "u1", nil); return err },
		"CreateUser nil":    func() error { _, err := c.CreateUser(ctx, nil); return err },
		"ArchiveUser":       func() error { _, err := c.ArchiveUser(ctx, ""); return err },
		"DeleteUser":        func() error { return c.DeleteUser(ctx, "") },
		"GetSkills":         func() error { _, err := c.GetSkills(ctx, ""); return err },
		"PutGroups":         func() error { return c.PutGroups(ctx, "", nil) },
		"ListUsers page 0":  func() error { _, err := c.ListUsers(ctx, "", 0, 10); return err },
		"ListUsers limit":   func() error { _, err := c.ListUsers(ctx, "", 1, MaxPageSize+1); return err },
		"ForEachUser size":  func() error { return c.ForEachUser(ctx, "", -1, nil) },
		"UnlockUser":        func() error { return c.UnlockUser(ctx, "") },
		"ResetPassword":     func() error { return c.ResetPassword(ctx, "") },
		"GetGroupPerms":     func() error { _, err := c.GetGroupPermissions(ctx, ""); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(f.requests()) + f.tokens(); n != 0 {
		t.Errorf("%d requests made", n)
	}
}

func TestPatchSendsOnlySetFields(t *testing.T) {
	tests := []struct {
		name      string
		overages  bool
		call      func(*Client) (*User, error)
		method    string
		path      string
		wantBody  string
		wantQuery url.Values
		status    int
	}{
		{
			name: "archive", method: "PATCH", path: "/useradmin/users/u1",
			call:     func(c *Client) (*User, error) { return c.ArchiveUser(context.Background(), "u1") },
			wantBody: `{"active":false}`, wantQuery: url.Values{"allowOverages": {"false"}},
		},
		{
			name: "revert with overages", method: "PATCH", path: "/useradmin/users/u1", overages: true,
			call:     func(c *Client) (*User, error) { return c.RevertUser(context.Background(), "u1") },
			wantBody: `{"active":true}`, wantQuery: url.Values{"allowOverages": {"true"}},
		},
		{
			name: "template fields", method: "PATCH", path: "/useradmin/users/u1",
			call: func(c *Client) (*User, error) {
				return c.PatchUser(context.Background(), "u1", &User{Config: &AccountConfiguration{Agent: &AgentConfiguration{
					OutboundAutoAnswer: Bool(true), InboundAutoAnswer: Bool(false), OutboundWrapUp: Int(0),
					CallRatingFrequency: Int(50), TranscribeCallsRealTime: Bool(true),
					TelephonyAddress: &TelephonyAddress{TelephoneAddress: "800200", NationalDisplay: Bool(false)},
				}}})
			},
			wantBody:  `{"userAccountConfiguration":{"agentConfiguration":{"outboundAutoanswer":true,"inboundAutoanswer":false,"outboundWrapUp":0,"callRatingFrequency":50,"transcribeCallsRealTime":true,"telephonyAddress":{"telephoneAddress":"800200","nationalDisplay":false}}}}`,
			wantQuery: url.Values{"allowOverages": {"false"}},
		},
		{
			name: "nested fields and a cleared SSO id", method: "PATCH", path: "/useradmin/users/u%201",
			call: func(c *Client) (*User, error) {
				return c.PatchUser(context.Background(), "u 1", &User{
					Name:          "Jane Doe",
					SSOExternalID: String(""),
					Config: &AccountConfiguration{Agent: &AgentConfiguration{
						Location: "PL",
						WebRTC:   Bool(false),
					}},
				})
			},
			wantBody:  `{"name":"Jane Doe","ssoExternalId":"","userAccountConfiguration":{"agentConfiguration":{"webrtc":false,"location":"PL"}}}`,
			wantQuery: url.Values{"allowOverages": {"false"}},
		},
		{
			name: "create, 201", method: "POST", path: "/useradmin/users", status: 201,
			call: func(c *Client) (*User, error) {
				return c.CreateUser(context.Background(), &User{
					Username: "jsmith@example.com", Name: "Jane Smith", Email: "jsmith@example.com",
					SSOExternalID: String("jsmith"),
					Config: &AccountConfiguration{Role: RoleAgent, ActAsAgent: Bool(true), Agent: &AgentConfiguration{
						AgentDisplayID: "1042",
						Capacity:       &Capacity{IsAgentLevel: Bool(false)},
					}},
				})
			},
			wantBody:  `{"username":"jsmith@example.com","name":"Jane Smith","email":"jsmith@example.com","ssoExternalId":"jsmith","userAccountConfiguration":{"role":"Agent","actAsAgent":true,"agentConfiguration":{"agentDisplayId":"1042","capacity":{"isAgentLevel":false}}}}`,
			wantQuery: url.Values{"allowOverages": {"false"}},
		},
		{
			name: "create, 200", method: "POST", path: "/useradmin/users", status: 200, overages: true,
			call: func(c *Client) (*User, error) {
				return c.CreateUser(context.Background(), &User{Username: "a@b", Name: "A", Email: "a@b", Config: &AccountConfiguration{Role: RoleSupervisor}})
			},
			wantBody:  `{"username":"a@b","name":"A","email":"a@b","userAccountConfiguration":{"role":"Supervisor"}}`,
			wantQuery: url.Values{"allowOverages": {"true"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				status := tt.status
				if status == 0 {
					status = 200
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, sampleUser)
			})
			c := f.client(func(cfg *Config) { cfg.AllowOverages = tt.overages })
			u, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if u.UserID != "8e22b1fe-0001" {
				t.Errorf("returned user = %+v", u)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.EscapedPath != tt.path {
				t.Errorf("request %s %s, want %s %s", r.Method, r.EscapedPath, tt.method, tt.path)
			}
			if r.Body != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", r.Body, tt.wantBody)
			}
			if q, _ := url.ParseQuery(r.Query); !cmp.Equal(q, tt.wantQuery) {
				t.Errorf("query (-want +got):\n%s", cmp.Diff(tt.wantQuery, q))
			}
		})
	}
}

func TestDeleteUser(t *testing.T) {
	for _, status := range []int{200, 202, 204} {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodDelete {
				t.Errorf("method %s", r.Method)
			}
			w.WriteHeader(status)
		})
		if err := f.client().DeleteUser(context.Background(), "u1"); err != nil {
			t.Errorf("%d: %v", status, err)
		}
	}
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 409, map[string]any{"message": "User must be archived before deletion"})
	})
	err := f.client().DeleteUser(context.Background(), "u1")
	var e *Error
	if !errors.As(err, &e) || e.Status != 409 || e.Temporary() || e.Method != "DELETE" {
		t.Errorf("active user: err = %v", err)
	}
}

// pagedUsers serves total users in pages, as VCC does, under key ("users"
// or "items"), with or without meta.
func pagedUsers(t *testing.T, total int, key string, withMeta bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err1 := strconv.Atoi(q.Get("page"))
		limit, err2 := strconv.Atoi(q.Get("limit"))
		if err1 != nil || err2 != nil || page < 1 {
			t.Errorf("query %q: page and limit must be sent, page from 1", r.URL.RawQuery)
			writeJSON(w, 400, map[string]any{"message": "bad paging"})
			return
		}
		var users []map[string]any
		for i := (page - 1) * limit; i < min(page*limit, total); i++ {
			users = append(users, map[string]any{"userId": fmt.Sprintf("u%d", i+1)})
		}
		if users == nil {
			users = []map[string]any{}
		}
		reply := map[string]any{key: users}
		if withMeta {
			reply["meta"] = map[string]any{"page": page, "count": len(users), "pageCount": (total + limit - 1) / limit, "totalCount": total}
		}
		writeJSON(w, 200, reply)
	}
}

func TestForEachUser(t *testing.T) {
	tests := []struct {
		name      string
		total     int
		pageSize  int
		key       string
		withMeta  bool
		wantPages int
	}{
		{"users, 3 pages", 5, 2, "users", true, 3},
		{"items, 3 pages", 5, 2, "items", true, 3},
		{"exact pages", 6, 2, "users", true, 3},
		{"no meta, short last page", 5, 2, "users", false, 3},
		{"no meta, empty last page", 6, 2, "items", false, 4},
		{"no users", 0, 2, "users", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(pagedUsers(t, tt.total, tt.key, tt.withMeta))
			c := f.client()
			var ids []string
			err := c.ForEachUser(context.Background(), IncludeAll, tt.pageSize, func(u *User) error {
				ids = append(ids, u.UserID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range tt.total {
				want = append(want, fmt.Sprintf("u%d", i+1))
			}
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantPages {
				t.Fatalf("%d page requests, want %d", len(reqs), tt.wantPages)
			}
			for i, r := range reqs {
				q, _ := url.ParseQuery(r.Query)
				wantQ := url.Values{"include": {"All"}, "page": {strconv.Itoa(i + 1)}, "limit": {strconv.Itoa(tt.pageSize)}}
				if diff := cmp.Diff(wantQ, q); diff != "" {
					t.Errorf("page request %d: query (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestForEachUserStopsOnError(t *testing.T) {
	f := newFake(t)
	f.setAPI(pagedUsers(t, 10, "users", true))
	stop := errors.New("stop")
	n := 0
	err := f.client().ForEachUser(context.Background(), "", 3, func(u *User) error {
		n++
		if u.UserID == "u4" {
			return stop
		}
		return nil
	})
	if err != stop || n != 4 || len(f.requests()) != 2 {
		t.Errorf("err %v after %d users and %d pages", err, n, len(f.requests()))
	}

	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			writeJSON(w, 503, map[string]any{"message": "busy"})
			return
		}
		pagedUsers(t, 10, "users", true)(w, r)
	})
	err = f.client(noRetries).ForEachUser(context.Background(), "", 3, func(*User) error { return nil })
	var e *Error
	if !errors.As(err, &e) || e.Status != 503 || e.Route != RouteUsers {
		t.Errorf("page error: %v", err)
	}
}

func TestListUsersDefaults(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"meta":{"page":1,"count":1,"pageCount":1,"totalCount":1},"items":[{"userId":"u1","active":false}]}`)
	})
	p, err := f.client().ListUsers(context.Background(), "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Users) != 1 || p.Users[0].IsActive() || p.Meta.TotalCount != 1 {
		t.Errorf("page = %+v", p)
	}
	if q := f.requests()[0].Query; q != "limit=25&page=1" {
		t.Errorf("query %q, want limit=25&page=1: both always sent, the limit at VCC's default", q)
	}
}

func TestSubResources(t *testing.T) {
	type got struct {
		method, path, body string
	}
	tests := []struct {
		name  string
		reply string
		call  func(*Client) (any, error)
		want  any
		req   got
	}{
		{
			name:  "skills, level as string and number",
			reply: `{"agentSkills":[{"skillId":"s1","agentSkillLevel":"6","skillName":"Sales"},{"skillId":"s2","agentSkillLevel":10}]}`,
			call:  func(c *Client) (any, error) { return c.GetSkills(context.Background(), "u1") },
			want:  []Skill{{SkillID: "s1", Level: 6}, {SkillID: "s2", Level: 10}},
			req:   got{"GET", "/useradmin/users/u1/skills", ""},
		},
		{
			name:  "skills, items",
			reply: `{"items":[{"skillId":"s1","agentSkillLevel":"1"}]}`,
			call:  func(c *Client) (any, error) { return c.GetSkills(context.Background(), "u1") },
			want:  []Skill{{SkillID: "s1", Level: 1}},
			req:   got{"GET", "/useradmin/users/u1/skills", ""},
		},
		{
			name:  "put skills",
			reply: `{"agentSkills":[]}`,
			call: func(c *Client) (any, error) {
				return nil, c.PutSkills(context.Background(), "u1", []Skill{{SkillID: "s1", Level: 6}, {SkillID: "s2", Level: 3}})
			},
			req: got{"PUT", "/useradmin/users/u1/skills", `{"agentSkills":[{"skillId":"s1","agentSkillLevel":6},{"skillId":"s2","agentSkillLevel":3}]}`},
		},
		{
			name: "put no skills",
			call: func(c *Client) (any, error) { return nil, c.PutSkills(context.Background(), "u1", nil) },
			req:  got{"PUT", "/useradmin/users/u1/skills", `{"agentSkills":[]}`},
		},
		{
			name:  "groups",
			reply: `{"agentGroups":[{"groupId":"g1","groupName":"Sales"},{"groupId":"g2"}]}`,
			call:  func(c *Client) (any, error) { return c.GetGroups(context.Background(), "u1") },
			want:  []Group{{GroupID: "g1"}, {GroupID: "g2"}},
			req:   got{"GET", "/useradmin/users/u1/groups", ""},
		},
		{
			name: "put groups",
			call: func(c *Client) (any, error) {
				return nil, c.PutGroups(context.Background(), "u1", []Group{{GroupID: "g1"}})
			},
			req: got{"PUT", "/useradmin/users/u1/groups", `{"agentGroups":[{"groupId":"g1"}]}`},
		},
		{
			name:  "callback numbers of a user",
			reply: `{"callbackNumbers":[{"callbackNumberId":"c1"}]}`,
			call:  func(c *Client) (any, error) { return c.GetCallbackNumbers(context.Background(), "u1") },
			want:  []CallbackNumberRef{{CallbackNumberID: "c1"}},
			req:   got{"GET", "/useradmin/users/u1/callbackNumbers", ""},
		},
		{
			name: "put callback numbers",
			call: func(c *Client) (any, error) {
				return nil, c.PutCallbackNumbers(context.Background(), "u1", []CallbackNumberRef{{CallbackNumberID: "c1"}, {CallbackNumberID: "c2"}})
			},
			req: got{"PUT", "/useradmin/users/u1/callbackNumbers", `{"callbackNumbers":[{"callbackNumberId":"c1"},{"callbackNumberId":"c2"}]}`},
		},
		{
			name:  "group permissions",
			reply: `{"groupPermissions":[{"groupId":"g1","groupPermission":"Write","groupName":"Sales"},{"groupId":"g2","groupPermission":"None"}]}`,
			call:  func(c *Client) (any, error) { return c.GetGroupPermissions(context.Background(), "u1") },
			want:  []GroupPermission{{GroupID: "g1", Permission: PermissionWrite}, {GroupID: "g2", Permission: PermissionNone}},
			req:   got{"GET", "/useradmin/users/u1/permissions/groups", ""},
		},
		{
			name: "put group permissions",
			call: func(c *Client) (any, error) {
				return nil, c.PutGroupPermissions(context.Background(), "u1", []GroupPermission{{GroupID: "g1", Permission: PermissionRead}})
			},
			req: got{"PUT", "/useradmin/users/u1/permissions/groups", `{"groupPermissions":[{"groupId":"g1","groupPermission":"Read"}]}`},
		},
		{
			name: "put no group permissions",
			call: func(c *Client) (any, error) { return nil, c.PutGroupPermissions(context.Background(), "u1", nil) },
			req:  got{"PUT", "/useradmin/users/u1/permissions/groups", `{"groupPermissions":[]}`},
		},
		{
			name:  "account callback numbers, bare array",
			reply: `[{"callbackNumberId":"c1","callbackNumberName":"UK","callbackNumberClid":"+441234"}]`,
			call:  func(c *Client) (any, error) { return c.ListCallbackNumbers(context.Background()) },
			want:  []CallbackNumber{{CallbackNumberID: "c1", CallbackNumberName: "UK", CallbackNumberClid: "+441234"}},
			req:   got{"GET", "/useradmin/callbackNumbers", ""},
		},
		{
			name:  "account callback numbers, wrapped",
			reply: `{"callbackNumbers":[{"callbackNumberId":"c1","callbackNumberName":"UK","callbackNumberClid":"+441234"}]}`,
			call:  func(c *Client) (any, error) { return c.ListCallbackNumbers(context.Background()) },
			want:  []CallbackNumber{{CallbackNumberID: "c1", CallbackNumberName: "UK", CallbackNumberClid: "+441234"}},
			req:   got{"GET", "/useradmin/callbackNumbers", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				if tt.reply == "" {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				_, _ = io.WriteString(w, tt.reply)
			})
			res, err := tt.call(f.client())
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, res); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			if g := (got{reqs[0].Method, reqs[0].Path, reqs[0].Body}); g != tt.req {
				t.Errorf("request %+v, want %+v", g, tt.req)
			}
			wantQuery := ""
			if tt.req.method == "GET" {
				wantQuery = "limit=5000&page=1" // every list read is paged
			}
			if reqs[0].Query != wantQuery {
				t.Errorf("query %q, want %q", reqs[0].Query, wantQuery)
			}
		})
	}
}

func TestBadReplies(t *testing.T) {
	tests := []struct {
		name, reply string
		call        func(*Client) error
		want        string
	}{
		{"user not JSON", "<html>", func(c *Client) error { _, err := c.GetUser(context.Background(), "u1"); return err }, "decode reply"},
		{"empty user", "", func(c *Client) error { _, err := c.GetUser(context.Background(), "u1"); return err }, "empty reply"},
		{"bad skill level", `{"agentSkills":[{"skillId":"s","agentSkillLevel":"high"}]}`, func(c *Client) error { _, err := c.GetSkills(context.Background(), "u1"); return err }, "agentSkillLevel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tt.reply) })
			err := tt.call(f.client())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var e *Error
			var te *TransportError
			if errors.As(err, &e) || errors.As(err, &te) {
				t.Errorf("err = %T: a bad 2xx reply is neither an *Error nor a *TransportError", err)
			}
		})
	}
}
