package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const supervisorTemplateID = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000002"

// step is one request of a scenario and what it must answer.
type step struct {
	name, method, path, body string
	status                   int
	message                  string // exact, when not ""
}

// run sends the steps in order as the demo admin client.
func (e *env) run(steps []step) {
	e.t.Helper()
	for _, s := range steps {
		r := e.api(s.method, s.path, s.body)
		if r.status != s.status {
			e.t.Fatalf("%s: %s %s: status %d, want %d; body %s", s.name, s.method, s.path, r.status, s.status, r.body)
		}
		if s.message != "" {
			if m := r.message(e.t); m != s.message {
				e.t.Fatalf("%s: message %q, want %q", s.name, m, s.message)
			}
		}
	}
}

// login posts to the sandbox's login endpoint (no token, no Accept).
func (e *env) login(username, password string) response {
	e.t.Helper()
	return e.raw(http.MethodPost, VCCLoginPath, "", "", `{"username":"`+username+`","password":"`+password+`"}`)
}

func (e *env) agentConfig(userID string) map[string]any {
	e.t.Helper()
	m := e.must(200, "GET", "/useradmin/users/"+userID, "").json(e.t)
	a, _ := m["userAccountConfiguration"].(map[string]any)["agentConfiguration"].(map[string]any)
	return a
}

func fixedClock() (func() time.Time, time.Time) {
	at := time.Date(2026, 11, 20, 10, 15, 1, 250e6, time.UTC)
	return func() time.Time { return at }, at
}

const allRegions = "EMEA - Primary (11) [" + DemoRegionEMEAPrimary + "], EMEA - Secondary (8) [" + DemoRegionEMEASecondary +
	"], NAM EAST (Default) [" + DemoRegionNAMEast + "], NAM WEST (16) [" + DemoRegionNAMWest +
	"], Singapore (14) [" + DemoRegionSingapore + "], Sydney (12) [" + DemoRegionSydney + "]"

func TestTelephonyRegions(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	// VCC has no region list: the regions exist through Go only.
	if r := e.api("GET", "/useradmin/telephonyRegions", ""); r.status != 404 {
		t.Fatalf("GET telephonyRegions: %d %s, want 404", r.status, r.body)
	}
	if got := e.vcc.TelephonyRegions(); !slices.Equal(got, DemoTelephonyRegions()) {
		t.Fatalf("TelephonyRegions() %v", got)
	}

	// telephonyAddress is replaced whole, so each PATCH keeps the WebRTC number.
	region := func(id string) string {
		return `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"1001","outboundTelephonyRegion":"` + id + `"}}}}`
	}
	bad := `outboundTelephonyRegion "b4c6e398-9999" is not a telephony region of this account; valid: ` + allRegions
	e.run([]step{
		{"PATCH to Sydney", "PATCH", "/useradmin/users/" + activeUserID, region(DemoRegionSydney), 200, ""},
		{"PATCH to NAM WEST", "PATCH", "/useradmin/users/" + templateAgentID,
			`{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"9901","outboundTelephonyRegion":"` + DemoRegionNAMWest + `"}}}}`, 200, ""},
		{"PATCH to an unknown region", "PATCH", "/useradmin/users/" + activeUserID, region("b4c6e398-9999"), 400, bad},
		{"PATCH to a region's name", "PATCH", "/useradmin/users/" + activeUserID, region("Sydney (12)"), 400,
			`outboundTelephonyRegion "Sydney (12)" is not a telephony region of this account; valid: ` + allRegions},
		{"create in an unknown region", "POST", "/useradmin/users",
			`{"username":"r@acme.example","name":"R","email":"r@acme.example","userAccountConfiguration":{"role":"Agent",
			"agentConfiguration":{"agentDisplayId":"1020","telephonyAddress":{"outboundTelephonyRegion":"b4c6e398-9999"}}}}`, 400, bad},
		{"create in Singapore", "POST", "/useradmin/users",
			`{"username":"s@acme.example","name":"S","email":"s@acme.example","userAccountConfiguration":{"role":"Agent",
			"agentConfiguration":{"agentDisplayId":"1021","telephonyAddress":{"outboundTelephonyRegion":"` + DemoRegionSingapore + `"}}}}`, 201, ""},
	})
	if got := e.agentConfig(activeUserID)["telephonyAddress"].(map[string]any)["outboundTelephonyRegion"]; got != DemoRegionSydney {
		t.Fatalf("GET shows region %v, want Sydney", got)
	}
	if n := e.vcc.WriteCount(activeUserID, ""); n != 1 {
		t.Fatalf("writes of Alice %d, want 1 (refusals are not writes)", n)
	}

	// A region stored before (through Go) is not checked again; changing it is.
	if err := e.vcc.ModifyUser(activeUserID, func(r *VCCUserRecord) {
		r.User.Config.Agent.TelephonyAddress.OutboundTelephonyRegion = "legacy"
	}); err != nil {
		t.Fatal(err)
	}
	e.must(200, "PATCH", "/useradmin/users/"+activeUserID, `{"name":"Alice Archer-Smith"}`)

	empty := NewVCC(VCCOptions{})
	if err := empty.AddTelephonyRegion(VCCTelephonyRegion{ID: "r1"}); err == nil {
		t.Fatal("a region without a name was added")
	}
	if err := empty.AddTelephonyRegion(VCCTelephonyRegion{ID: "r1", Name: "One"}); err != nil {
		t.Fatal(err)
	}
	if err := empty.AddTelephonyRegion(VCCTelephonyRegion{ID: "r1", Name: "Again"}); err == nil {
		t.Fatal("a region was added twice")
	}
	if _, err := empty.AddUser(VCCUserRecord{User: VCCUser{Username: "x@acme.example", Name: "X", Email: "x@acme.example",
		Active: true, Config: VCCAccountConfig{Role: VCCRoleAgent, Agent: &VCCAgentConfig{AgentDisplayID: "1",
			TelephonyAddress: VCCTelephonyAddress{OutboundTelephonyRegion: "r2"}}}}}); err == nil ||
		!strings.Contains(err.Error(), `outboundTelephonyRegion "r2" is not a telephony region of this account; valid: One [r1]`) {
		t.Fatalf("AddUser in an unknown region: %v", err)
	}
}

func TestWebRTCNeedsUniqueTelephoneNumber(t *testing.T) {
	const needsPhone = "userAccountConfiguration.agentConfiguration.telephonyAddress.telephoneAddress is required when webrtc is true: VCC routes the agent's calls to this number when WebRTC is unavailable"
	agent := func(username, agentID, agent string) string {
		return `{"username":"` + username + `","name":"W","email":"` + username + `","userAccountConfiguration":{"role":"Agent",` +
			`"agentConfiguration":{"agentDisplayId":"` + agentID + `"` + agent + `}}}`
	}
	phone := func(p string) string {
		return `{"userAccountConfiguration":{"agentConfiguration":{"telephonyAddress":{"telephoneAddress":"` + p + `"}}}}`
	}
	e := newEnv(t, VCCOptions{})
	e.run([]step{
		{"create with WebRTC and no number", "POST", "/useradmin/users", agent("w1@acme.example", "2001", `,"webrtc":true`), 400, needsPhone},
		{"create with WebRTC and a blank number", "POST", "/useradmin/users",
			agent("w1@acme.example", "2001", `,"webrtc":true,"telephonyAddress":{"telephoneAddress":"  "}`), 400, needsPhone},
		{"create with WebRTC and the agent ID as number", "POST", "/useradmin/users",
			agent("w1@acme.example", "2001", `,"webrtc":true,"telephonyAddress":{"telephoneAddress":"2001"}`), 201, ""},
		{"create without WebRTC and no number", "POST", "/useradmin/users", agent("w2@acme.example", "2002", `,"webrtc":false`), 201, ""},
		{"number of an active agent", "POST", "/useradmin/users",
			agent("w3@acme.example", "2003", `,"webrtc":true,"telephonyAddress":{"telephoneAddress":"1001"}`), 409,
			"telephoneAddress 1001 is already in use by another agent"},
		{"number of an archived agent", "POST", "/useradmin/users",
			agent("w3@acme.example", "2003", `,"telephonyAddress":{"telephoneAddress":"1003"}`), 409,
			"telephoneAddress 1003 is already in use by another agent"},
		{"clear the number of a WebRTC agent", "PATCH", "/useradmin/users/" + activeUserID, phone(""), 400, needsPhone},
		{"take another agent's number", "PATCH", "/useradmin/users/" + activeUserID, phone("9901"), 409,
			"telephoneAddress 9901 is already in use by another agent"},
		{"change the number", "PATCH", "/useradmin/users/" + activeUserID, phone("+442079460101"), 200, ""},
		{"turn WebRTC off and clear the number", "PATCH", "/useradmin/users/" + activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"webrtc":false,"telephonyAddress":{"telephoneAddress":""}}}}`, 200, ""},
		{"turn WebRTC on without a number", "PATCH", "/useradmin/users/" + activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"webrtc":true}}}`, 400, needsPhone},
		{"turn WebRTC on with a number", "PATCH", "/useradmin/users/" + activeUserID,
			`{"userAccountConfiguration":{"agentConfiguration":{"webrtc":true,"telephonyAddress":{"telephoneAddress":"1001"}}}}`, 200, ""},
		{"admin allowed to act as agent with WebRTC and no number", "PATCH", "/useradmin/users/" + adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":"2010","webrtc":true}}}`, 400, needsPhone},
		{"admin allowed with WebRTC and a number freed by Alice", "PATCH", "/useradmin/users/" + adminUserID,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":"2010","webrtc":true,"telephonyAddress":{"telephoneAddress":"+442079460101"}}}}`, 200, ""},
	})
	if got := e.agentConfig(activeUserID); got["webrtc"] != true || got["telephonyAddress"].(map[string]any)["telephoneAddress"] != "1001" {
		t.Fatalf("GET Alice agentConfiguration %v", got)
	}

	// A user already in breach (seeded through Go) can still be changed otherwise.
	if err := e.vcc.ModifyUser(templateAgentID, func(r *VCCUserRecord) { r.User.Config.Agent.TelephonyAddress.TelephoneAddress = "" }); err != nil {
		t.Fatal(err)
	}
	e.must(200, "PATCH", "/useradmin/users/"+templateAgentID, `{"name":"Template Agent (UK)"}`)

	opt := newEnv(t, VCCOptions{WebRTCPhoneOptional: true})
	opt.must(201, "POST", "/useradmin/users", agent("w1@acme.example", "2001", `,"webrtc":true`))
}

func TestLoginLocksAfterFiveFailures(t *testing.T) {
	clock, at := fixedClock()
	e := newEnv(t, VCCOptions{Now: clock})
	if err := e.vcc.SetPassword(activeUserID, "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := e.vcc.SetPassword(archivedUserID, "b0b"); err != nil {
		t.Fatal(err)
	}
	if err := e.vcc.SetPassword("nope", "x"); err == nil {
		t.Fatal("SetPassword of an unknown user succeeded")
	}
	locked := func() bool { return e.must(200, "GET", "/useradmin/users/"+activeUserID, "").json(t)["locked"].(bool) }
	const bad = "Invalid username or password"
	type attempt struct {
		name, password string
		status         int
		message        string
		failures       int
		locked         bool
	}
	attempts := []attempt{
		{"wrong 1", "guess1", 401, bad, 1, false},
		{"wrong 2", "guess2", 401, bad, 2, false},
		{"wrong 3", "guess3", 401, bad, 3, false},
		{"wrong 4", "guess4", 401, bad, 4, false},
		{"right resets the count", "s3cret", 200, "", 0, false},
	}
	for i := 1; i <= 4; i++ {
		attempts = append(attempts, attempt{"again wrong " + string(rune('0'+i)), "guess", 401, bad, i, false})
	}
	attempts = append(attempts,
		attempt{"the fifth in a row locks", "guess", 401, bad, 5, true},
		attempt{"locked, right password", "s3cret", 423, "account locked", 5, true},
		attempt{"locked, wrong password", "guess", 423, "account locked", 5, true},
	)
	for _, a := range attempts {
		r := e.login(DemoActiveUsername, a.password)
		if r.status != a.status {
			t.Fatalf("%s: status %d, want %d; body %s", a.name, r.status, a.status, r.body)
		}
		if a.message != "" {
			if m := r.message(t); m != a.message {
				t.Fatalf("%s: message %q, want %q", a.name, m, a.message)
			}
		} else if diff := cmp.Diff(map[string]any{"userId": activeUserID, "username": DemoActiveUsername,
			"lastLoginTime": "2026-11-20T10:15:01.250Z"}, r.json(t)); diff != "" {
			t.Fatalf("%s: body (-want +got):\n%s", a.name, diff)
		}
		if n := e.vcc.FailedLogins(activeUserID); n != a.failures {
			t.Fatalf("%s: failed logins %d, want %d", a.name, n, a.failures)
		}
		if l := locked(); l != a.locked {
			t.Fatalf("%s: locked %v, want %v", a.name, l, a.locked)
		}
	}
	if u, _ := e.vcc.User(activeUserID); u.User.LastLoginTime != at.Format("2006-01-02T15:04:05.000Z07:00") {
		t.Fatalf("lastLoginTime %q", u.User.LastLoginTime)
	}
	if w := e.vcc.Stats().Writes; w != 0 {
		t.Fatalf("logins counted as %d API writes", w)
	}

	e.run([]step{
		{"locking through the API is refused", "PATCH", "/useradmin/users/" + templateAgentID, `{"locked":true}`, 400,
			"locked is read-only: unlock with POST /users/{userId}/unlock"},
		{"a password reset does not unlock", "POST", "/useradmin/users/" + activeUserID + "/forgotPassword", "", 200, ""},
	})
	if r := e.login(DemoActiveUsername, "s3cret"); r.status != 423 {
		t.Fatalf("after a password reset: %d %s", r.status, r.body)
	}
	if r := e.must(200, "POST", "/useradmin/users/"+activeUserID+"/unlock", ""); len(r.body) != 0 {
		t.Fatalf("unlock answered with a body: %s", r.body)
	}
	if locked() {
		t.Fatal("POST unlock left the user locked")
	}
	if n := e.vcc.FailedLogins(activeUserID); n != 0 {
		t.Fatalf("failed logins after unlock %d, want 0", n)
	}
	// After an unlock it takes five new failures to lock again.
	for i := range 4 {
		if r := e.login(DemoActiveUsername, "guess"); r.status != 401 || locked() {
			t.Fatalf("failure %d after unlock: %d, locked %v", i+1, r.status, locked())
		}
	}
	if r := e.login(DemoActiveUsername, "s3cret"); r.status != 200 {
		t.Fatalf("right password after unlock: %d %s", r.status, r.body)
	}
	// Unlocking also clears failures of a user who is not locked.
	e.login(DemoActiveUsername, "guess")
	e.must(200, "POST", "/useradmin/users/"+activeUserID+"/unlock", "")
	if n := e.vcc.FailedLogins(activeUserID); n != 0 {
		t.Fatalf("failed logins after POST unlock %d, want 0", n)
	}
	// So does clearing Locked through Go, as the portal's Unlock would.
	for range 5 {
		e.login(DemoActiveUsername, "guess")
	}
	if err := e.vcc.ModifyUser(activeUserID, func(r *VCCUserRecord) { r.User.Locked = false }); err != nil {
		t.Fatal(err)
	}
	if n := e.vcc.FailedLogins(activeUserID); n != 0 || locked() {
		t.Fatalf("after ModifyUser unlock: %d failures, locked %v", n, locked())
	}

	others := []struct {
		name, method, body string
		status             int
		message            string
	}{
		{"unknown user", "POST", `{"username":"nobody@acme.example","password":"x"}`, 401, bad},
		{"user without a password", "POST", `{"username":"` + DemoAdminUsername + `","password":"x"}`, 401, bad},
		{"username in another case", "POST", `{"username":"ALICE.ARCHER@demo.example","password":"s3cret"}`, 200, ""},
		{"archived user, right password", "POST", `{"username":"` + DemoArchivedUsername + `","password":"b0b"}`, 403, "account archived"},
		{"archived user, wrong password", "POST", `{"username":"` + DemoArchivedUsername + `","password":"x"}`, 401, bad},
		{"no password", "POST", `{"username":"` + DemoActiveUsername + `"}`, 400, "password is required"},
		{"empty username", "POST", `{"username":"","password":"x"}`, 400, "username is required"},
		{"malformed", "POST", `{"username":`, 400, "Invalid request body: unexpected EOF"},
		{"GET", "GET", "", 405, "The requested resource does not support http method 'GET'."},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(tt.method, VCCLoginPath, "", "", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.message != "" {
				if m := r.message(t); m != tt.message {
					t.Fatalf("message %q, want %q", m, tt.message)
				}
			}
		})
	}
	if n := e.vcc.FailedLogins(adminUserID); n != 1 {
		t.Fatalf("failed logins of a user without a password %d, want 1", n)
	}
}

func TestForgotPassword(t *testing.T) {
	clock, at := fixedClock()
	e := newEnv(t, VCCOptions{Now: clock})
	reader := e.token(readerID, readerSecret, "users:read")
	tests := []struct {
		name, id, token string
		status          int
		message         string
	}{
		{"active user", activeUserID, e.admin, 200, ""},
		{"again: a second email", activeUserID, e.admin, 200, ""},
		{"admin user", adminUserID, e.admin, 200, ""},
		{"archived user", archivedUserID, e.admin, 409,
			"User " + archivedUserID + " is archived: revert it to active before resetting its password"},
		{"unknown user", "00000000-0000-4000-8000-000000000000", e.admin, 404, "User not found"},
		{"without users:write", activeUserID, reader, 403, "Forbidden: the token lacks the users:write scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw("POST", "/useradmin/users/"+tt.id+"/forgotPassword", tt.token, VCCAcceptV4, "")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.message == "" {
				if len(r.body) != 0 {
					t.Fatalf("200 with a body: %s", r.body)
				}
				return
			}
			if m := r.message(t); m != tt.message {
				t.Fatalf("message %q, want %q", m, tt.message)
			}
		})
	}
	want := []PasswordReset{
		{UserID: activeUserID, Email: DemoActiveUsername, At: at},
		{UserID: activeUserID, Email: DemoActiveUsername, At: at},
		{UserID: adminUserID, Email: DemoAdminUsername, At: at},
	}
	got := e.vcc.PasswordResets()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outbox (-want +got):\n%s", diff)
	}
	got[0].Email = "changed"
	if e.vcc.PasswordResets()[0].Email != DemoActiveUsername {
		t.Fatal("PasswordResets shares memory with the outbox")
	}
	if diff := cmp.Diff(map[string]map[string]int{activeUserID: {"POST": 2}, adminUserID: {"POST": 1}}, e.vcc.Stats().WritesByUser); diff != "" {
		t.Fatalf("writes: want one POST per reset sent and none for a refusal (-want +got):\n%s", diff)
	}
	if r := e.api("GET", "/useradmin/users/"+activeUserID+"/forgotPassword", ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET forgotPassword: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := e.api("POST", "/useradmin/users/"+activeUserID+"/passwordReset", ""); r.status != 404 {
		t.Fatalf("POST passwordReset (the old route): %d", r.status)
	}
	e.vcc.ResetStats()
	if len(e.vcc.PasswordResets()) != 3 {
		t.Fatal("ResetStats emptied the outbox")
	}
}

func TestCredentialsBlockDelete(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	for _, c := range []string{"bob-cli", "bob-etl"} {
		if err := e.vcc.AddUserCredential(archivedUserID, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.vcc.AddUserCredential(activeUserID, "alice-cli"); err != nil {
		t.Fatal(err)
	}
	goErrs := []struct {
		name string
		err  error
	}{
		{"add to an unknown user", e.vcc.AddUserCredential("nope", "x")},
		{"add an empty client ID", e.vcc.AddUserCredential(activeUserID, "")},
		{"add a credential of another user", e.vcc.AddUserCredential(activeUserID, "bob-cli")},
		{"remove from an unknown user", e.vcc.RemoveUserCredential("nope", "x")},
		{"remove a credential the user lacks", e.vcc.RemoveUserCredential(activeUserID, "bob-cli")},
	}
	for _, g := range goErrs {
		if g.err == nil {
			t.Errorf("%s: no error", g.name)
		}
	}
	if got := e.vcc.UserCredentials(archivedUserID); !slices.Equal(got, []string{"bob-cli", "bob-etl"}) {
		t.Fatalf("UserCredentials %v", got)
	}
	// VCC documents no endpoint for a user's API credentials.
	e.must(404, "GET", "/useradmin/users/"+archivedUserID+"/credentials", "")

	rw := e.token(rwID, rwSecret, "users:read users:write")
	if r := e.raw("DELETE", "/useradmin/users/"+archivedUserID, rw, VCCAcceptV4, ""); r.status != 403 {
		t.Fatalf("non-admin delete: %d %s", r.status, r.body)
	}
	e.run([]step{
		{"active user with credentials: archive first", "DELETE", "/useradmin/users/" + activeUserID, "", 409,
			"User must be archived before it can be deleted"},
		{"archived user with two credentials", "DELETE", "/useradmin/users/" + archivedUserID, "", 409, MsgDeleteWithCredentials},
	})
	if err := e.vcc.RemoveUserCredential(archivedUserID, "bob-cli"); err != nil {
		t.Fatal(err)
	}
	e.run([]step{{"archived user with one credential", "DELETE", "/useradmin/users/" + archivedUserID, "", 409, MsgDeleteWithCredentials}})
	if err := e.vcc.RemoveUserCredential(archivedUserID, "bob-etl"); err != nil {
		t.Fatal(err)
	}
	if got := e.vcc.UserCredentials(archivedUserID); len(got) != 0 {
		t.Fatalf("credentials left %v", got)
	}
	e.run([]step{{"archived user without credentials", "DELETE", "/useradmin/users/" + archivedUserID, "", 204, ""}})
	if diff := cmp.Diff(map[string]int{"DELETE": 1}, e.vcc.Stats().WritesByUser[archivedUserID]); diff != "" {
		t.Fatalf("writes of the deleted user: want one DELETE (-want +got):\n%s", diff)
	}
	// A removed credential can be given to another user.
	if err := e.vcc.AddUserCredential(activeUserID, "bob-cli"); err != nil {
		t.Fatal(err)
	}
}

func TestArchivedUserCredentialGetsNoToken(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	if err := e.vcc.AddClient(VCCClient{ID: "alice-cli", Secret: "alice-secret", Scopes: []string{VCCScopeRead}}); err != nil {
		t.Fatal(err)
	}
	if err := e.vcc.AddUserCredential(activeUserID, "alice-cli"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"alice-cli"}, "client_secret": {"alice-secret"}, "scope": {"users:read"}}
	steps := []struct {
		name, patch string
		status      int
		body        map[string]any
	}{
		{"active owner", "", 200, nil},
		{"archived owner", `{"active":false}`, 401,
			map[string]any{"error": "invalid_client", "error_description": "The user who owns these API credentials is archived"}},
		{"reverted owner", `{"active":true}`, 200, nil},
	}
	for _, s := range steps {
		if s.patch != "" {
			e.must(200, "PATCH", "/useradmin/users/"+activeUserID, s.patch)
		}
		r := e.tokenRequest(form, "", "")
		if r.status != s.status {
			t.Fatalf("%s: status %d, want %d; body %s", s.name, r.status, s.status, r.body)
		}
		if s.body != nil {
			if diff := cmp.Diff(s.body, r.json(t)); diff != "" {
				t.Fatalf("%s: body (-want +got):\n%s", s.name, diff)
			}
		}
	}
}

func TestActAsAgent(t *testing.T) {
	const (
		idRequired = "userAccountConfiguration.agentConfiguration.agentDisplayId is required when actAsAgent is true"
		fixed9902  = "agentDisplayId cannot be changed once set (it is 9902)"
	)
	e := newEnv(t, VCCOptions{})
	wall := decode[VCCUser](t, e.must(201, "POST", "/useradmin/users",
		`{"username":"wall@acme.example","name":"Wall","email":"wall@acme.example","userAccountConfiguration":{"role":"Wallboard"}}`).body).UserID
	sup := "/useradmin/users/" + supervisorTemplateID
	e.run([]step{
		{"supervisor denied", "PATCH", sup, `{"userAccountConfiguration":{"actAsAgent":false}}`, 200, ""},
		{"clearing the ID while denied", "PATCH", sup,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":""}}}`, 400, fixed9902},
		{"changing the ID while denied", "PATCH", sup,
			`{"userAccountConfiguration":{"actAsAgent":false,"agentConfiguration":{"agentDisplayId":"7777"}}}`, 400, fixed9902},
		{"the same ID while denied", "PATCH", sup,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"9902"}}}`, 200, ""},
		{"the kept ID stays taken", "POST", "/useradmin/users", newAgentBody("x@acme.example", "9902"), 409,
			"agentDisplayId 9902 is already in use by another user"},
	})
	if a := e.agentConfig(supervisorTemplateID); a != nil {
		t.Fatalf("agentConfiguration shown while denied: %v", a)
	}
	if rec, _ := e.vcc.User(supervisorTemplateID); rec.User.agentID() != "9902" || rec.User.Config.Agent.Location != "US" {
		t.Fatalf("agent settings not kept while denied: %+v", rec.User.Config.Agent)
	}
	e.run([]step{
		{"supervisor allowed again, no ID needed", "PATCH", sup, `{"userAccountConfiguration":{"actAsAgent":true}}`, 200, ""},
		{"clearing the ID while allowed", "PATCH", sup,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":""}}}`, 400, fixed9902},
		{"changing the ID while allowed", "PATCH", sup,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"9903"}}}`, 400, fixed9902},
	})
	a := e.agentConfig(supervisorTemplateID)
	if a["agentDisplayId"] != "9902" || a["location"] != "US" || a["telephonyAddress"].(map[string]any)["outboundTelephonyRegion"] != DemoRegionNAMEast {
		t.Fatalf("agentConfiguration when allowed again: %v", a)
	}

	w := "/useradmin/users/" + wall
	e.run([]step{
		{"wallboard allowed for the first time without an ID", "PATCH", w, `{"userAccountConfiguration":{"actAsAgent":true}}`, 400, idRequired},
		{"with an empty ID", "PATCH", w,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":""}}}`, 400, idRequired},
		{"an ID sent while denied is not a grant", "PATCH", w,
			`{"userAccountConfiguration":{"agentConfiguration":{"agentDisplayId":"4001"}}}`, 200, ""},
		{"still no ID when allowed", "PATCH", w, `{"userAccountConfiguration":{"actAsAgent":true}}`, 400, idRequired},
		{"wallboard granted with an ID", "PATCH", w,
			`{"userAccountConfiguration":{"actAsAgent":true,"agentConfiguration":{"agentDisplayId":"4001","location":"DE"}}}`, 200, ""},
		{"wallboard denied", "PATCH", w, `{"userAccountConfiguration":{"actAsAgent":false}}`, 200, ""},
		{"wallboard allowed again", "PATCH", w, `{"userAccountConfiguration":{"actAsAgent":true}}`, 200, ""},
		{"an agent cannot be denied", "PATCH", "/useradmin/users/" + activeUserID,
			`{"userAccountConfiguration":{"actAsAgent":false}}`, 400, "userAccountConfiguration.actAsAgent cannot be false for a user with role Agent"},
	})
	if a := e.agentConfig(wall); a["agentDisplayId"] != "4001" || a["location"] != "DE" {
		t.Fatalf("wallboard agentConfiguration %v", a)
	}
	if e.vcc.Stats().WritesByUser[supervisorTemplateID]["PATCH"] != 3 {
		t.Fatalf("supervisor writes %v, want 3 PATCHes", e.vcc.Stats().WritesByUser[supervisorTemplateID])
	}
}

func TestAgentSettingsRoundTrip(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	tests := []struct {
		name, body string
		status     int
		message    string
		change     func(a *VCCAgentConfig) // applied to the expected settings on success
	}{
		{"enforced disposition codes off", `{"enforcedDispositionCodes":false}`, 200, "",
			func(a *VCCAgentConfig) { a.EnforcedDispositionCodes = false }},
		{"enforced disposition codes on", `{"enforcedDispositionCodes":true}`, 200, "",
			func(a *VCCAgentConfig) { a.EnforcedDispositionCodes = true }},
		{"call recording controls off", `{"callRecordingControls":false}`, 200, "",
			func(a *VCCAgentConfig) { a.CallRecordingControls = false }},
		{"screen recording on", `{"screenRecording":true}`, 200, "",
			func(a *VCCAgentConfig) { a.ScreenRecording = true }},
		{"capacity replaced whole: the account's default", `{"capacity":{"isAgentLevel":false}}`, 200, "",
			func(a *VCCAgentConfig) { a.Capacity = VCCCapacity{} }},
		{"capacity: the agent's own", `{"capacity":{"isAgentLevel":true,"live":0,"nonLive":100,"semiLive":50}}`, 200, "",
			func(a *VCCAgentConfig) {
				a.Capacity = VCCCapacity{IsAgentLevel: true, Live: 0, NonLive: 100, SemiLive: 50}
			}},
		{"capacity: one percentage clears the others", `{"capacity":{"semiLive":25}}`, 200, "",
			func(a *VCCAgentConfig) { a.Capacity = VCCCapacity{SemiLive: 25} }},
		{"capacity: nonlive spelt the old way", `{"capacity":{"isAgentLevel":true,"nonlive":10}}`, 200, "",
			func(a *VCCAgentConfig) { a.Capacity = VCCCapacity{IsAgentLevel: true, NonLive: 10} }},
		{"capacity: negative", `{"capacity":{"nonLive":-1}}`, 400,
			"userAccountConfiguration.agentConfiguration.capacity.nonLive must be a percentage between 0 and 100", nil},
		{"capacity: over 100", `{"capacity":{"isAgentLevel":true,"semiLive":101}}`, 400,
			"userAccountConfiguration.agentConfiguration.capacity.semiLive must be a percentage between 0 and 100", nil},
		{"capacity: not a number", `{"capacity":{"live":"half"}}`, 400,
			"Invalid request body: json: cannot unmarshal string into Go struct field VCCCapacity.userAccountConfiguration.agentConfiguration.capacity.live of type int", nil},
		{"all four at once", `{"enforcedDispositionCodes":false,"callRecordingControls":true,"screenRecording":false,"capacity":{"isAgentLevel":false}}`, 200, "",
			func(a *VCCAgentConfig) {
				a.EnforcedDispositionCodes, a.CallRecordingControls, a.ScreenRecording, a.Capacity = false, true, false, VCCCapacity{}
			}},
		{"auto-answer off", `{"outboundAutoanswer":false,"inboundAutoanswer":false}`, 200, "",
			func(a *VCCAgentConfig) { a.OutboundAutoAnswer, a.InboundAutoAnswer = false, false }},
		{"timespans", `{"outboundWrapUp":0,"backToReadyAfterNoAnswer":1,"backToReadyAfterLineBusy":2,"backToReadyAfterInvalidNumber":3,"backToReadyAfterNetworkIssue":4}`, 200, "",
			func(a *VCCAgentConfig) {
				a.OutboundWrapUp, a.BackToReadyAfterNoAnswer, a.BackToReadyAfterLineBusy = 0, 1, 2
				a.BackToReadyAfterInvalidNumber, a.BackToReadyAfterNetworkIssue = 3, 4
			}},
		{"negative timespan", `{"backToReadyAfterLineBusy":-5}`, 400,
			"userAccountConfiguration.agentConfiguration.backToReadyAfterLineBusy cannot be negative", nil},
		{"call rating and real-time transcription", `{"callRatingFrequency":100,"transcribeCallsRealTime":false,"salesCadence":false}`, 200, "",
			func(a *VCCAgentConfig) {
				a.CallRatingFrequency, a.TranscribeCallsRealTime, a.SalesCadence = 100, false, false
			}},
		{"call rating below 0", `{"callRatingFrequency":-1}`, 400,
			"userAccountConfiguration.agentConfiguration.callRatingFrequency must be a percentage between 0 and 100", nil},
		{"telephonyAddress replaced whole", `{"telephonyAddress":{"telephoneAddress":"9901","nationalDisplay":false,"virtualLocation":"IE"}}`, 200, "",
			func(a *VCCAgentConfig) {
				a.TelephonyAddress = VCCTelephonyAddress{TelephoneAddress: "9901", VirtualLocation: "IE"}
			}},
	}
	rec, _ := e.vcc.User(templateAgentID)
	want := *rec.User.Config.Agent
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.vcc.WriteCount(templateAgentID, "PATCH")
			r := e.api("PATCH", "/useradmin/users/"+templateAgentID, `{"userAccountConfiguration":{"agentConfiguration":`+tt.body+`}}`)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.change == nil {
				if m := r.message(t); m != tt.message {
					t.Fatalf("message %q, want %q", m, tt.message)
				}
				if e.vcc.WriteCount(templateAgentID, "PATCH") != before {
					t.Fatal("a refused PATCH counted as a write")
				}
			} else {
				tt.change(&want)
				if got := decode[VCCUser](t, r.body).Config.Agent; got == nil || *got != want {
					t.Fatalf("reply agentConfiguration\n%+v\nwant\n%+v", got, want)
				}
			}
			got := decode[VCCUser](t, e.must(200, "GET", "/useradmin/users/"+templateAgentID, "").body).Config.Agent
			if got == nil || *got != want {
				t.Fatalf("GET agentConfiguration\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestSkillLevelRange(t *testing.T) {
	e := newEnv(t, VCCOptions{MaxSkillLevel: 8}) // the demo templates use up to 8
	path := "/useradmin/users/" + templateAgentID + "/skills"
	tests := []struct {
		level   string
		status  int
		message string
	}{
		{"1", 200, ""},
		{"8", 200, ""},
		{`"8"`, 200, ""},
		{"0", 400, "agentSkills: agentSkillLevel of skill s1 must be between 1 and 8"},
		{"-3", 400, "agentSkills: agentSkillLevel of skill s1 must be between 1 and 8"},
		{"9", 400, "agentSkills: agentSkillLevel of skill s1 must be between 1 and 8"},
		{`"9"`, 400, "agentSkills: agentSkillLevel of skill s1 must be between 1 and 8"},
		{"10", 400, "agentSkills: agentSkillLevel of skill s1 must be between 1 and 8"},
		{`"six"`, 400, `Invalid request body: agentSkillLevel "six" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			r := e.api("PUT", path, `{"agentSkills":[{"skillId":"s1","agentSkillLevel":`+tt.level+`}]}`)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.message != "" {
				if m := r.message(t); m != tt.message {
					t.Fatalf("message %q, want %q", m, tt.message)
				}
			}
		})
	}
	rec, _ := e.vcc.User(templateAgentID)
	if diff := cmp.Diff([]VCCSkill{{"s1", 8}}, rec.Skills); diff != "" {
		t.Fatalf("stored skills (-want +got):\n%s", diff)
	}
	if _, err := e.vcc.AddUser(VCCUserRecord{User: VCCUser{Username: "k@acme.example", Name: "K", Email: "k@acme.example", Active: true,
		Config: VCCAccountConfig{Role: VCCRoleAdmin}}, Skills: []VCCSkill{{"s1", 9}}}); err == nil ||
		!strings.Contains(err.Error(), "level 9: want an id and a level between 1 and 8") {
		t.Fatalf("AddUser with level 9: %v", err)
	}
}

func TestWriteLogAndNoops(t *testing.T) {
	clock, at := fixedClock()
	e := newEnv(t, VCCOptions{Now: clock})
	groups := "/useradmin/users/" + activeUserID + "/groups"
	e.run([]step{
		{"a change", "PATCH", "/useradmin/users/" + activeUserID + "?allowOverages=false", `{"name":"Alice B. Archer"}`, 200, ""},
		{"the same again", "PATCH", "/useradmin/users/" + activeUserID, `{"name":"Alice B. Archer"}`, 200, ""},
		{"an empty PATCH", "PATCH", "/useradmin/users/" + activeUserID, `{}`, 200, ""},
		{"the groups she has", "PUT", groups, `{"agentGroups":[{"groupId":"3f9a2b10-6c4d-4e8f-a1b2-c3d400000001"}]}`, 200, ""},
		{"new groups", "PUT", groups, `{"agentGroups":[]}`, 200, ""},
		{"a refusal is not logged", "PATCH", "/useradmin/users/" + activeUserID, `{"name":""}`, 400, "name is required"},
		{"a password reset", "POST", "/useradmin/users/" + activeUserID + "/forgotPassword", "", 200, ""},
	})
	want := []VCCWrite{
		{Method: "PATCH", Path: "/useradmin/users/" + activeUserID + "?allowOverages=false", UserID: activeUserID, Body: []byte(`{"name":"Alice B. Archer"}`), Changed: true, At: at},
		{Method: "PATCH", Path: "/useradmin/users/" + activeUserID, UserID: activeUserID, Body: []byte(`{"name":"Alice B. Archer"}`), Changed: false, At: at},
		{Method: "PATCH", Path: "/useradmin/users/" + activeUserID, UserID: activeUserID, Body: []byte(`{}`), Changed: false, At: at},
		{Method: "PUT", Path: groups, UserID: activeUserID, Body: []byte(`{"agentGroups":[{"groupId":"3f9a2b10-6c4d-4e8f-a1b2-c3d400000001"}]}`), Changed: false, At: at},
		{Method: "PUT", Path: groups, UserID: activeUserID, Body: []byte(`{"agentGroups":[]}`), Changed: true, At: at},
		{Method: "POST", Path: "/useradmin/users/" + activeUserID + "/forgotPassword", UserID: activeUserID, Changed: true, At: at},
	}
	if diff := cmp.Diff(want, e.vcc.WriteLog()); diff != "" {
		t.Fatalf("write log (-want +got):\n%s", diff)
	}
	if got := e.vcc.WritesTo(activeUserID); len(got) != 6 || len(e.vcc.WritesTo(templateAgentID)) != 0 {
		t.Fatalf("WritesTo: %d for Alice", len(got))
	}
	// A no-op still counts as a write, and as a no-op.
	if n, noop := e.vcc.WriteCount(activeUserID, ""), e.vcc.NoopWriteCount(activeUserID); n != 6 || noop != 3 || e.vcc.NoopWriteCount("") != 3 {
		t.Fatalf("writes %d, no-ops %d; want 6 and 3", n, noop)
	}
	log := e.vcc.WriteLog()
	log[0].Body[0] = 'X'
	if e.vcc.WriteLog()[0].Body[0] != '{' {
		t.Fatal("WriteLog shares memory with the log")
	}
	e.vcc.ResetStats()
	if len(e.vcc.WriteLog()) != 0 || e.vcc.NoopWriteCount("") != 0 {
		t.Fatal("ResetStats kept the write log or the no-ops")
	}

	for _, tt := range []struct {
		limit, writes, kept int
	}{{2, 5, 2}, {3, 7, 3}, {-1, 3, 0}} {
		small := newEnv(t, VCCOptions{WriteLogLimit: tt.limit})
		for i := range tt.writes {
			small.must(200, "PATCH", "/useradmin/users/"+activeUserID, `{"name":"N`+string(rune('0'+i))+`"}`)
		}
		log := small.vcc.WriteLog()
		if len(log) != tt.kept {
			t.Fatalf("limit %d: %d entries, want %d", tt.limit, len(log), tt.kept)
		}
		if tt.kept > 0 && string(log[len(log)-1].Body) != `{"name":"N`+string(rune('0'+tt.writes-1))+`"}` {
			t.Fatalf("limit %d: last entry %s", tt.limit, log[len(log)-1].Body)
		}
		if small.vcc.WriteCount(activeUserID, "PATCH") != tt.writes {
			t.Fatalf("limit %d: the log limit changed the counts", tt.limit)
		}
	}
}
