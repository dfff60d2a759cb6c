package sandbox

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSalesforceID18(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "00D5e000000KQ2e", want: "00D5e000000KQ2eEAG"},
		{in: "00D5e000000KQ2eEAG", want: "00D5e000000KQ2eEAG"},
		{in: "00e5e000000AgtV", want: "00e5e000000AgtVAAS"},
		{in: "0055e000001Jane", want: "0055e000001JaneAAC"},
		{in: "001000000000000", want: "001000000000000AAA"},
		{in: "0055e000001JaneAAA", err: `checksum suffix "AAA", want "AAC"`},
		{in: "0055e000001Jan", err: "14 characters"},
		{in: "0055e000001Jan!", err: `character '!'`},
	}
	for _, tt := range tests {
		got, err := SalesforceID18(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%s: %q %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSFSeedDemo(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	if e.sf.OrgID() != DemoSFOrgID {
		t.Fatalf("org %s", e.sf.OrgID())
	}
	for short, full := range map[string]string{"00e5e000000AgtV": DemoSFAgentProfileID, "00e5e000000SupV": DemoSFSupervisorProfileID} {
		if got := mustSFID18(short); got != full {
			t.Errorf("%s: %s, want %s", short, got, full)
		}
	}
	users := e.sf.Users()
	var ids, noPerm []string
	for _, u := range users {
		ids = append(ids, u.ID)
		if !u.ContactCenterPermission() {
			noPerm = append(noPerm, u.ID)
		}
		if !u.IsActive || !sfAliasRE.MatchString(u.Alias) {
			t.Errorf("demo user %+v", u)
		}
	}
	want := []string{DemoSFJaneID, DemoSFOmarID, DemoSFLenaID, DemoSFPriyaID, DemoSFTomID, DemoSFAnaID}
	if !slices.Equal(ids, want) || !slices.Equal(noPerm, []string{DemoSFLenaID}) {
		t.Fatalf("users %v (without permission set %v)", ids, noPerm)
	}
	if p, _ := e.sf.User(DemoSFPriyaID); p.ProfileID != DemoSFSupervisorProfileID || p.Alias != "pnataraj" || p.FederationIdentifier != "pnatarajan" {
		t.Fatalf("Priya %+v", p)
	}
	if m := e.sf.Members(DemoSFContactCenterLondon); len(m) != 1 || m[0].UserID != DemoSFJaneID ||
		m[0].TelephonyUsername != "jsmith@0055e000001JaneAAC@00D5e000000KQ2eEAG" {
		t.Fatalf("London members %+v", m)
	}
	if m := e.sf.Members(DemoSFContactCenterNewYork); len(m) != 0 {
		t.Fatalf("New York members %+v", m)
	}
	if cc := e.sf.ContactCenters(); len(cc) != 2 || cc[0].ID != DemoSFContactCenterLondon || cc[1].Name != "New York Contact Center" {
		t.Fatalf("contact centers %+v", cc)
	}
	if err := e.sf.SeedDemo(); err == nil {
		t.Fatal("seeding twice succeeded")
	}
}

func TestSFGetUser(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	want := `{"attributes":{"type":"User","url":"/services/data/v61.0/sobjects/User/0055e000001JaneAAC"},` +
		`"Id":"0055e000001JaneAAC","Username":"jane.smith@demo.example","LastName":"Smith","FirstName":"Jane",` +
		`"Alias":"jsmith","Email":"jane.smith@demo.example","IsActive":true,"FederationIdentifier":"jsmith",` +
		`"ProfileId":"00e5e000000AgtVAAS","CallCenterId":"04v5e000000LdnCAAS","NVMContactWorld__NVM_Agent_Id__c":"1042",` +
		`"LastModifiedDate":"2026-11-20T10:15:00.000+0000","SystemModstamp":"2026-11-20T10:15:00.000+0000"}` + "\n"
	for _, id := range []string{DemoSFJaneID, id15(DemoSFJaneID)} {
		if r := e.must(200, "GET", sfUser+id, ""); string(r.body) != want {
			t.Fatalf("GET %s:\n%s\nwant\n%s", id, r.body, want)
		}
	}
	r := e.must(200, "GET", sfUser+DemoSFOmarID, "")
	omar := r.json(t)
	if omar["CallCenterId"] != nil || omar["NVMContactWorld__NVM_Agent_Id__c"] != nil {
		t.Fatalf("Omar %v: empty fields must be null", omar)
	}
	if _, ok := omar["CallCenterId"]; !ok {
		t.Fatal("an empty field must be present as null")
	}
	if ts := omar["SystemModstamp"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`).MatchString(ts) {
		t.Fatalf("SystemModstamp %q", ts)
	}
	if got := string(e.must(200, "GET", sfUser+DemoSFJaneID+"?fields=alias,Email", "").body); got !=
		`{"attributes":{"type":"User","url":"/services/data/v61.0/sobjects/User/0055e000001JaneAAC"},"Alias":"jsmith","Email":"jane.smith@demo.example"}`+"\n" {
		t.Fatalf("fields=alias,Email: %s", got)
	}
	wantSFError(t, e.api("GET", sfUser+DemoSFJaneID+"?fields=Foo", ""), 400, "INVALID_FIELD", "No such column 'Foo' on entity 'User'…")
	wantSFError(t, e.api("GET", sfUser+"0055e000001Nobo", ""), 404, "NOT_FOUND", "The requested resource does not exist")
	wantSFError(t, e.api("GET", sfUser+"jane", ""), 404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: jane")
	wantSFError(t, e.api("GET", sfUser+"0055e000001JaneAAA", ""), 404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: 0055e000001JaneAAA")
	wantSFError(t, e.api("GET", "/services/data/61/sobjects/User/"+DemoSFJaneID, ""), 404, "NOT_FOUND", "The requested resource does not exist")
	wantSFError(t, e.api("GET", sfV+"/sobjects/Account/001000000000000", ""), 404, "NOT_FOUND", "The requested resource does not exist")
	wantSFError(t, e.api("PUT", sfUser+DemoSFJaneID, "{}"), 405, "METHOD_NOT_ALLOWED", "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH")
	wantSFError(t, e.api("GET", SFApexRESTRoot+"/nothing", ""), 404, "NOT_FOUND", "Could not find a match for URL")
	// Salesforce also accepts the "OAuth" authorization scheme.
	if r := e.raw("GET", sfUser+DemoSFJaneID, "", ""); r.status != 401 {
		t.Fatal(r.status)
	}
	req, _ := http.NewRequest("GET", e.url+sfUser+DemoSFJaneID, nil)
	req.Header.Set("Authorization", "OAuth "+e.token)
	if r := e.send(req); r.status != 200 {
		t.Fatalf("OAuth scheme: %d", r.status)
	}
}

func TestSFPatchUser(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	before, _ := e.sf.User(DemoSFJaneID)
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name, body string
		status     int
		code, msg  string
		fields     []string
	}{
		{"alias with a space", `{"Alias":"j smith"}`, 400, "FIELD_INTEGRITY_EXCEPTION", `Alias: invalid characters in "j smith": use only A-Z a-z 0-9 _ . -`, []string{"Alias"}},
		{"alias with a plus", `{"Alias":"j+smith"}`, 400, "FIELD_INTEGRITY_EXCEPTION", `Alias: invalid characters in "j+smith": use only A-Z a-z 0-9 _ . -`, []string{"Alias"}},
		{"alias non-ASCII", `{"Alias":"jösmith"}`, 400, "FIELD_INTEGRITY_EXCEPTION", `Alias: invalid characters in "jösmith": use only A-Z a-z 0-9 _ . -`, []string{"Alias"}},
		{"alias of 9", `{"Alias":"abcdefghi"}`, 400, "FIELD_INTEGRITY_EXCEPTION", "Alias: data value too large: abcdefghi (max length=8)", []string{"Alias"}},
		{"empty alias", `{"Alias":""}`, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Alias]", []string{"Alias"}},
		{"null alias", `{"Alias":null}`, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Alias]", []string{"Alias"}},
		{"null last name", `{"LastName":null,"Email":null}`, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Email]", []string{"LastName", "Email"}},
		{"last name too long", `{"LastName":"` + long(81) + `"}`, 400, "STRING_TOO_LONG", "LastName: data value too large: " + long(81) + " (max length=80)", []string{"LastName"}},
		{"bad email", `{"Email":"jane"}`, 400, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: jane", []string{"Email"}},
		{"duplicate username", `{"Username":"OMAR.haddad@demo.example"}`, 400, "DUPLICATE_USERNAME", "Duplicate Username.…", []string{"Username"}},
		{"duplicate federation ID", `{"FederationIdentifier":"ohaddad"}`, 400, "DUPLICATE_VALUE",
			"duplicate value found: FederationIdentifier duplicates value on record with id: " + DemoSFOmarID, []string{"FederationIdentifier"}},
		{"unknown profile", `{"ProfileId":"00e5e000000Nope"}`, 400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []string{"ProfileId"}},
		{"not a profile ID", `{"ProfileId":"0055e000001Omar"}`, 400, "INVALID_CROSS_REFERENCE_KEY", "Profile ID: id value of incorrect type: 0055e000001Omar", []string{"ProfileId"}},
		{"unknown field", `{"Nickname":"j"}`, 400, "INVALID_FIELD", "No such column 'Nickname' on sobject of type User", nil},
		{"read-only Id", `{"Id":"` + DemoSFJaneID + `"}`, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id. …", []string{"Id"}},
		{"unknown contact center", `{"CallCenterId":"04v5e000000Nope"}`, 400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []string{"CallCenterId"}},
		{"read-only SystemModstamp", `{"SystemModstamp":"2030-01-01T00:00:00.000+0000"}`, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: SystemModstamp. …", []string{"SystemModstamp"}},
		{"IsActive as a string", `{"IsActive":"false"}`, 400, "JSON_PARSER_ERROR", `Cannot deserialize instance of boolean from VALUE_STRING value "false" or request may be missing a required field`, nil},
		{"IsActive null", `{"IsActive":null}`, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "IsActive: value not of required type: null", []string{"IsActive"}},
		{"alias as a number", `{"Alias":5}`, 400, "JSON_PARSER_ERROR", "Cannot deserialize instance of string from VALUE_NUMBER_INT value 5 or request may be missing a required field", nil},
		{"not JSON", `{"Alias":`, 400, "JSON_PARSER_ERROR", "…", nil},
		{"an array", `[]`, 400, "JSON_PARSER_ERROR", "…", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSFError(t, e.api("PATCH", sfUser+DemoSFJaneID, tt.body), tt.status, tt.code, tt.msg, tt.fields...)
		})
	}
	if u, _ := e.sf.User(DemoSFJaneID); !sfSameRecord(u, before) || !u.SystemModstamp.Equal(before.SystemModstamp) || e.sf.WriteCount(DemoSFJaneID, "") != 0 {
		t.Fatalf("refused PATCHes changed Jane: %+v", u)
	}
	wantSFError(t, e.api("PATCH", sfUser+"0055e000001Nobo", `{"Alias":"x"}`), 404, "NOT_FOUND", "The requested resource does not exist")

	clock.Advance(time.Second)
	r := e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"attributes":{"type":"User"},"alias":"j.smi-th","FirstName":null,"IsActive":false,"NVMContactWorld__NVM_Agent_Id__c":"2042","ProfileId":"00e5e000000SupV"}`)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %q", r.body)
	}
	got := e.must(200, "GET", sfUser+DemoSFJaneID, "").json(t)
	for k, v := range map[string]any{
		"Alias": "j.smi-th", "FirstName": nil, "IsActive": false, "NVMContactWorld__NVM_Agent_Id__c": "2042",
		"ProfileId": DemoSFSupervisorProfileID, "CallCenterId": DemoSFContactCenterLondon,
		"LastModifiedDate": "2026-11-20T10:15:01.000+0000", "SystemModstamp": "2026-11-20T10:15:01.000+0000",
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// Two changes in the same millisecond still order.
	e.must(204, "PATCH", sfUser+id15(DemoSFJaneID), `{"FirstName":"Janet"}`)
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"FirstName":"Janet"}`)
	u, _ := e.sf.User(DemoSFJaneID)
	if want := time.Date(2026, 11, 20, 10, 15, 1, 2e6, time.UTC); !u.LastModifiedDate.Equal(want) || !u.SystemModstamp.Equal(want) {
		t.Fatalf("LastModifiedDate %v SystemModstamp %v, want %v", u.LastModifiedDate, u.SystemModstamp, want)
	}
	if e.sf.WriteCount(DemoSFJaneID, "PATCH") != 3 || e.sf.NoopWriteCount(DemoSFJaneID) != 1 {
		t.Fatalf("writes %d noops %d", e.sf.WriteCount(DemoSFJaneID, "PATCH"), e.sf.NoopWriteCount(DemoSFJaneID))
	}
	// Usernames compare case-insensitively, but a user may change the case of its own.
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Username":"Jane.Smith@demo.example"}`)
	if u, ok := e.sf.UserByUsername("JANE.SMITH@demo.example"); !ok || u.ID != DemoSFJaneID {
		t.Fatal("UserByUsername after a case change")
	}
}

func TestSFUserGoAPI(t *testing.T) {
	clock := newSFClock()
	sf := NewSalesforce(SalesforceOptions{Now: clock.Now})
	if err := sf.AddProfile("00e5e000000AgtV", "Agent"); err != nil {
		t.Fatal(err)
	}
	u, err := sf.AddUser(SFUser{Username: "a@x.example", Email: "a@x.example", LastName: "A", Alias: "a b", ProfileID: "00e5e000000AgtV", IsActive: true,
		PermissionSets: []string{SFPermissionSetAgent, SFPermissionSetAgent}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SalesforceID18(u.ID); err != nil || !strings.HasPrefix(u.ID, "005") || len(u.ID) != 18 {
		t.Fatalf("generated ID %q: %v", u.ID, err)
	}
	if u.ProfileID != DemoSFAgentProfileID || !u.LastModifiedDate.Equal(clock.Now()) || len(u.PermissionSets) != 1 {
		t.Fatalf("added %+v", u)
	}
	for _, bad := range []SFUser{
		{Username: "a@x.example", Email: "a@x.example", LastName: "B", Alias: "b", ProfileID: DemoSFAgentProfileID},
		{ID: "0015e000001Abcd", Username: "c@x.example", Email: "c@x.example", LastName: "C", Alias: "c", ProfileID: DemoSFAgentProfileID},
		{Username: "d@x.example", Email: "d@x.example", LastName: "D", Alias: "d", ProfileID: DemoSFAgentProfileID, CallCenterID: DemoSFContactCenterLondon},
		{Username: "e@x.example", Email: "e@x.example", Alias: "e", ProfileID: DemoSFAgentProfileID},
		{Username: "f@x.example", Email: "f@x.example", LastName: "F", Alias: "f", ProfileID: DemoSFSupervisorProfileID},
	} {
		if _, err := sf.AddUser(bad); err == nil {
			t.Errorf("AddUser(%+v) succeeded", bad)
		}
	}
	got, _ := sf.User(u.ID)
	got.PermissionSets[0] = "changed"
	if again, _ := sf.User(u.ID); again.PermissionSets[0] != SFPermissionSetAgent {
		t.Fatal("User returned a shared slice")
	}
	clock.Advance(time.Second)
	if err := sf.ModifyUser(u.ID, func(x *SFUser) { x.Alias = "ab"; x.CallCenterID = "ignored" }); err != nil {
		t.Fatal(err)
	}
	got, _ = sf.User(u.ID)
	if got.Alias != "ab" || got.CallCenterID != "" || !got.SystemModstamp.Equal(clock.Now()) {
		t.Fatalf("after ModifyUser %+v", got)
	}
	at := time.Date(2020, 1, 1, 0, 0, 0, 123456789, time.UTC)
	if err := sf.ModifyUser(u.ID, func(x *SFUser) { x.SystemModstamp, x.LastModifiedDate = at, at }); err != nil {
		t.Fatal(err)
	}
	if got, _ = sf.User(u.ID); !got.SystemModstamp.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("explicit SystemModstamp %v", got.SystemModstamp)
	}
	if err := sf.ModifyUser(u.ID, func(x *SFUser) { x.Email = "" }); err == nil {
		t.Fatal("ModifyUser cleared a required field")
	}
	if err := sf.ModifyUser("0055e000001Nobo", func(*SFUser) {}); err == nil {
		t.Fatal("ModifyUser of an unknown user succeeded")
	}
	stamp := got.SystemModstamp
	if err := sf.AssignPermissionSet(u.ID, SFPermissionSetAdmin); err != nil {
		t.Fatal(err)
	}
	if err := sf.RemovePermissionSet(u.ID, SFPermissionSetAgent); err != nil {
		t.Fatal(err)
	}
	if got, _ = sf.User(u.ID); !slices.Equal(got.PermissionSets, []string{SFPermissionSetAdmin}) || !got.SystemModstamp.Equal(stamp) {
		t.Fatalf("permission sets %v, SystemModstamp %v (want unchanged %v)", got.PermissionSets, got.SystemModstamp, stamp)
	}
	if err := sf.AssignPermissionSet("0055e000001Nobo", SFPermissionSetAdmin); err == nil {
		t.Fatal("AssignPermissionSet to an unknown user succeeded")
	}
}

func TestSFQuery(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	type result struct {
		TotalSize      int              `json:"totalSize"`
		Done           bool             `json:"done"`
		NextRecordsURL string           `json:"nextRecordsUrl"`
		Records        []map[string]any `json:"records"`
	}
	ids := func(r result) []string {
		var out []string
		for _, rec := range r.Records {
			out = append(out, rec["Id"].(string))
		}
		return out
	}
	all := []string{DemoSFJaneID, DemoSFOmarID, DemoSFLenaID, DemoSFPriyaID, DemoSFTomID, DemoSFAnaID}
	sorted := slices.Sorted(slices.Values(all))
	tests := []struct {
		soql string
		want []string
	}{
		{"SELECT Id, Alias FROM User", all},
		{"select id,alias from user order by id", sorted},
		{"SELECT Id FROM User ORDER BY Id DESC", func() []string { s := slices.Clone(sorted); slices.Reverse(s); return s }()},
		{fmt.Sprintf("SELECT Id, Alias FROM User WHERE Id IN ('%s', '%s', '0055e000001Nobo')", DemoSFTomID, id15(DemoSFOmarID)), []string{DemoSFOmarID, DemoSFTomID}},
		{fmt.Sprintf("SELECT Id FROM User WHERE Id = '%s'", id15(DemoSFLenaID)), []string{DemoSFLenaID}},
		{fmt.Sprintf("SELECT Id FROM User WHERE Id IN ('%s') ORDER BY Id", DemoSFAnaID), []string{DemoSFAnaID}},
		{"SELECT Id FROM User WHERE Id IN ('0055e000001Nobo')", nil},
	}
	for _, tt := range tests {
		t.Run(tt.soql, func(t *testing.T) {
			r := e.query(tt.soql)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			res := decode[result](t, r.body)
			if !slices.Equal(ids(res), tt.want) || res.TotalSize != len(tt.want) || !res.Done || res.NextRecordsURL != "" {
				t.Fatalf("got %+v, want ids %v", res, tt.want)
			}
			if !strings.Contains(string(r.body), `"records":[`) {
				t.Fatalf("records must be an array: %s", r.body)
			}
		})
	}
	r := e.query("SELECT Alias, CallCenterId FROM User WHERE Id = '" + DemoSFJaneID + "'")
	if got, want := string(r.body), `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"User","url":"/services/data/v61.0/sobjects/User/0055e000001JaneAAC"},"Alias":"jsmith","CallCenterId":"04v5e000000LdnCAAS"}]}`+"\n"; got != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}

	errs := []struct{ soql, code, msg string }{
		{"SELECT Id, Nickname FROM User", "INVALID_FIELD", "No such column 'Nickname' on entity 'User'…"},
		{"SELECT Id FROM Account", "INVALID_TYPE", "sObject type 'Account' is not supported…"},
		{"SELECT Id FROM User WHERE Alias = 'x'", "MALFORMED_QUERY", "the sandbox supports WHERE Id or CallCenterId = '…' and WHERE Id or CallCenterId IN ('…', …) only"},
		{"SELECT Id FROM User WHERE Id IN ('bad')", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: bad"},
		{"SELECT Id FROM User WHERE Id IN ()", "MALFORMED_QUERY", "unexpected token: ')'"},
		{"SELECT Id FROM User WHERE Id IN ('" + DemoSFJaneID + "'", "MALFORMED_QUERY", "unexpected end of query"},
		{"SELECT Id FROM User LIMIT 5", "MALFORMED_QUERY", "unexpected token: 'LIMIT'"},
		{"SELECT Id, Id FROM User", "MALFORMED_QUERY", "duplicate field selected: Id"},
		{"SELECT FROM User", "MALFORMED_QUERY", "unexpected token: 'FROM'"},
		{"SELECT Id FROM User WHERE Id = 'x", "MALFORMED_QUERY", "unexpected token: ''x' (unterminated string)"},
		{"SELECT Id FROM User ORDER BY Alias", "MALFORMED_QUERY", "the sandbox supports ORDER BY Id only"},
		{"DELETE FROM User", "MALFORMED_QUERY", "unexpected token: 'DELETE'"},
		{"  ", "MALFORMED_QUERY", "A query string has to be specified"},
	}
	for _, tt := range errs {
		t.Run(tt.soql, func(t *testing.T) {
			wantSFError(t, e.query(tt.soql), 400, tt.code, tt.msg)
		})
	}
}

func TestSFQueryPaging(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{PageSize: 2})
	extra, err := e.sf.AddUser(SFUser{Username: "zed@demo.example", Email: "zed@demo.example", LastName: "Zed", Alias: "zed", ProfileID: DemoSFAgentProfileID})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		TotalSize      int              `json:"totalSize"`
		Done           bool             `json:"done"`
		NextRecordsURL string           `json:"nextRecordsUrl"`
		Records        []map[string]any `json:"records"`
	}
	locatorRE := regexp.MustCompile(`^/services/data/v61\.0/query/01g[0-9A-Za-z]{15}-(\d+)$`)
	var got []string
	var sizes []int
	r := e.must(200, "GET", sfV+"/query?q=SELECT+Id+FROM+User+ORDER+BY+Id", "")
	for {
		res := decode[result](t, r.body)
		if res.TotalSize != 7 {
			t.Fatalf("totalSize %d", res.TotalSize)
		}
		sizes = append(sizes, len(res.Records))
		for _, rec := range res.Records {
			got = append(got, rec["Id"].(string))
		}
		if res.Done {
			if res.NextRecordsURL != "" {
				t.Fatalf("done with nextRecordsUrl %q", res.NextRecordsURL)
			}
			break
		}
		m := locatorRE.FindStringSubmatch(res.NextRecordsURL)
		if m == nil || m[1] != fmt.Sprint(len(got)) {
			t.Fatalf("nextRecordsUrl %q after %d records", res.NextRecordsURL, len(got))
		}
		r = e.must(200, "GET", res.NextRecordsURL, "")
	}
	want := slices.Sorted(slices.Values([]string{DemoSFJaneID, DemoSFOmarID, DemoSFLenaID, DemoSFPriyaID, DemoSFTomID, DemoSFAnaID, extra.ID}))
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 2, 1}) {
		t.Fatalf("paged %v (sizes %v), want %v", got, sizes, want)
	}
	wantSFError(t, e.api("GET", sfV+"/query/01g5e0000000000AAA-2", ""), 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
	wantSFError(t, e.api("GET", sfV+"/query/nonsense", ""), 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
}

func TestSFQueryLocatorExpires(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{PageSize: 4, Now: clock.Now})
	res := decode[struct {
		NextRecordsURL string `json:"nextRecordsUrl"`
	}](t, e.must(200, "GET", sfV+"/query?q=SELECT+Id+FROM+User", "").body)
	clock.Advance(16 * time.Minute)
	e.token = e.tokenRequestToken()
	wantSFError(t, e.api("GET", res.NextRecordsURL, ""), 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
}

func (e *sfEnv) tokenRequestToken() string {
	e.t.Helper()
	r := e.tokenRequest(map[string][]string{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}})
	if r.status != 200 {
		e.t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r.json(e.t)["access_token"].(string)
}
