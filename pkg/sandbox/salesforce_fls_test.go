package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestSFFieldLevelSecurity(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	names := func() []string {
		d := decode[struct {
			Fields []sfDescribeField `json:"fields"`
		}](t, e.must(http.StatusOK, "GET", sfUser+"describe", "").body)
		var out []string
		for _, f := range d.Fields {
			out = append(out, f.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, SFUserFields) {
		t.Fatalf("describe fields %v, want every User field %v", got, SFUserFields)
	}
	if r := e.query("SELECT Id, " + SFFieldNVMAgentID + " FROM User"); r.status != http.StatusOK {
		t.Fatalf("query of a visible field: %d %s", r.status, r.body)
	}

	if err := e.sf.HideUserFields(DemoSFUsername, SFFieldNVMAgentID); err != nil {
		t.Fatal(err)
	}
	if got := names(); slices.Contains(got, SFFieldNVMAgentID) || len(got) != len(SFUserFields)-1 {
		t.Errorf("describe fields %v, want all but %s", got, SFFieldNVMAgentID)
	}
	wantSFError(t, e.query("SELECT Id, "+SFFieldNVMAgentID+" FROM User"), http.StatusBadRequest, "INVALID_FIELD",
		"No such column '"+SFFieldNVMAgentID+"' on entity 'User'. …")
	wantSFError(t, e.api("GET", sfUser+DemoSFJaneID+"?fields=Id,"+SFFieldNVMAgentID, ""), http.StatusBadRequest, "INVALID_FIELD",
		"No such column '"+SFFieldNVMAgentID+"' on entity 'User'. …")
	rec := decode[map[string]any](t, e.must(http.StatusOK, "GET", sfUser+DemoSFJaneID, "").body)
	if _, ok := rec[SFFieldNVMAgentID]; ok {
		t.Errorf("a record read without a field list shows the hidden field: %v", rec)
	}
	if rec[SFFieldUsername] != "jane.smith@demo.example" {
		t.Errorf("record %v, want the visible fields", rec)
	}

	if err := e.sf.HideUserFields(DemoSFUsername, SFFieldID); err == nil {
		t.Error("Id was hidden")
	}
	if err := e.sf.HideUserFields("", SFFieldAlias); err == nil {
		t.Error("fields hidden from no user")
	}
	// Another API user still sees the field.
	if err := e.sf.AddClient(SFClient{ID: "other-app", Secret: "other-secret", Username: "jane.smith@demo.example"}); err != nil {
		t.Fatal(err)
	}
	r := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"other-app"}, "client_secret": {"other-secret"}})
	tok, _ := r.json(t)["access_token"].(string)
	if r := e.raw("GET", sfV+"/query?q="+url.QueryEscape("SELECT Id, "+SFFieldNVMAgentID+" FROM User"), tok, ""); r.status != http.StatusOK {
		t.Errorf("another API user cannot read the field: %d %s", r.status, r.body)
	}
}
