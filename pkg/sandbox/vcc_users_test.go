package sandbox

import (
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateUser(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	tests := []struct {
		name    string
		body    string
		status  int
		message string          // exact, for refusals
		check   func(u VCCUser) // for successes
	}{
		{name: "agent", body: newAgentBody("new.agent@acme.example", "1002"), status: 201, check: func(u VCCUser) {
			a := u.Config.Agent
			if !u.Active || u.Config.Role != "Agent" || !u.Config.ActAsAgent || !u.Config.Chargeable || a == nil ||
				a.AgentDisplayID != "1002" || a.Capacity != (VCCCapacity{IsAgentLevel: true, Live: 80, NonLive: 20, SemiLive: 40}) {
				t.Errorf("created %+v agent %+v", u, a)
			}
		}},
		{name: "agent acts as agent without saying so", status: 201,
			body: `{"username":"implicit@acme.example","name":"I","email":"implicit@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1004"}}}`,
			check: func(u VCCUser) {
				if !u.Config.ActAsAgent || u.Config.Agent == nil || u.Config.Agent.AgentDisplayID != "1004" {
					t.Errorf("created %+v", u)
				}
			}},
		{name: "wallboard not acting as agent hides agentConfiguration", status: 201,
			body: `{"username":"wall@acme.example","name":"W","email":"wall@acme.example","userAccountConfiguration":{"role":"Wallboard","actAsAgent":false,"agentConfiguration":{"agentDisplayId":"1005"}}}`,
			check: func(u VCCUser) {
				if u.Config.ActAsAgent || u.Config.Agent != nil || u.Config.Chargeable {
					t.Errorf("created %+v", u)
				}
			}},
		{name: "keys match case-insensitively, unknown keys ignored", status: 201,
			body: `{"USERNAME":"case@acme.example","Name":"C","email":"case@acme.example","extra":{"x":1},"userAccountConfiguration":{"ROLE":"agent","agentConfiguration":{"agentdisplayid":"1006","capacity":{"isAgentLevel":true,"nonlive":33}}}}`,
			check: func(u VCCUser) {
				if u.Username != "case@acme.example" || u.Config.Role != "Agent" || u.Config.Agent.AgentDisplayID != "1006" || u.Config.Agent.Capacity.NonLive != 33 {
					t.Errorf("created %+v agent %+v", u, u.Config.Agent)
				}
			}},
		{name: "missing username", status: 400, message: "username is required",
			body: `{"name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Admin"}}`},
		{name: "missing name", status: 400, message: "name is required",
			body: `{"username":"n@acme.example","email":"n@acme.example","userAccountConfiguration":{"role":"Admin"}}`},
		{name: "missing email", status: 400, message: "email is required",
			body: `{"username":"n@acme.example","name":"N","userAccountConfiguration":{"role":"Admin"}}`},
		{name: "missing role", status: 400, message: "userAccountConfiguration.role is required",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example"}`},
		{name: "unknown role", status: 400, message: `userAccountConfiguration.role "NvmAdmin" is not valid: use one of Admin, Supervisor, Wallboard, Agent`,
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"NvmAdmin"}}`},
		{name: "bad email", status: 400, message: `email "nobody" is not a valid email address`,
			body: `{"username":"n@acme.example","name":"N","email":"nobody","userAccountConfiguration":{"role":"Admin"}}`},
		{name: "username taken, other case", status: 409, message: "Username ALICE.ARCHER@demo.example already exists",
			body: newAgentBody("ALICE.ARCHER@demo.example", "1010")},
		{name: "agent ID of an active user", status: 409, message: "agentDisplayId 1001 is already in use by another user",
			body: newAgentBody("dup1@acme.example", "1001")},
		{name: "agent ID of an archived user", status: 409, message: "agentDisplayId 1003 is already in use by another user",
			body: newAgentBody("dup3@acme.example", "1003")},
		{name: "agent without agent ID", status: 400, message: "userAccountConfiguration.agentConfiguration.agentDisplayId is required when actAsAgent is true",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent"}}`},
		{name: "agent that does not act as agent", status: 400, message: "userAccountConfiguration.actAsAgent cannot be false for a user with role Agent",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","actAsAgent":false}}`},
		{name: "capacity over 100", status: 400, message: "userAccountConfiguration.agentConfiguration.capacity.live must be a percentage between 0 and 100",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1020","capacity":{"live":150}}}}`},
		{name: "unknown selected callback number", status: 400,
			message: `userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId "nope" is not a callback number of this account (GET /callbackNumbers)`,
			body:    `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1020","telephonyAddress":{"selectedCallbackNumberId":"nope"}}}}`},
		{name: "locked is read-only", status: 400, message: "locked is read-only: unlock with POST /users/{userId}/unlock",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","locked":false,"userAccountConfiguration":{"role":"Admin"}}`},
		{name: "negative wrap-up", status: 400, message: "userAccountConfiguration.agentConfiguration.outboundWrapUp cannot be negative",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1020","outboundWrapUp":-1}}}`},
		{name: "call rating frequency over 100", status: 400, message: "userAccountConfiguration.agentConfiguration.callRatingFrequency must be a percentage between 0 and 100",
			body: `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1020","callRatingFrequency":101}}}`},
		{name: "malformed JSON", status: 400, message: "Invalid request body: unexpected EOF", body: `{"username":`},
		{name: "wrong type", status: 400,
			message: "Invalid request body: json: cannot unmarshal number into Go struct field userBody.username of type string",
			body:    `{"username":5}`},
		{name: "two JSON values", status: 400, message: "Invalid request body: unexpected data after the JSON value", body: `{} {}`},
		{name: "empty body", status: 400, message: "Invalid request body: the body is empty", body: ` `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.vcc.Stats().Writes
			r := e.api("POST", "/useradmin/users", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.check == nil {
				if got := r.message(t); got != tt.message {
					t.Fatalf("message %q, want %q", got, tt.message)
				}
				if after := e.vcc.Stats().Writes; after != before {
					t.Fatalf("a refused create counted as a write (%d → %d)", before, after)
				}
				return
			}
			u := decode[VCCUser](t, r.body)
			if !uuidRE.MatchString(u.UserID) {
				t.Fatalf("userId %q is not a UUID", u.UserID)
			}
			tt.check(u)
			if n := e.vcc.WriteCount(u.UserID, "POST"); n != 1 {
				t.Errorf("POST writes of the new user: %d, want 1", n)
			}
			snap, ok := e.vcc.User(u.UserID)
			if !ok || snap.User.Username != u.Username {
				t.Errorf("snapshot %+v, %v", snap, ok)
			}
		})
	}
}

// A create may select one of the account's callback numbers, as Vonage's
// "Create user" example does, though the new user has none of its own yet;
// an account that refuses it (CreateRefusesSelection) says to assign the
// number first.
func TestCreateSelectsCallbackNumber(t *testing.T) {
	body := `{"username":"n@acme.example","name":"N","email":"n@acme.example","userAccountConfiguration":{"role":"Agent","agentConfiguration":{"agentDisplayId":"1020","telephonyAddress":{"selectedCallbackNumberId":"` + DemoCallbackLondon + `"}}}}`
	e := newEnv(t, VCCOptions{})
	u := decode[VCCUser](t, e.must(201, "POST", "/useradmin/users", body).body)
	if got := u.selectedCallbackNumber(); got != DemoCallbackLondon {
		t.Errorf("selectedCallbackNumberId %q, want %q", got, DemoCallbackLondon)
	}
	// Its own numbers may then be assigned, the selected one among them.
	e.must(200, "PUT", "/useradmin/users/"+u.UserID+"/callbackNumbers", `{"callbackNumbers":[{"callbackNumberId":"`+DemoCallbackLondon+`"}]}`)

	strict := newEnv(t, VCCOptions{CreateRefusesSelection: true})
	r := strict.api("POST", "/useradmin/users", body)
	want := `userAccountConfiguration.agentConfiguration.telephonyAddress.selectedCallbackNumberId "` + DemoCallbackLondon +
		`" is not one of the user's callback numbers: assign it with PUT /users/{userId}/callbackNumbers first`
	if r.status != 400 || r.message(t) != want {
		t.Errorf("strict account: %d %s, want 400 %q", r.status, r.body, want)
	}
}

func TestCreateStatusIsConfigurable(t *testing.T) {
	e := newEnv(t, VCCOptions{CreateStatus: http.StatusOK, ConflictStatus: http.StatusBadRequest})
	e.must(200, "POST", "/useradmin/users", newAgentBody("a@acme.example", "2001"))
	e.must(400, "POST", "/useradmin/users", newAgentBody("a@acme.example", "2002"))
}

func TestGetUser(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	if _, err := e.vcc.AddUser(VCCUserRecord{User: VCCUser{Username: "DOMAIN/odd user+1", Name: "Odd", Email: "odd@acme.example",
		Active: true, Config: VCCAccountConfig{Role: VCCRoleWallboard}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, username string
		status               int
	}{
		{"by id", "/useradmin/users/" + activeUserID, DemoActiveUsername, 200},
		{"archived by id", "/useradmin/users/" + archivedUserID, DemoArchivedUsername, 200},
		{"by username", "/useradmin/users/by/username/" + url.PathEscape(DemoAgentTemplateUsername), DemoAgentTemplateUsername, 200},
		{"by username, other case", "/useradmin/users/by/username/TEMPLATE.AGENT@demo.example", DemoAgentTemplateUsername, 200},
		{"by username with slash and space", "/useradmin/users/by/username/" + url.PathEscape("DOMAIN/odd user+1"), "DOMAIN/odd user+1", 200},
		{"unknown id", "/useradmin/users/00000000-0000-4000-8000-000000000000", "", 404},
		{"unknown username", "/useradmin/users/by/username/nobody@acme.example", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.api("GET", tt.path, "")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status == 404 {
				if m := r.message(t); m != "User not found" {
					t.Fatalf("message %q", m)
				}
				return
			}
			if u := decode[VCCUser](t, r.body); u.Username != tt.username {
				t.Fatalf("username %q, want %q", u.Username, tt.username)
			}
		})
	}
}

func TestUserShape(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	m := e.must(200, "GET", "/useradmin/users/"+templateAgentID, "").json(t)
	for _, k := range []string{"userId", "username", "name", "email", "lastLoginTime", "active", "locked", "userAccountConfiguration"} {
		if _, ok := m[k]; !ok {
			t.Errorf("user has no %q: %v", k, m)
		}
	}
	agent := m["userAccountConfiguration"].(map[string]any)["agentConfiguration"].(map[string]any)
	for _, k := range []string{"agentDisplayId", "webrtc", "agentControlWebrtc", "handleMultipleInteractions", "enforcedDispositionCodes",
		"screenRecording", "callRecordingControls", "transcribeCalls", "callParking", "video", "location", "telephonyAddress", "capacity",
		// The rest of Get user by user ID's documented agentConfiguration.
		"salesCadence", "outboundAutoanswer", "inboundAutoanswer", "outboundWrapUp", "backToReadyAfterNoAnswer", "backToReadyAfterLineBusy",
		"backToReadyAfterInvalidNumber", "backToReadyAfterNetworkIssue", "callRatingFrequency", "transcribeCallsRealTime"} {
		if _, ok := agent[k]; !ok {
			t.Errorf("agentConfiguration has no %q: %v", k, agent)
		}
	}
	address := agent["telephonyAddress"].(map[string]any)
	for _, k := range []string{"telephoneAddress", "telephonyExtension", "outboundTelephonyRegion", "nationalDisplay", "virtualLocation",
		"preventAutoCallbackNumber", "selectedCallbackNumberId"} {
		if _, ok := address[k]; !ok {
			t.Errorf("telephonyAddress has no %q: %v", k, address)
		}
	}
	admin := e.must(200, "GET", "/useradmin/users/"+adminUserID, "").json(t)
	if _, ok := admin["userAccountConfiguration"].(map[string]any)["agentConfiguration"]; ok {
		t.Errorf("agentConfiguration shown for a user not acting as agent: %v", admin)
	}
}

func TestListUsers(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	// Demo: 5 active (2 templates, Alice, Carol, Dana) and 1 archived (Bob); add 3 more active.
	for _, u := range []string{"u1@acme.example", "u2@acme.example", "u3@acme.example"} {
		e.must(201, "POST", "/useradmin/users", `{"username":"`+u+`","name":"U","email":"`+u+`","userAccountConfiguration":{"role":"Admin"}}`)
	}
	type page struct {
		Meta  listMeta  `json:"meta"`
		Users []VCCUser `json:"users"`
	}
	names := func(us []VCCUser) []string {
		var out []string
		for _, u := range us {
			out = append(out, strings.SplitN(u.Username, "@", 2)[0])
		}
		return out
	}
	tests := []struct {
		query string
		meta  listMeta
		users []string
	}{
		{"", listMeta{Page: 1, Count: 8, PageCount: 1, TotalCount: 8},
			[]string{"template.agent", "template.supervisor", "alice.archer", "carol.admin", "dana.multi", "u1", "u2", "u3"}},
		{"?include=Active&page=1&limit=3", listMeta{Page: 1, Count: 3, PageCount: 3, TotalCount: 8},
			[]string{"template.agent", "template.supervisor", "alice.archer"}},
		{"?include=Active&page=3&limit=3", listMeta{Page: 3, Count: 2, PageCount: 3, TotalCount: 8}, []string{"u2", "u3"}},
		{"?include=Active&page=4&limit=3", listMeta{Page: 4, Count: 0, PageCount: 3, TotalCount: 8}, nil},
		{"?include=Archived", listMeta{Page: 1, Count: 1, PageCount: 1, TotalCount: 1}, []string{"bob.bennett"}},
		{"?include=all&limit=5000", listMeta{Page: 1, Count: 9, PageCount: 1, TotalCount: 9},
			[]string{"template.agent", "template.supervisor", "alice.archer", "bob.bennett", "carol.admin", "dana.multi", "u1", "u2", "u3"}},
		{"?include=All&page=2&limit=5", listMeta{Page: 2, Count: 4, PageCount: 2, TotalCount: 9}, []string{"dana.multi", "u1", "u2", "u3"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := e.must(200, "GET", "/useradmin/users"+tt.query, "")
			p := decode[page](t, r.body)
			if p.Meta != tt.meta || !slices.Equal(names(p.Users), tt.users) {
				t.Fatalf("meta %+v users %v, want %+v %v", p.Meta, names(p.Users), tt.meta, tt.users)
			}
			if p.Users == nil {
				t.Fatal(`"users" is null, want a list`)
			}
		})
	}

	bad := []struct{ query, message string }{
		{"?limit=0", "limit must be a whole number between 1 and 5000"},
		{"?limit=5001", "limit must be a whole number between 1 and 5000"},
		{"?limit=ten", "limit must be a whole number between 1 and 5000"},
		{"?page=0", "page must be a whole number between 1 and 1000000000"},
		{"?page=1000000001", "page must be a whole number between 1 and 1000000000"},
		{"?include=Deleted", "include must be one of Active, Archived, All"},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			if m := e.must(400, "GET", "/useradmin/users"+tt.query, "").message(t); m != tt.message {
				t.Fatalf("message %q, want %q", m, tt.message)
			}
		})
	}
}

func TestPatchMergesScalarsAndReplacesNestedObjects(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	before, _ := e.vcc.User(templateAgentID)
	r := e.must(200, "PATCH", "/useradmin/users/"+templateAgentID,
		`{"name":"Renamed","ssoExternalId":"tagent","userAccountConfiguration":{"agentConfiguration":{"outboundWrapUp":90,
		"capacity":{"live":60},"telephonyAddress":{"telephoneAddress":"+442079461234","telephonyExtension":"44"}}}}`)

	want := before.User.clone()
	want.Name, want.SSOExternalID = "Renamed", "tagent"
	want.Config.Agent.OutboundWrapUp = 90
	// Nested objects are replaced whole: what the body leaves out is empty.
	want.Config.Agent.Capacity = VCCCapacity{Live: 60}
	want.Config.Agent.TelephonyAddress = VCCTelephonyAddress{TelephoneAddress: "+442079461234", TelephonyExtension: "44"}
	if diff := cmp.Diff(want, decode[VCCUser](t, r.body)); diff != "" {
		t.Fatalf("reply (-want +got):\n%s", diff)
	}
	after, _ := e.vcc.User(templateAgentID)
	if diff := cmp.Diff(want, after.User); diff != "" {
		t.Fatalf("stored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before.Skills, after.Skills); diff != "" || !slices.Equal(after.Groups, before.Groups) {
		t.Fatalf("PATCH changed sub-resources: groups %v, want %v; skills (-before +after):\n%s", after.Groups, before.Groups, diff)
	}
	if n := e.vcc.WriteCount(templateAgentID, "PATCH"); n != 1 {
		t.Fatalf("PATCH writes %d, want 1", n)
	}

	refusals := []struct {
		name, id, body string
		status         int
		message        string
	}{
		{"unknown user", "00000000-0000-4000-8000-000000000000", `{"name":"X"}`, 404, "User not found"},
		{"clear name", templateAgentID, `{"name":""}`, 400, "name is required"},
		{"take a username", templateAgentID, `{"username":"Alice.Archer@demo.example"}`, 409, "Username Alice.Archer@demo.example already exists"},
		{"lock", templateAgentID, `{"locked":true}`, 400, "locked is read-only: unlock with POST /users/{userId}/unlock"},
		{"unlock by PATCH", templateAgentID, `{"locked":false}`, 400, "locked is read-only: unlock with POST /users/{userId}/unlock"},
		{"a partial telephonyAddress drops the WebRTC fallback number", templateAgentID,
			`{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"outboundTelephonyRegion":"` + DemoRegionSydney + `"}}}}`, 400,
			"userAccountConfiguration.agentConfiguration.telephonyAddress.telephoneAddress is required when webrtc is true: VCC routes the agent's calls to this number when WebRTC is unavailable"},
		{"malformed", templateAgentID, `{"name":`, 400, "Invalid request body: unexpected EOF"},
		{"bad allowOverages", templateAgentID + "?allowOverages=maybe", `{}`, 400, "allowOverages must be true or false"},
		{"bad acceptArchiveInMultipleAccounts", templateAgentID + "?acceptArchiveInMultipleAccounts=1x", `{}`, 400,
			"acceptArchiveInMultipleAccounts must be true or false"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(tt.status, "PATCH", "/useradmin/users/"+tt.id, tt.body)
			if m := r.message(t); m != tt.message {
				t.Fatalf("message %q, want %q", m, tt.message)
			}
		})
	}
	if n := e.vcc.WriteCount(templateAgentID, ""); n != 1 {
		t.Fatalf("refused PATCHes counted: %d writes, want 1", n)
	}
}

func TestArchiveRevertDelete(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	id := decode[VCCUser](t, e.must(201, "POST", "/useradmin/users", newAgentBody("leaver@acme.example", "1002")).body).UserID

	r := e.must(409, "DELETE", "/useradmin/users/"+id, "")
	if m := r.message(t); m != "User must be archived before it can be deleted" {
		t.Fatalf("message %q", m)
	}
	if u := decode[VCCUser](t, e.must(200, "PATCH", "/useradmin/users/"+id, `{"active":false}`).body); u.Active {
		t.Fatal("archive left the user active")
	}
	inList := func(include string) bool {
		body := e.must(200, "GET", "/useradmin/users?limit=100&include="+include, "").body
		return strings.Contains(string(body), id)
	}
	if inList("Active") || !inList("Archived") {
		t.Fatal("archived user listed wrongly")
	}
	if u := decode[VCCUser](t, e.must(200, "PATCH", "/useradmin/users/"+id, `{"active":true}`).body); !u.Active {
		t.Fatal("revert left the user archived")
	}
	if !inList("Active") || inList("Archived") {
		t.Fatal("reverted user listed wrongly")
	}

	rw := e.token(rwID, rwSecret, "users:read users:write")
	e.must(200, "PATCH", "/useradmin/users/"+id, `{"active":false}`)
	if r := e.raw("DELETE", "/useradmin/users/"+id, rw, VCCAcceptV4, ""); r.status != 403 {
		t.Fatalf("non-admin delete: %d %s", r.status, r.body)
	}
	r = e.must(204, "DELETE", "/useradmin/users/"+id, "")
	if len(r.body) != 0 {
		t.Fatalf("204 with a body: %s", r.body)
	}
	e.must(404, "GET", "/useradmin/users/"+id, "")
	e.must(404, "DELETE", "/useradmin/users/"+id, "")
	if _, ok := e.vcc.User(id); ok {
		t.Fatal("deleted user still in the snapshot")
	}
	// The deleted user's username and agent ID are free again.
	e.must(201, "POST", "/useradmin/users", newAgentBody("leaver@acme.example", "1002"))

	want := map[string]int{"POST": 1, "PATCH": 3, "DELETE": 1}
	if diff := cmp.Diff(want, e.vcc.Stats().WritesByUser[id]); diff != "" {
		t.Fatalf("writes of %s (-want +got):\n%s", id, diff)
	}
}

func TestDeleteActiveStatusIsConfigurable(t *testing.T) {
	e := newEnv(t, VCCOptions{DeleteActiveStatus: http.StatusBadRequest})
	e.must(400, "DELETE", "/useradmin/users/"+activeUserID, "")
}

func TestAgentDisplayIDRules(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	steps := []struct {
		name, id, body string
		status         int
		message        string
	}{
		{"same agent ID is fine", activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"1001","location":"IE"}}}`, 200, ""},
		{"changing it is refused", activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"1002"}}}`, 400, "agentDisplayId cannot be changed once set (it is 1001)"},
		{"clearing it is refused", activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":""}}}`, 400, "agentDisplayId cannot be changed once set (it is 1001)"},
		{"admin acting as agent needs an ID", adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":true}}`, 400, "userAccountConfiguration.agentConfiguration.agentDisplayId is required when actAsAgent is true"},
		{"admin cannot take an archived user's ID", adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":"1003"}}}`, 409, "agentDisplayId 1003 is already in use by another user"},
		{"admin sets an ID once", adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":"1002"}}}`, 200, ""},
		{"then it is fixed", adminUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"1004"}}}`, 400, "agentDisplayId cannot be changed once set (it is 1002)"},
		{"admin stops acting as agent", adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":false}}`, 200, ""},
		{"an agent cannot stop acting as agent", activeUserID,
			`{"userAccountConfiguration":{"actAsAgent":false}}`, 400, "userAccountConfiguration.actAsAgent cannot be false for a user with role Agent"},
	}
	for _, s := range steps {
		r := e.must(s.status, "PATCH", "/useradmin/users/"+s.id, s.body)
		if s.message != "" {
			if m := r.message(t); m != s.message {
				t.Fatalf("%s: message %q, want %q", s.name, m, s.message)
			}
		}
	}
	admin := e.must(200, "GET", "/useradmin/users/"+adminUserID, "").json(t)
	if _, ok := admin["userAccountConfiguration"].(map[string]any)["agentConfiguration"]; ok {
		t.Fatal("agentConfiguration shown after actAsAgent was turned off")
	}
	// The hidden agent ID stays taken.
	e.must(409, "POST", "/useradmin/users", newAgentBody("x@acme.example", "1002"))
	if rec, _ := e.vcc.User(adminUserID); rec.User.agentID() != "1002" {
		t.Fatalf("stored agent ID %q, want 1002", rec.User.agentID())
	}
}

func TestTelephoneAddressUnique(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	e.must(200, "PATCH", "/useradmin/users/"+activeUserID, `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"800200"}}}}`)
	r := e.must(409, "PATCH", "/useradmin/users/"+templateAgentID, `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"800200"}}}}`)
	if m := r.message(t); m != "telephoneAddress 800200 is already in use by another agent" {
		t.Fatalf("message %q", m)
	}
}

func TestAgentLicences(t *testing.T) {
	// Demo: 2 active chargeable Agents (the agent template and Alice).
	e := newEnv(t, VCCOptions{AgentLicences: 3})
	e.must(201, "POST", "/useradmin/users", newAgentBody("a3@acme.example", "3003"))
	r := e.must(400, "POST", "/useradmin/users", newAgentBody("a4@acme.example", "3004"))
	if m := r.message(t); m != "All 3 agent licences are in use: set allowOverages=true to exceed them" {
		t.Fatalf("message %q", m)
	}
	e.must(201, "POST", "/useradmin/users?allowOverages=true", newAgentBody("a4@acme.example", "3004"))
	e.must(400, "PATCH", "/useradmin/users/"+archivedUserID, `{"active":true}`)
	e.must(200, "PATCH", "/useradmin/users/"+archivedUserID+"?allowOverages=true", `{"active":true}`)
}

// skillsOf reads every page of a user's skills as the API shows them.
func (e *env) skillsOf(userID string) []skillView {
	e.t.Helper()
	type page struct {
		Meta   listMeta    `json:"meta"`
		UserID string      `json:"userId"`
		Skills []skillView `json:"agentSkills"`
	}
	var out []skillView
	for n := 1; ; n++ {
		p := decode[page](e.t, e.must(200, "GET", "/useradmin/users/"+userID+"/skills?limit=5000&page="+strconv.Itoa(n), "").body)
		if p.UserID != userID || p.Skills == nil {
			e.t.Fatalf("skills page %d: userId %q, list %v", n, p.UserID, p.Skills)
		}
		out = append(out, p.Skills...)
		if n >= p.Meta.PageCount {
			return out
		}
	}
}

func TestSkills(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	path := "/useradmin/users/" + activeUserID + "/skills"
	want := `{"agentSkills":[{"skillId":"7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001","agentSkillLevel":"4"}],` +
		`"meta":{"page":1,"count":1,"pageCount":1,"totalCount":1},"userId":"` + activeUserID + `"}`
	if got := strings.TrimSpace(string(e.must(200, "GET", path, "").body)); got != want {
		t.Fatalf("GET skills %s, want %s", got, want)
	}

	if r := e.must(200, "PUT", path, `{"agentSkills":[{"skillId":"s-new","agentSkillLevel":9},{"skillId":"s-str","agentSkillLevel":"2"}]}`); len(r.body) != 0 {
		t.Fatalf("PUT answered with a body: %s", r.body)
	}
	if diff := cmp.Diff([]skillView{{"s-new", "9"}, {"s-str", "2"}}, e.skillsOf(activeUserID)); diff != "" {
		t.Fatalf("GET after PUT (-want +got):\n%s", diff)
	}
	rec, _ := e.vcc.User(activeUserID)
	if diff := cmp.Diff([]VCCSkill{{"s-new", 9}, {"s-str", 2}}, rec.Skills); diff != "" {
		t.Fatalf("stored skills (-want +got):\n%s", diff)
	}

	refusals := []struct{ name, body, message string }{
		{"level 0", `{"agentSkills":[{"skillId":"a","agentSkillLevel":0}]}`, "agentSkills: agentSkillLevel of skill a must be between 1 and 10"},
		{"level 11", `{"agentSkills":[{"skillId":"a","agentSkillLevel":11}]}`, "agentSkills: agentSkillLevel of skill a must be between 1 and 10"},
		{"fractional level", `{"agentSkills":[{"skillId":"a","agentSkillLevel":2.5}]}`, "Invalid request body: agentSkillLevel 2.5 is not a whole number"},
		{"no skill ID", `{"agentSkills":[{"agentSkillLevel":3}]}`, "agentSkills: skillId is required"},
		{"twice", `{"agentSkills":[{"skillId":"a","agentSkillLevel":3},{"skillId":"a","agentSkillLevel":4}]}`, "agentSkills: skill a is listed twice"},
		{"no list", `{}`, "agentSkills is required"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if m := e.must(400, "PUT", path, tt.body).message(t); m != tt.message {
				t.Fatalf("message %q, want %q", m, tt.message)
			}
		})
	}

	e.must(200, "PUT", path, `{"agentSkills":[]}`)
	if got := e.skillsOf(activeUserID); len(got) != 0 {
		t.Fatalf("GET after clearing: %v", got)
	}
	e.must(404, "PUT", "/useradmin/users/nope/skills", `{"agentSkills":[]}`)
	e.must(404, "GET", "/useradmin/users/nope/skills", "")
	if n := e.vcc.WriteCount(activeUserID, "PUT"); n != 2 {
		t.Fatalf("PUT writes %d, want 2", n)
	}

	e20 := newEnv(t, VCCOptions{MaxSkillLevel: 20})
	e20.must(200, "PUT", path, `{"agentSkills":[{"skillId":"a","agentSkillLevel":20}]}`)
}

func TestGroupsAndCallbackNumbers(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	base := "/useradmin/users/" + activeUserID
	ukService, teamFive := demoGroupID(1), demoGroupID(5)

	want := `{"agentGroups":[{"groupId":"` + ukService + `","groupDisplayId":"1101","groupName":"UK Service"}],` +
		`"meta":{"page":1,"count":1,"pageCount":1,"totalCount":1},"userId":"` + activeUserID + `"}`
	if got := strings.TrimSpace(string(e.must(200, "GET", base+"/groups", "").body)); got != want {
		t.Fatalf("GET groups %s\nwant %s", got, want)
	}
	e.must(200, "PUT", base+"/groups", `{"agentGroups":[{"groupId":"`+teamFive+`"},{"groupId":"`+ukService+`"}]}`)
	if rec, _ := e.vcc.User(activeUserID); !slices.Equal(rec.Groups, []string{teamFive, ukService}) {
		t.Fatalf("stored groups %v", rec.Groups)
	}
	for _, tt := range []struct{ body, message string }{
		{`{"agentGroups":[{"groupId":""}]}`, "agentGroups: groupId is required"},
		{`{"agentGroups":[{"groupId":"g3"}]}`, `agentGroups: unknown groupId "g3"`},
		{`{"agentGroups":[{"groupId":"` + ukService + `"},{"groupId":"` + ukService + `"}]}`, "agentGroups: group " + ukService + " is listed twice"},
	} {
		if m := e.must(400, "PUT", base+"/groups", tt.body).message(t); m != tt.message {
			t.Fatalf("message %q, want %q", m, tt.message)
		}
	}

	type numbers struct {
		Meta            listMeta            `json:"meta"`
		CallbackNumbers []VCCCallbackNumber `json:"callbackNumbers"`
	}
	account := decode[numbers](t, e.must(200, "GET", "/useradmin/callbackNumbers?limit=5000", "").body)
	if len(account.CallbackNumbers) != demoCallbackNumbers || account.CallbackNumbers[0] != (VCCCallbackNumber{DemoCallbackLondon, "London Support", "+442079460000"}) {
		t.Fatalf("account callback numbers %+v", account)
	}
	e.must(200, "PUT", base+"/callbackNumbers", `{"callbackNumbers":[{"callbackNumberId":"`+DemoCallbackLondon+`"},{"callbackNumberId":"`+DemoCallbackManchester+`"}]}`)
	mine := decode[numbers](t, e.must(200, "GET", base+"/callbackNumbers", "").body)
	if len(mine.CallbackNumbers) != 2 || mine.CallbackNumbers[1].ID != DemoCallbackManchester || mine.CallbackNumbers[1].CLID != "+441614960000" {
		t.Fatalf("user callback numbers %+v", mine)
	}
	e.must(200, "PUT", base+"/callbackNumbers", `{"callbackNumbers":[{"callbackNumberId":"`+DemoCallbackSydney+`"}]}`)
	if rec, _ := e.vcc.User(activeUserID); !slices.Equal(rec.CallbackNumbers, []string{DemoCallbackSydney}) {
		t.Fatalf("stored callback numbers %v", rec.CallbackNumbers)
	}
	r := e.must(400, "PUT", base+"/callbackNumbers", `{"callbackNumbers":[{"callbackNumberId":"`+DemoCallbackLondon+`"},{"callbackNumberId":"nope"}]}`)
	if m := r.message(t); m != `callbackNumbers: unknown callbackNumberId "nope"` {
		t.Fatalf("message %q", m)
	}
	if rec, _ := e.vcc.User(activeUserID); !slices.Equal(rec.CallbackNumbers, []string{DemoCallbackSydney}) {
		t.Fatalf("a refused PUT changed the callback numbers: %v", rec.CallbackNumbers)
	}
}

func TestSeedDemo(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	tmpl, ok := e.vcc.UserByUsername(DemoAgentTemplateUsername)
	if !ok {
		t.Fatal("no agent template")
	}
	a := tmpl.User.Config.Agent
	if tmpl.User.Config.Role != VCCRoleAgent || !tmpl.User.Config.ActAsAgent || a.Location != "GB" ||
		a.TelephonyAddress.OutboundTelephonyRegion != DemoRegionEMEAPrimary || !a.Capacity.IsAgentLevel ||
		len(tmpl.Skills) != DemoAgentTemplateSkills || len(tmpl.Groups) != DemoAgentTemplateGroups ||
		len(tmpl.CallbackNumbers) != DemoAgentTemplateCallbackNumbers || len(tmpl.GroupPermissions) != DemoAgentTemplateGroupPermissions {
		t.Fatalf("agent template %+v agent %+v", tmpl, a)
	}
	// The first two skills and groups are the ones the template always had.
	if tmpl.Skills[0] != (VCCSkill{"7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001", 6}) || tmpl.Skills[1] != (VCCSkill{"7a1e0c55-5b0e-4c7c-8f3a-1d2e00000002", 3}) ||
		tmpl.Groups[0] != "3f9a2b10-6c4d-4e8f-a1b2-c3d400000001" || tmpl.Groups[1] != "3f9a2b10-6c4d-4e8f-a1b2-c3d400000002" {
		t.Fatalf("agent template lists start %v %v", tmpl.Skills[:2], tmpl.Groups[:2])
	}
	sup, _ := e.vcc.UserByUsername(DemoSupervisorTemplateUsername)
	if sup.User.Config.Role != VCCRoleSupervisor || !sup.User.Config.ActAsAgent || cmp.Equal(sup.Skills, tmpl.Skills) || len(sup.GroupPermissions) == 0 {
		t.Fatalf("supervisor template %+v", sup)
	}
	var ids []string
	for _, u := range e.vcc.Users() {
		if id := u.User.agentID(); id != "" {
			ids = append(ids, id)
		}
	}
	if !slices.Equal(ids, []string{"9901", "9902", "1001", "1003"}) {
		t.Fatalf("agent IDs in use %v", ids)
	}
	multi, _ := e.vcc.UserByUsername(DemoMultiAccountUsername)
	if n := e.vcc.Accounts(multi.User.UserID); n != 2 || !multi.User.Active || multi.User.agentID() != "" {
		t.Fatalf("multi-account user %+v in %d accounts", multi.User, n)
	}
	if n := len(e.vcc.CallbackNumbers()); n < DemoAgentTemplateCallbackNumbers {
		t.Fatalf("%d callback numbers in the account", n)
	}
	if err := e.vcc.SeedDemo(); err == nil {
		t.Fatal("seeding twice succeeded")
	}
}

// TestDemoTemplatesSetEveryAgentSetting guards the templates: a copy that
// drops a setting must show, so none may hold its zero value.
func TestDemoTemplatesSetEveryAgentSetting(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	for _, id := range []string{templateAgentID, supervisorTemplateID} {
		agent := e.agentConfig(id)
		tmpl, _ := e.vcc.User(id)
		for _, obj := range []struct {
			name string
			v    any
			got  map[string]any
		}{
			{"agentConfiguration", *tmpl.User.Config.Agent, agent},
			{"telephonyAddress", tmpl.User.Config.Agent.TelephonyAddress, agent["telephonyAddress"].(map[string]any)},
			{"capacity", tmpl.User.Config.Agent.Capacity, agent["capacity"].(map[string]any)},
		} {
			rv := reflect.ValueOf(obj.v)
			for i := range rv.NumField() {
				key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
				if rv.Field(i).IsZero() {
					t.Errorf("%s: %s.%s has its zero value", id, obj.name, key)
				}
				if _, ok := obj.got[key]; !ok {
					t.Errorf("%s: GET shows no %s.%s", id, obj.name, key)
				}
			}
		}
	}
}

func TestSnapshotsAreCopies(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	rec, _ := e.vcc.User(templateAgentID)
	rec.User.Config.Agent.Location = "FR"
	rec.Skills[0].Level = 1
	rec.Groups[0] = "x"
	again, _ := e.vcc.User(templateAgentID)
	if again.User.Config.Agent.Location != "GB" || again.Skills[0].Level != 6 || again.Groups[0] == "x" {
		t.Fatalf("snapshot shares memory with the store: %+v", again)
	}
}

func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			// Every other request competes for the same username.
			username := "same@acme.example"
			if i%2 == 0 {
				username = "user" + string(rune('a'+i)) + "@acme.example"
			}
			statuses[i] = e.api("POST", "/useradmin/users", newAgentBody(username, "5"+string(rune('a'+i)))).status
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		if s == 201 {
			created++
		}
	}
	if created != n/2+1 {
		t.Fatalf("created %d users (statuses %v), want %d", created, statuses, n/2+1)
	}
	if st := e.vcc.Stats(); st.WritesByMethod["POST"] != created {
		t.Fatalf("POST writes %d, want %d", st.WritesByMethod["POST"], created)
	}
}
