package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type sfAddReply struct {
	Results []sfAddResult `json:"results"`
}

func (e *sfEnv) addMembers(ccID string, ids ...string) sfAddReply {
	e.t.Helper()
	b, _ := json.Marshal(map[string][]string{"userIds": ids})
	return decode[sfAddReply](e.t, e.must(200, "POST", fmtMembers(ccID), string(b)).body)
}

func (e *sfEnv) members(ccID string) []sfMemberView {
	e.t.Helper()
	return decode[sfMembersReply](e.t, e.must(200, "GET", fmtMembers(ccID), "").body).Members
}

func tel(alias, userID string) string { return alias + "@" + userID + "@" + DemoSFOrgID }

func TestSFAddMembers(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	inactive, err := e.sf.AddUser(SFUser{Username: "ina@demo.example", Email: "ina@demo.example", LastName: "Ina", Alias: "ina",
		ProfileID: DemoSFAgentProfileID, PermissionSets: []string{SFPermissionSetAgent}})
	if err != nil {
		t.Fatal(err)
	}
	badAlias, err := e.sf.AddUser(SFUser{Username: "bo@demo.example", Email: "bo@demo.example", LastName: "Bo", Alias: "b o+",
		ProfileID: DemoSFAgentProfileID, IsActive: true, PermissionSets: []string{SFPermissionSetAgentPartner}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.sf.User(DemoSFOmarID)
	clock.Advance(time.Second)

	got := e.addMembers(DemoSFContactCenterLondon,
		DemoSFOmarID, id15(DemoSFPriyaID), DemoSFLenaID, DemoSFJaneID, inactive.ID, badAlias.ID, "0055e000001Nobo", "nonsense", DemoSFOmarID)
	fail := func(id, code, msg string) sfAddResult {
		return sfAddResult{UserID: id, Errors: []sfError{{ErrorCode: code, Message: msg}}}
	}
	want := []sfAddResult{
		{UserID: DemoSFOmarID, Success: true},
		{UserID: DemoSFPriyaID, Success: true},
		fail(DemoSFLenaID, "NO_CONTACT_CENTER_PERMISSION", "User "+DemoSFLenaID+" needs the Contact Center Agent or Contact Center Admin permission set"),
		{UserID: DemoSFJaneID, Success: true}, // already a member of London: idempotent
		fail(inactive.ID, "INACTIVE_USER", "User "+inactive.ID+" is inactive"),
		fail(badAlias.ID, "INVALID_ALIAS", "Alias b o+ has characters outside [A-Za-z0-9_.-]"),
		fail("0055e000001NoboAAC", "NOT_FOUND", "User 0055e000001NoboAAC not found"),
		fail("nonsense", "INVALID_ID_FIELD", "Invalid user ID: nonsense"),
		{UserID: DemoSFOmarID, Success: true},
	}
	if diff := cmp.Diff(want, got.Results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	wantMembers := []sfMemberView{
		{DemoSFJaneID, tel("jsmith", DemoSFJaneID)},
		{DemoSFOmarID, tel("ohaddad", DemoSFOmarID)},
		{DemoSFPriyaID, tel("pnataraj", DemoSFPriyaID)},
	}
	if diff := cmp.Diff(wantMembers, e.members(DemoSFContactCenterLondon)); diff != "" {
		t.Fatalf("members (-want +got):\n%s", diff)
	}
	omar := e.must(200, "GET", sfUser+DemoSFOmarID, "").json(t)
	if omar["CallCenterId"] != DemoSFContactCenterLondon || omar["LastModifiedDate"] != "2026-11-20T10:15:01.000+0000" || before.LastModifiedDate.Equal(clock.Now()) {
		t.Fatalf("Omar after the add: %v", omar)
	}
	if jane, _ := e.sf.User(DemoSFJaneID); !jane.LastModifiedDate.Equal(time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)) {
		t.Fatalf("an idempotent re-add bumped Jane to %v", jane.LastModifiedDate)
	}
	if e.sf.WriteCount(DemoSFOmarID, "POST") != 2 || e.sf.NoopWriteCount(DemoSFOmarID) != 1 || e.sf.WriteCount(DemoSFLenaID, "") != 0 {
		t.Fatal("write counts")
	}

	// One contact center per user.
	got = e.addMembers(DemoSFContactCenterNewYork, DemoSFJaneID, DemoSFTomID)
	want = []sfAddResult{
		fail(DemoSFJaneID, "ALREADY_IN_CONTACT_CENTER", "User "+DemoSFJaneID+" is a member of contact center "+DemoSFContactCenterLondon+" (one contact center per user)"),
		{UserID: DemoSFTomID, Success: true},
	}
	if diff := cmp.Diff(want, got.Results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}

	// Granting the permission set makes Lena addable.
	if err := e.sf.AssignPermissionSet(DemoSFLenaID, SFPermissionSetAdmin); err != nil {
		t.Fatal(err)
	}
	if got := e.addMembers(DemoSFContactCenterNewYork, DemoSFLenaID); !got.Results[0].Success {
		t.Fatalf("Lena with ContactCenterAdmin: %+v", got)
	}

	// A re-add keeps the telephony username, even after an alias change.
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2"}`)
	if got := e.addMembers(DemoSFContactCenterLondon, DemoSFJaneID); !got.Results[0].Success {
		t.Fatalf("re-add: %+v", got)
	}
	if m, _ := e.sf.Member(DemoSFJaneID); m.TelephonyUsername != tel("jsmith", DemoSFJaneID) {
		t.Fatalf("telephony username after re-add %q", m.TelephonyUsername)
	}
}

func TestSFAddMembersLimits(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	var ids []string
	for i := range SFMaxMembersPerAdd + 1 {
		u, err := e.sf.AddUser(SFUser{Username: fmt.Sprintf("agent%03d@demo.example", i), Email: fmt.Sprintf("agent%03d@demo.example", i),
			LastName: "Agent", Alias: fmt.Sprintf("ag%03d", i), ProfileID: DemoSFAgentProfileID, IsActive: true,
			PermissionSets: []string{SFPermissionSetAgent}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	body := func(ids []string) string { b, _ := json.Marshal(map[string][]string{"userIds": ids}); return string(b) }
	wantSFError(t, e.api("POST", fmtMembers(DemoSFContactCenterNewYork), body(ids)), 400, "LIMIT_EXCEEDED", "At most 100 users can be added at a time")
	if m := e.members(DemoSFContactCenterNewYork); len(m) != 0 {
		t.Fatalf("a refused request added %d members", len(m))
	}
	wantSFError(t, e.api("POST", fmtMembers(DemoSFContactCenterNewYork), `{"userIds":[]}`), 400, "INVALID_INPUT", "userIds: at least one user ID is required")
	wantSFError(t, e.api("POST", fmtMembers(DemoSFContactCenterNewYork), `{}`), 400, "INVALID_INPUT", "userIds: at least one user ID is required")
	wantSFError(t, e.api("POST", fmtMembers(DemoSFContactCenterNewYork), `{"userIds":"x"}`), 400, "JSON_PARSER_ERROR", "…")
	wantSFError(t, e.api("POST", fmtMembers("04v5e000000Nope"), body(ids[:1])), 404, "NOT_FOUND", "Contact center 04v5e000000Nope not found")
	wantSFError(t, e.api("GET", fmtMembers("04v5e000000Nope"), ""), 404, "NOT_FOUND", "Contact center 04v5e000000Nope not found")
	wantSFError(t, e.api("DELETE", fmtMembers("x")+"/"+DemoSFJaneID, ""), 404, "NOT_FOUND", "Contact center x not found")

	r := decode[sfAddReply](t, e.must(200, "POST", fmtMembers(id15(DemoSFContactCenterNewYork)), body(ids[:SFMaxMembersPerAdd])).body)
	for _, res := range r.Results {
		if !res.Success {
			t.Fatalf("result %+v", res)
		}
	}
	if m := e.members(DemoSFContactCenterNewYork); len(m) != SFMaxMembersPerAdd {
		t.Fatalf("%d members, want 100", len(m))
	}
}

func TestSFRemoveMember(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	clock.Advance(time.Second)
	e.addMembers(DemoSFContactCenterNewYork, DemoSFOmarID)
	// Not a member of London: nothing happens.
	e.must(204, "DELETE", fmtMembers(DemoSFContactCenterLondon)+"/"+DemoSFOmarID, "")
	if m, ok := e.sf.Member(DemoSFOmarID); !ok || m.ContactCenterID != DemoSFContactCenterNewYork {
		t.Fatalf("Omar's membership %+v", m)
	}
	clock.Advance(time.Second)
	for range 2 {
		if r := e.must(204, "DELETE", fmtMembers(DemoSFContactCenterLondon)+"/"+id15(DemoSFJaneID), ""); len(r.body) != 0 {
			t.Fatalf("204 with body %q", r.body)
		}
	}
	jane := e.must(200, "GET", sfUser+DemoSFJaneID, "").json(t)
	if jane["CallCenterId"] != nil || jane["LastModifiedDate"] != "2026-11-20T10:15:02.000+0000" {
		t.Fatalf("Jane after remove: %v", jane)
	}
	if _, ok := e.sf.Member(DemoSFJaneID); ok {
		t.Fatal("Jane still has a telephony user")
	}
	if m := e.members(DemoSFContactCenterLondon); len(m) != 0 {
		t.Fatalf("London members %+v", m)
	}
	if e.sf.WriteCount(DemoSFJaneID, "DELETE") != 2 || e.sf.NoopWriteCount(DemoSFJaneID) != 1 {
		t.Fatal("write counts")
	}
	wantSFError(t, e.api("DELETE", fmtMembers(DemoSFContactCenterLondon)+"/0055e000001Nobo", ""), 404, "NOT_FOUND", "User 0055e000001Nobo not found")
	// Removing keeps the user and lets it join another contact center.
	if got := e.addMembers(DemoSFContactCenterNewYork, DemoSFJaneID); !got.Results[0].Success {
		t.Fatalf("add to New York after remove: %+v", got)
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
	ok := func(tel string) map[string]any { return map[string]any{"ok": true, "telephonyUsername": tel} }
	refused := func(reason string) map[string]any { return map[string]any{"ok": false, "reason": reason} }

	check("member", DemoSFJaneID, 200, ok(tel("jsmith", DemoSFJaneID)))
	check("member by 15-character ID", id15(DemoSFJaneID), 200, ok(tel("jsmith", DemoSFJaneID)))
	check("not a member", DemoSFOmarID, 401, refused("user "+DemoSFOmarID+" is not a member of any contact center"))
	check("unknown", "0055e000001Nobo", 401, refused("user 0055e000001Nobo not found"))

	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2"}`)
	broken := refused("telephony username " + tel("jsmith", DemoSFJaneID) + " does not match alias jsmith2: remove and re-add the user (seed 004)")
	check("after the alias change", DemoSFJaneID, 401, broken)
	e.addMembers(DemoSFContactCenterLondon, DemoSFJaneID)
	check("after a re-add without remove", DemoSFJaneID, 401, broken)
	if _, err := e.sf.CheckSSO(DemoSFJaneID); err == nil || !strings.Contains(err.Error(), "does not match alias jsmith2") {
		t.Fatalf("CheckSSO: %v", err)
	}

	e.must(204, "DELETE", fmtMembers(DemoSFContactCenterLondon)+"/"+DemoSFJaneID, "")
	check("after remove", DemoSFJaneID, 401, refused("user "+DemoSFJaneID+" is not a member of any contact center"))
	e.addMembers(DemoSFContactCenterLondon, DemoSFJaneID)
	check("after remove + re-add", DemoSFJaneID, 200, ok(tel("jsmith2", DemoSFJaneID)))

	// Changing the alias back restores nothing: the telephony user is jsmith2's now.
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith"}`)
	check("alias changed back", DemoSFJaneID, 401, refused("telephony username "+tel("jsmith2", DemoSFJaneID)+" does not match alias jsmith: remove and re-add the user (seed 004)"))
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2","IsActive":false}`)
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
	sf := NewSalesforce(SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	if err := sf.AddMember(DemoSFContactCenterNewYork, DemoSFLenaID); err == nil || !strings.Contains(err.Error(), "NO_CONTACT_CENTER_PERMISSION") {
		t.Fatalf("AddMember without permission set: %v", err)
	}
	if err := sf.AddMember("04v5e000000Nope", DemoSFOmarID); err == nil {
		t.Fatal("AddMember to an unknown contact center succeeded")
	}
	if err := sf.AddMember(DemoSFContactCenterNewYork, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if tel, err := sf.CheckSSO(DemoSFOmarID); err != nil || tel != "ohaddad@"+DemoSFOmarID+"@"+DemoSFOrgID {
		t.Fatalf("CheckSSO %q %v", tel, err)
	}
	if err := sf.RemoveMember(DemoSFContactCenterNewYork, DemoSFOmarID); err != nil {
		t.Fatal(err)
	}
	if m := sf.Members(DemoSFContactCenterNewYork); len(m) != 0 {
		t.Fatalf("members %+v", m)
	}
	if sf.Members("04v5e000000Nope") != nil {
		t.Fatal("members of an unknown contact center")
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
