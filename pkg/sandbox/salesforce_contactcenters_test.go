package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const sfCollections = sfV + "/composite/sobjects"

func tel(alias, userID string) string { return alias + "@" + userID + "@" + DemoSFOrgID }

// setCallCenter PATCHes a user's CallCenterId (a string, or nil for null).
func (e *sfEnv) setCallCenter(userID string, cc any) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"CallCenterId": cc})
	if r := e.must(http.StatusNoContent, "PATCH", sfUser+userID, string(b)); len(r.body) != 0 {
		e.t.Fatalf("204 with body %q", r.body)
	}
}

// userRecord is an sObject Collections record of type User.
func userRecord(id string, fields ...any) map[string]any {
	rec := map[string]any{"attributes": map[string]string{"type": "User"}, "id": id}
	for i := 0; i+1 < len(fields); i += 2 {
		rec[fields[i].(string)] = fields[i+1]
	}
	return rec
}

func collectionBody(allOrNone bool, records []map[string]any) string {
	b, _ := json.Marshal(map[string]any{"allOrNone": allOrNone, "records": records})
	return string(b)
}

// collection sends an sObject Collections update and decodes its results.
func (e *sfEnv) collection(allOrNone bool, records ...map[string]any) []sfSaveResult {
	e.t.Helper()
	return decode[[]sfSaveResult](e.t, e.must(http.StatusOK, "PATCH", sfCollections, collectionBody(allOrNone, records)).body)
}

// memberIDs lists a contact center's members with SOQL, in Id order.
func (e *sfEnv) memberIDs(ccID string) []string {
	e.t.Helper()
	r := e.query("SELECT Id, Alias, CallCenterId FROM User WHERE CallCenterId = '" + ccID + "' ORDER BY Id")
	if r.status != http.StatusOK {
		e.t.Fatalf("members query: %d %s", r.status, r.body)
	}
	res := decode[struct {
		TotalSize int              `json:"totalSize"`
		Records   []map[string]any `json:"records"`
	}](e.t, r.body)
	ids := []string{}
	for _, rec := range res.Records {
		ids = append(ids, rec["Id"].(string))
	}
	if len(ids) != res.TotalSize {
		e.t.Fatalf("totalSize %d with %d records", res.TotalSize, len(ids))
	}
	return ids
}

// changes counts the org's change notifications per user.
type changes struct {
	mu sync.Mutex
	n  map[string]int
}

func watchChanges(t *testing.T, sf *Salesforce) *changes {
	c := &changes{n: map[string]int{}}
	t.Cleanup(sf.subscribe(func(id string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.n[id]++
	}))
	return c
}

func (c *changes) of(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func saved(id string) sfSaveResult {
	return sfSaveResult{ID: &id, Success: true, Errors: []sfSaveError{}}
}

func saveFailed(code, msg string, fields ...string) sfSaveResult {
	if fields == nil {
		fields = []string{}
	}
	return sfSaveResult{Errors: []sfSaveError{{StatusCode: code, Message: msg, Fields: fields}}}
}

func rolledBack(id string) sfSaveResult {
	return sfSaveResult{ID: &id, Errors: []sfSaveError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
		Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}}
}

const needsPermSet = "CallCenterId: user %s needs the Contact Center Agent or Contact Center Admin permission set to be a member of a contact center"

func TestSFCallCenterIdPatch(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	seen := watchChanges(t, e.sf)
	clock.Advance(time.Second)

	// Add: CallCenterId set from null, by its 15-character ID.
	e.setCallCenter(DemoSFOmarID, id15(DemoSFContactCenterLondon))
	omar := e.must(200, "GET", sfUser+DemoSFOmarID, "").json(t)
	if omar["CallCenterId"] != DemoSFContactCenterLondon || omar["LastModifiedDate"] != "2026-11-20T10:15:01.000+0000" {
		t.Fatalf("Omar after the add: %v", omar)
	}
	if m, ok := e.sf.Member(DemoSFOmarID); !ok || m.ContactCenterID != DemoSFContactCenterLondon || m.TelephonyUsername != tel("ohaddad", DemoSFOmarID) {
		t.Fatalf("Omar's membership %+v %v", m, ok)
	}
	e.setCallCenter(DemoSFPriyaID, DemoSFContactCenterLondon)
	if diff := cmp.Diff([]string{DemoSFJaneID, DemoSFOmarID, DemoSFPriyaID}, e.memberIDs(DemoSFContactCenterLondon)); diff != "" {
		t.Fatalf("London members (-want +got):\n%s", diff)
	}
	var joined []string
	for _, m := range e.sf.Members(DemoSFContactCenterLondon) {
		joined = append(joined, m.UserID)
	}
	if !slices.Equal(joined, []string{DemoSFJaneID, DemoSFOmarID, DemoSFPriyaID}) {
		t.Fatalf("Members in joining order %v", joined)
	}

	// The same contact center again changes nothing but the timestamps.
	clock.Advance(time.Second)
	e.setCallCenter(DemoSFOmarID, DemoSFContactCenterLondon)
	if u, _ := e.sf.User(DemoSFOmarID); !u.LastModifiedDate.Equal(clock.Now()) {
		t.Fatalf("a PATCH that changes nothing still bumps LastModifiedDate: %v", u.LastModifiedDate)
	}
	if e.sf.WriteCount(DemoSFOmarID, "PATCH") != 2 || e.sf.NoopWriteCount(DemoSFOmarID) != 1 {
		t.Fatalf("writes %d noops %d", e.sf.WriteCount(DemoSFOmarID, "PATCH"), e.sf.NoopWriteCount(DemoSFOmarID))
	}

	// Move: one contact center per user.
	e.setCallCenter(DemoSFOmarID, DemoSFContactCenterNewYork)
	if diff := cmp.Diff([]string{DemoSFJaneID, DemoSFPriyaID}, e.memberIDs(DemoSFContactCenterLondon)); diff != "" {
		t.Fatalf("London members after the move (-want +got):\n%s", diff)
	}
	if got := e.memberIDs(DemoSFContactCenterNewYork); !slices.Equal(got, []string{DemoSFOmarID}) {
		t.Fatalf("New York members %v", got)
	}

	// Remove: CallCenterId null; again for a non-member is a no-op.
	for range 2 {
		e.setCallCenter(DemoSFOmarID, nil)
	}
	if omar := e.must(200, "GET", sfUser+DemoSFOmarID, "").json(t); omar["CallCenterId"] != nil {
		t.Fatalf("Omar after the remove: %v", omar)
	}
	if _, ok := e.sf.Member(DemoSFOmarID); ok {
		t.Fatal("Omar is still a member")
	}
	if got := e.memberIDs(DemoSFContactCenterNewYork); len(got) != 0 {
		t.Fatalf("New York members %v", got)
	}
	if e.sf.WriteCount(DemoSFOmarID, "") != 5 || e.sf.NoopWriteCount(DemoSFOmarID) != 2 {
		t.Fatalf("writes %d noops %d", e.sf.WriteCount(DemoSFOmarID, ""), e.sf.NoopWriteCount(DemoSFOmarID))
	}
	if n := seen.of(DemoSFOmarID); n != 5 {
		t.Fatalf("%d change notifications for Omar, want 5", n)
	}

	// An inactive user may be added and removed.
	e.must(204, "PATCH", sfUser+DemoSFTomID, `{"IsActive":false}`)
	e.setCallCenter(DemoSFTomID, DemoSFContactCenterNewYork)
	if m, ok := e.sf.Member(DemoSFTomID); !ok || m.ContactCenterID != DemoSFContactCenterNewYork {
		t.Fatalf("inactive Tom's membership %+v %v", m, ok)
	}
	e.setCallCenter(DemoSFTomID, nil)
	if _, ok := e.sf.Member(DemoSFTomID); ok {
		t.Fatal("Tom is still a member")
	}

	// An alias change and an add in one request: the new alias counts.
	e.must(204, "PATCH", sfUser+DemoSFAnaID, `{"Alias":"asouza2","CallCenterId":"`+DemoSFContactCenterLondon+`"}`)
	if m, _ := e.sf.Member(DemoSFAnaID); m.TelephonyUsername != tel("asouza2", DemoSFAnaID) {
		t.Fatalf("telephony username %q", m.TelephonyUsername)
	}
}

func TestSFCallCenterIdRefusals(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	badAlias, err := e.sf.AddUser(SFUser{Username: "bo@demo.example", Email: "bo@demo.example", LastName: "Bo", Alias: "b o+",
		ProfileID: DemoSFAgentProfileID, IsActive: true, PermissionSets: []string{SFPermissionSetAgentPartner}})
	if err != nil {
		t.Fatal(err)
	}
	cc := func(v string) string { return `{"CallCenterId":"` + v + `"}` }
	tests := []struct {
		name, user, body string
		code, msg        string
		fields           []string
	}{
		{"unknown contact center", DemoSFOmarID, cc("04v5e000000Nope"), "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []string{"CallCenterId"}},
		{"a user ID", DemoSFOmarID, cc(id15(DemoSFTomID)), "INVALID_CROSS_REFERENCE_KEY", "Call Center ID: id value of incorrect type: " + id15(DemoSFTomID), []string{"CallCenterId"}},
		{"not an ID", DemoSFOmarID, cc("London"), "INVALID_CROSS_REFERENCE_KEY", "Call Center ID: id value of incorrect type: London", []string{"CallCenterId"}},
		{"no contact-center permission set", DemoSFLenaID, cc(DemoSFContactCenterLondon), "FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf(needsPermSet, DemoSFLenaID), []string{"CallCenterId"}},
		{"alias outside [A-Za-z0-9_.-]", badAlias.ID, cc(DemoSFContactCenterLondon), "FIELD_INTEGRITY_EXCEPTION", `Alias: invalid characters in "b o+": use only A-Z a-z 0-9 _ . -`, []string{"Alias"}},
		{"a number", DemoSFOmarID, `{"CallCenterId":4}`, "JSON_PARSER_ERROR", "Cannot deserialize instance of string from VALUE_NUMBER_INT value 4 or request may be missing a required field", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSFError(t, e.api("PATCH", sfUser+tt.user, tt.body), 400, tt.code, tt.msg, tt.fields...)
		})
	}
	for _, id := range []string{DemoSFOmarID, DemoSFLenaID, badAlias.ID} {
		if _, ok := e.sf.Member(id); ok || e.sf.WriteCount(id, "") != 0 {
			t.Fatalf("a refused PATCH changed %s", id)
		}
	}
	// Through Go, the member alias rule is the membership's own.
	if err := e.sf.AddMember(DemoSFContactCenterLondon, badAlias.ID); err == nil ||
		!strings.Contains(err.Error(), `FIELD_INTEGRITY_EXCEPTION: Alias: invalid characters in "b o+": a contact center member's alias may use only A-Z a-z 0-9 _ . -`) {
		t.Fatalf("AddMember with a bad alias: %v", err)
	}

	// Granting the permission set makes Lena a possible member.
	if err := e.sf.AssignPermissionSet(DemoSFLenaID, SFPermissionSetAdmin); err != nil {
		t.Fatal(err)
	}
	e.setCallCenter(DemoSFLenaID, DemoSFContactCenterNewYork)

	// A member who lost the permission set stays one and can be edited or
	// removed, but not moved.
	if err := e.sf.RemovePermissionSet(DemoSFJaneID, SFPermissionSetAgent); err != nil {
		t.Fatal(err)
	}
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"FirstName":"Janet","CallCenterId":"`+DemoSFContactCenterLondon+`"}`)
	wantSFError(t, e.api("PATCH", sfUser+DemoSFJaneID, cc(DemoSFContactCenterNewYork)), 400, "FIELD_INTEGRITY_EXCEPTION",
		fmt.Sprintf(needsPermSet, DemoSFJaneID), "CallCenterId")
	e.setCallCenter(DemoSFJaneID, nil)
	if _, ok := e.sf.Member(DemoSFJaneID); ok {
		t.Fatal("Jane is still a member")
	}
}

func TestSFCollectionsUpdate(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	seen := watchChanges(t, e.sf)
	clock.Advance(time.Second)
	got := e.collection(false,
		userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterLondon),
		userRecord(DemoSFLenaID, "CallCenterId", DemoSFContactCenterLondon),
		map[string]any{"attributes": map[string]string{"type": "Account"}, "id": "0015e000000Acme", "Name": "Acme"},
		map[string]any{"attributes": map[string]string{"type": "User"}, "CallCenterId": DemoSFContactCenterLondon},
		userRecord("nonsense", "CallCenterId", DemoSFContactCenterLondon),
		userRecord("0055e000001Nobo", "CallCenterId", DemoSFContactCenterLondon),
		userRecord(DemoSFJaneID, "CallCenterId", nil, "FirstName", "Janet"),
		userRecord(id15(DemoSFPriyaID), "callcenterid", id15(DemoSFContactCenterNewYork)),
		userRecord(DemoSFTomID, "Nickname", "tom"),
		userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterNewYork),
		map[string]any{"id": DemoSFAnaID, "CallCenterId": DemoSFContactCenterLondon},
		userRecord(DemoSFAnaID, "CallCenterId", "04v5e000000Nope"),
	)
	want := []sfSaveResult{
		saved(DemoSFOmarID),
		saveFailed("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf(needsPermSet, DemoSFLenaID), "CallCenterId"),
		saveFailed("INVALID_TYPE", "sObject type 'Account' is not supported: the sandbox models the User object only"),
		saveFailed("MISSING_ARGUMENT", "Id not specified in an update call"),
		saveFailed("MALFORMED_ID", "malformed id nonsense", "Id"),
		saveFailed("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),
		saved(DemoSFJaneID),
		saved(DemoSFPriyaID),
		saveFailed("INVALID_FIELD", "No such column 'Nickname' on sobject of type User"),
		saveFailed("DUPLICATE_VALUE", "Duplicate id in list: "+DemoSFOmarID),
		saveFailed("INVALID_TYPE", "Must send a concrete entity type."),
		saveFailed("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "CallCenterId"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	// The wire form: statusCode (not errorCode), fields and errors always
	// arrays, id null on a record's own failure.
	r := e.must(200, "PATCH", sfCollections, collectionBody(false, []map[string]any{
		userRecord(DemoSFTomID, "CallCenterId", DemoSFContactCenterNewYork),
		userRecord(DemoSFLenaID, "CallCenterId", DemoSFContactCenterNewYork),
		userRecord(DemoSFAnaID),
	}))
	wantBody := `[{"id":"` + DemoSFTomID + `","success":true,"errors":[]},` +
		`{"id":null,"success":false,"errors":[{"statusCode":"FIELD_INTEGRITY_EXCEPTION","message":"` + fmt.Sprintf(needsPermSet, DemoSFLenaID) + `","fields":["CallCenterId"]}]},` +
		`{"id":"` + DemoSFAnaID + `","success":true,"errors":[]}]` + "\n"
	if string(r.body) != wantBody {
		t.Fatalf("body\n%s\nwant\n%s", r.body, wantBody)
	}

	if got := e.memberIDs(DemoSFContactCenterLondon); !slices.Equal(got, []string{DemoSFOmarID}) {
		t.Fatalf("London members %v", got)
	}
	if got := e.memberIDs(DemoSFContactCenterNewYork); !slices.Equal(got, slices.Sorted(slices.Values([]string{DemoSFPriyaID, DemoSFTomID}))) {
		t.Fatalf("New York members %v", got)
	}
	jane := e.must(200, "GET", sfUser+DemoSFJaneID, "").json(t)
	if jane["CallCenterId"] != nil || jane["FirstName"] != "Janet" || jane["LastModifiedDate"] != "2026-11-20T10:15:01.000+0000" {
		t.Fatalf("Jane %v", jane)
	}
	if m, _ := e.sf.Member(DemoSFPriyaID); m.TelephonyUsername != tel("pnataraj", DemoSFPriyaID) {
		t.Fatalf("Priya's telephony username %q", m.TelephonyUsername)
	}
	// Each applied record is a PATCH write of its user and a change; an
	// update of nothing (Ana) is a no-op write that still bumps the stamps.
	for id, n := range map[string]int{DemoSFOmarID: 1, DemoSFJaneID: 1, DemoSFPriyaID: 1, DemoSFTomID: 1, DemoSFAnaID: 1, DemoSFLenaID: 0} {
		if w := e.sf.WriteCount(id, "PATCH"); w != n || seen.of(id) != n {
			t.Errorf("%s: %d writes, %d notifications, want %d", id, w, seen.of(id), n)
		}
	}
	if e.sf.NoopWriteCount("") != 1 || e.sf.NoopWriteCount(DemoSFAnaID) != 1 {
		t.Fatalf("noop writes %d", e.sf.NoopWriteCount(""))
	}
	if ana, _ := e.sf.User(DemoSFAnaID); !ana.LastModifiedDate.Equal(clock.Now()) {
		t.Fatalf("Ana's LastModifiedDate %v", ana.LastModifiedDate)
	}
}

func TestSFCollectionsAllOrNone(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	seen := watchChanges(t, e.sf)
	before := e.sf.Users()
	clock.Advance(time.Second)
	got := e.collection(true,
		userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterLondon),
		userRecord(DemoSFJaneID, "Username", "janet.smith@demo.example", "CallCenterId", nil),
		userRecord(DemoSFTomID, "Username", "jane.smith@demo.example"),
		userRecord(DemoSFLenaID, "CallCenterId", DemoSFContactCenterLondon),
		userRecord(DemoSFAnaID, "CallCenterId", DemoSFContactCenterNewYork),
	)
	want := []sfSaveResult{
		rolledBack(DemoSFOmarID),
		rolledBack(DemoSFJaneID),
		rolledBack(DemoSFTomID),
		saveFailed("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf(needsPermSet, DemoSFLenaID), "CallCenterId"),
		rolledBack(DemoSFAnaID),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, e.sf.Users()); diff != "" {
		t.Fatalf("a rolled-back request changed users (-before +after):\n%s", diff)
	}
	for _, u := range []struct{ username, id string }{{"jane.smith@demo.example", DemoSFJaneID}, {"tom.becker@demo.example", DemoSFTomID}} {
		if got, ok := e.sf.UserByUsername(u.username); !ok || got.ID != u.id {
			t.Fatalf("username %s is %s's after the rollback, want %s's", u.username, got.ID, u.id)
		}
	}
	if _, ok := e.sf.UserByUsername("janet.smith@demo.example"); ok {
		t.Fatal("a rolled-back username is taken")
	}
	if m, _ := e.sf.Member(DemoSFJaneID); m.TelephonyUsername != tel("jsmith", DemoSFJaneID) {
		t.Fatalf("Jane's telephony username after the rollback %q", m.TelephonyUsername)
	}
	if st := e.sf.Stats(); st.Writes != 0 || seen.of(DemoSFOmarID)+seen.of(DemoSFJaneID)+seen.of(DemoSFTomID) != 0 {
		t.Fatalf("a rolled-back request wrote %d times", st.Writes)
	}

	// The same request without the failing record: all applied, in order
	// (Tom takes the username Jane gave up).
	got = e.collection(true,
		userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterLondon),
		userRecord(DemoSFJaneID, "Username", "janet.smith@demo.example", "CallCenterId", nil),
		userRecord(DemoSFTomID, "Username", "jane.smith@demo.example"),
	)
	if diff := cmp.Diff([]sfSaveResult{saved(DemoSFOmarID), saved(DemoSFJaneID), saved(DemoSFTomID)}, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	if u, _ := e.sf.UserByUsername("jane.smith@demo.example"); u.ID != DemoSFTomID {
		t.Fatalf("jane.smith@demo.example is %s's", u.ID)
	}
	if got := e.memberIDs(DemoSFContactCenterLondon); !slices.Equal(got, []string{DemoSFOmarID}) {
		t.Fatalf("London members %v", got)
	}
	if st := e.sf.Stats(); st.Writes != 3 || seen.of(DemoSFJaneID) != 1 {
		t.Fatalf("%d writes, %d notifications for Jane", st.Writes, seen.of(DemoSFJaneID))
	}
}

func TestSFCollectionsLimits(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	var records []map[string]any
	for i := range SFMaxCollectionRecords + 1 {
		u, err := e.sf.AddUser(SFUser{Username: fmt.Sprintf("agent%03d@demo.example", i), Email: fmt.Sprintf("agent%03d@demo.example", i),
			LastName: "Agent", Alias: fmt.Sprintf("ag%03d", i), ProfileID: DemoSFAgentProfileID, IsActive: true,
			PermissionSets: []string{SFPermissionSetAgent}})
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, userRecord(u.ID, "CallCenterId", DemoSFContactCenterNewYork))
	}
	wantSFError(t, e.api("PATCH", sfCollections, collectionBody(false, records)), 400, "EXCEEDED_ID_LIMIT",
		"record limit reached. cannot submit more than 200 records in a single call")
	if got := e.memberIDs(DemoSFContactCenterNewYork); len(got) != 0 {
		t.Fatalf("a refused request added %d members", len(got))
	}
	got := e.collection(true, records[:SFMaxCollectionRecords]...)
	for i, res := range got {
		if !res.Success || *res.ID != records[i]["id"] {
			t.Fatalf("result %d: %+v", i, res)
		}
	}
	if n := len(e.memberIDs(DemoSFContactCenterNewYork)); len(got) != SFMaxCollectionRecords || n != SFMaxCollectionRecords {
		t.Fatalf("%d results, %d members, want 200", len(got), n)
	}

	wantSFError(t, e.api("PATCH", sfCollections, `{"allOrNone":true,"records":[]}`), 400, "MISSING_ARGUMENT", "records: at least one record is required")
	wantSFError(t, e.api("PATCH", sfCollections, `{}`), 400, "MISSING_ARGUMENT", "records: at least one record is required")
	wantSFError(t, e.api("PATCH", sfCollections, `{"records":"x"}`), 400, "JSON_PARSER_ERROR", "…")
	wantSFError(t, e.api("PATCH", sfCollections, `{"records":[`), 400, "JSON_PARSER_ERROR", "…")
	wantSFError(t, e.api("GET", sfCollections, ""), 405, "METHOD_NOT_ALLOWED", "HTTP Method 'GET' not allowed. Allowed are PATCH")
	wantSFError(t, e.api("PATCH", "/services/data/61/composite/sobjects", collectionBody(false, records[:1])), 404, "NOT_FOUND", "The requested resource does not exist")
}

func TestSFMembersQuery(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	e.setCallCenter(DemoSFTomID, DemoSFContactCenterLondon)
	e.setCallCenter(DemoSFOmarID, DemoSFContactCenterNewYork)
	r := e.query("SELECT Id, Alias, CallCenterId FROM User WHERE CallCenterId = '" + id15(DemoSFContactCenterLondon) + "' ORDER BY Id")
	rec := func(id, alias string) string {
		return `{"attributes":{"type":"User","url":"/services/data/v61.0/sobjects/User/` + id + `"},"Id":"` + id + `","Alias":"` + alias + `","CallCenterId":"` + DemoSFContactCenterLondon + `"}`
	}
	want := `{"totalSize":2,"done":true,"records":[` + rec(DemoSFJaneID, "jsmith") + `,` + rec(DemoSFTomID, "tbecker") + `]}` + "\n"
	if r.status != 200 || string(r.body) != want {
		t.Fatalf("members query: %d\n%s\nwant\n%s", r.status, r.body, want)
	}
	for soql, want := range map[string][]string{
		"SELECT Id FROM User WHERE CallCenterId = '" + DemoSFContactCenterLondon + "' ORDER BY Id DESC":                                           {DemoSFTomID, DemoSFJaneID},
		"select id from user where callcenterid in ('" + DemoSFContactCenterNewYork + "', '" + id15(DemoSFContactCenterLondon) + "') order by id": {DemoSFJaneID, DemoSFOmarID, DemoSFTomID},
		"SELECT Id FROM User WHERE CallCenterId = '04v5e000000Nope'":                                                                              {},
	} {
		res := e.query(soql)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", soql, res.status, res.body)
		}
		var got []string
		for _, rec := range decode[struct {
			Records []map[string]any `json:"records"`
		}](t, res.body).Records {
			got = append(got, rec["Id"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", soql, got, want)
		}
	}
	wantSFError(t, e.query("SELECT Id FROM User WHERE CallCenterId = 'London'"), 400, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: London")
	wantSFError(t, e.query("SELECT Id FROM User WHERE CallCenterId != '"+DemoSFContactCenterLondon+"'"), 400, "MALFORMED_QUERY", "unexpected token: '!'")
	// A filter on a field the API user cannot read fails like selecting it.
	if err := e.sf.HideUserFields(DemoSFUsername, SFFieldCallCenterID); err != nil {
		t.Fatal(err)
	}
	wantSFError(t, e.query("SELECT Id FROM User WHERE CallCenterId = '"+DemoSFContactCenterLondon+"'"), 400, "INVALID_FIELD", "No such column 'CallCenterId' on entity 'User'…")
}

func TestSFGetCallCenter(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	want := `{"attributes":{"type":"CallCenter","url":"/services/data/v61.0/sobjects/CallCenter/04v5e000000LdnCAAS"},` +
		`"Id":"04v5e000000LdnCAAS","Name":"London Contact Center"}` + "\n"
	for _, id := range []string{DemoSFContactCenterLondon, id15(DemoSFContactCenterLondon)} {
		if r := e.must(200, "GET", sfV+"/sobjects/CallCenter/"+id, ""); string(r.body) != want {
			t.Fatalf("GET %s:\n%s\nwant\n%s", id, r.body, want)
		}
	}
	if got := string(e.must(200, "GET", sfV+"/sobjects/CallCenter/"+DemoSFContactCenterNewYork+"?fields=name", "").body); got !=
		`{"attributes":{"type":"CallCenter","url":"/services/data/v61.0/sobjects/CallCenter/04v5e000000NycCAAS"},"Name":"New York Contact Center"}`+"\n" {
		t.Fatalf("fields=name: %s", got)
	}
	wantSFError(t, e.api("GET", sfV+"/sobjects/CallCenter/"+DemoSFContactCenterLondon+"?fields=Version", ""), 400, "INVALID_FIELD", "No such column 'Version' on entity 'CallCenter'…")
	wantSFError(t, e.api("GET", sfV+"/sobjects/CallCenter/04v5e000000Nope", ""), 404, "NOT_FOUND", "The requested resource does not exist")
	wantSFError(t, e.api("GET", sfV+"/sobjects/CallCenter/London", ""), 404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: London")
	wantSFError(t, e.api("PATCH", sfV+"/sobjects/CallCenter/"+DemoSFContactCenterLondon, `{"Name":"x"}`), 405, "METHOD_NOT_ALLOWED", "HTTP Method 'PATCH' not allowed. Allowed are GET")
	wantSFError(t, e.api("DELETE", sfV+"/sobjects/CallCenter/"+DemoSFContactCenterLondon, ""), 405, "METHOD_NOT_ALLOWED", "HTTP Method 'DELETE' not allowed. Allowed are GET")
	if cc := e.sf.ContactCenters(); cc[0].Name != "London Contact Center" {
		t.Fatalf("a refused write changed the contact center: %+v", cc)
	}
}

func TestSFApexRESTNotServed(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	e.sf.ResetStats()
	members := SFApexRESTRoot + "/vccsync/contactcenters/" + DemoSFContactCenterLondon + "/members"
	for _, req := range []struct{ method, path, body string }{
		{"GET", members, ""},
		{"POST", members, `{"userIds":["` + DemoSFOmarID + `"]}`},
		{"DELETE", members + "/" + DemoSFJaneID, ""},
	} {
		wantSFError(t, e.api(req.method, req.path, req.body), 404, "NOT_FOUND", "Could not find a match for URL")
	}
	if _, ok := e.sf.Member(DemoSFOmarID); ok {
		t.Fatal("an Apex REST call added Omar")
	}
	if m, ok := e.sf.Member(DemoSFJaneID); !ok || m.ContactCenterID != DemoSFContactCenterLondon {
		t.Fatal("an Apex REST call removed Jane")
	}
	if st := e.sf.Stats(); st.Requests["POST (no route)"] != 1 || st.Writes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSFSSOCheck(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	sso := func(userID string) (int, map[string]any) {
		t.Helper()
		r := e.raw("POST", SFSSOCheckPath, "", `{"userId":"`+userID+`"}`)
		return r.status, r.json(t)
	}
	check := func(step, userID string, wantStatus int, want map[string]any) {
		t.Helper()
		status, got := sso(userID)
		if diff := cmp.Diff(want, got); status != wantStatus || diff != "" {
			t.Fatalf("%s: status %d, want %d; body (-want +got):\n%s", step, status, wantStatus, diff)
		}
	}
	passed := func(tel string) map[string]any { return map[string]any{"ok": true, "telephonyUsername": tel} }
	refused := func(reason string) map[string]any { return map[string]any{"ok": false, "reason": reason} }
	broken := func(was, now string) map[string]any {
		return refused("telephony username " + tel(was, DemoSFJaneID) + " does not match alias " + now + ": remove and re-add the user (seed 004)")
	}

	check("member", DemoSFJaneID, 200, passed(tel("jsmith", DemoSFJaneID)))
	check("member by 15-character ID", id15(DemoSFJaneID), 200, passed(tel("jsmith", DemoSFJaneID)))
	check("not a member", DemoSFOmarID, 401, refused("user "+DemoSFOmarID+" is not a member of any contact center"))
	check("unknown", "0055e000001Nobo", 401, refused("user 0055e000001Nobo not found"))

	// Seed 004: an alias change of a member breaks SSO ...
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2"}`)
	check("after the alias change", DemoSFJaneID, 401, broken("jsmith", "jsmith2"))
	// ... setting the same CallCenterId again does not mend it ...
	e.setCallCenter(DemoSFJaneID, DemoSFContactCenterLondon)
	e.collection(false, userRecord(DemoSFJaneID, "CallCenterId", DemoSFContactCenterLondon))
	check("after a re-add without remove", DemoSFJaneID, 401, broken("jsmith", "jsmith2"))
	if _, err := e.sf.CheckSSO(DemoSFJaneID); err == nil || !strings.Contains(err.Error(), "does not match alias jsmith2") {
		t.Fatalf("CheckSSO: %v", err)
	}
	// ... remove, change the alias, add back does.
	e.setCallCenter(DemoSFJaneID, nil)
	check("after remove", DemoSFJaneID, 401, refused("user "+DemoSFJaneID+" is not a member of any contact center"))
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith3"}`)
	e.collection(true, userRecord(DemoSFJaneID, "CallCenterId", DemoSFContactCenterLondon))
	check("after remove, alias change, re-add", DemoSFJaneID, 200, passed(tel("jsmith3", DemoSFJaneID)))

	// Changing the alias back restores nothing: the telephony user is jsmith3's now.
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith"}`)
	check("alias changed back", DemoSFJaneID, 401, broken("jsmith3", "jsmith"))
	// A move to another contact center adds the user there with its alias.
	e.setCallCenter(DemoSFJaneID, DemoSFContactCenterNewYork)
	check("after a move", DemoSFJaneID, 200, passed(tel("jsmith", DemoSFJaneID)))
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"IsActive":false}`)
	check("inactive", DemoSFJaneID, 401, refused("user "+DemoSFJaneID+" is inactive"))

	if r := e.raw("POST", SFSSOCheckPath, "", `{`); r.status != http.StatusBadRequest || r.json(t)["ok"] != false {
		t.Fatalf("bad body: %d %s", r.status, r.body)
	}
	if r := e.raw("POST", SFSSOCheckPath, "", `{}`); r.status != http.StatusBadRequest || r.json(t)["reason"] != "userId is required" {
		t.Fatalf("no userId: %d %s", r.status, r.body)
	}
	if r := e.raw("GET", SFSSOCheckPath, "", ""); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.status)
	}
}

func TestSFMemberGoAPI(t *testing.T) {
	clock := newSFClock()
	sf := NewSalesforce(SalesforceOptions{Now: clock.Now})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	seen := watchChanges(t, sf)
	if err := sf.AddMember(DemoSFContactCenterNewYork, DemoSFLenaID); err == nil || !strings.Contains(err.Error(), "FIELD_INTEGRITY_EXCEPTION: "+fmt.Sprintf(needsPermSet, DemoSFLenaID)) {
		t.Fatalf("AddMember without permission set: %v", err)
	}
	if err := sf.AddMember("04v5e000000Nope", DemoSFOmarID); err == nil {
		t.Fatal("AddMember to an unknown contact center succeeded")
	}
	if err := sf.AddMember(DemoSFContactCenterNewYork, "0055e000001Nobo"); err == nil {
		t.Fatal("AddMember of an unknown user succeeded")
	}
	clock.Advance(time.Second)
	if err := sf.AddMember(DemoSFContactCenterNewYork, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if u, _ := sf.User(DemoSFOmarID); u.CallCenterID != DemoSFContactCenterNewYork || !u.LastModifiedDate.Equal(clock.Now()) {
		t.Fatalf("Omar after AddMember %+v", u)
	}
	if tel, err := sf.CheckSSO(DemoSFOmarID); err != nil || tel != "ohaddad@"+DemoSFOmarID+"@"+DemoSFOrgID {
		t.Fatalf("CheckSSO %q %v", tel, err)
	}
	// Again: nothing; to London: a move.
	if err := sf.AddMember(id15(DemoSFContactCenterNewYork), DemoSFOmarID); err != nil || seen.of(DemoSFOmarID) != 1 {
		t.Fatalf("AddMember again: %v, %d notifications", err, seen.of(DemoSFOmarID))
	}
	if err := sf.AddMember(DemoSFContactCenterLondon, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if m := sf.Members(DemoSFContactCenterNewYork); len(m) != 0 {
		t.Fatalf("New York members after the move %+v", m)
	}
	// Removing from a contact center the user is not in changes nothing.
	if err := sf.RemoveMember(DemoSFContactCenterNewYork, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if m, ok := sf.Member(DemoSFOmarID); !ok || m.ContactCenterID != DemoSFContactCenterLondon || seen.of(DemoSFOmarID) != 2 {
		t.Fatalf("Omar's membership %+v %v", m, ok)
	}
	if err := sf.RemoveMember(DemoSFContactCenterLondon, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if _, ok := sf.Member(DemoSFOmarID); ok || seen.of(DemoSFOmarID) != 3 {
		t.Fatal("Omar is still a member")
	}
	if err := sf.RemoveMember("04v5e000000Nope", DemoSFOmarID); err == nil {
		t.Fatal("RemoveMember from an unknown contact center succeeded")
	}
	if sf.Members("04v5e000000Nope") != nil {
		t.Fatal("members of an unknown contact center")
	}

	// AddUser may set CallCenterID, under the same rules.
	u, err := sf.AddUser(SFUser{Username: "new@demo.example", Email: "new@demo.example", LastName: "New", Alias: "new",
		ProfileID: DemoSFAgentProfileID, PermissionSets: []string{SFPermissionSetAgent}, CallCenterID: id15(DemoSFContactCenterNewYork)})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := sf.Member(u.ID); !ok || u.CallCenterID != DemoSFContactCenterNewYork || m.TelephonyUsername != "new@"+u.ID+"@"+DemoSFOrgID {
		t.Fatalf("new user %+v, membership %+v", u, m)
	}
	if _, err := sf.AddUser(SFUser{Username: "x@demo.example", Email: "x@demo.example", LastName: "X", Alias: "x",
		ProfileID: DemoSFAgentProfileID, PermissionSets: []string{SFPermissionSetAgent}, CallCenterID: "04v5e000000Nope"}); err == nil {
		t.Fatal("AddUser with an unknown contact center succeeded")
	}

	if err := sf.AddContactCenter("0015e000000Abcd", "x"); err == nil {
		t.Fatal("AddContactCenter accepted a non-04v ID")
	}
	if err := sf.AddContactCenter(DemoSFContactCenterLondon, "again"); err == nil {
		t.Fatal("AddContactCenter accepted a duplicate")
	}
	if sf.Stats().Writes != 0 {
		t.Fatal("Go-side membership changes counted as API writes")
	}
}
