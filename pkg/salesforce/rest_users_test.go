package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

func TestGetUserFieldStates(t *testing.T) {
	f := newSFFake(t)
	id := sfUserID(42)
	f.addUser(map[string]any{
		"Id": id, "Username": "jane.smith@acme.example", "Alias": "jsmith", "Email": "jane.smith@acme.example",
		"FirstName": "Jane", "LastName": "Smith", "IsActive": true, "FederationIdentifier": "jsmith",
		"ProfileId": "00e5e000000AbCdAAK", "CallCenterId": nil, // null: cleared
		// NVMContactWorld__NVM_Agent_Id__c absent: unknown
		"LastModifiedDate": "2024-04-26T18:25:03.000+0000", "SystemModstamp": "2024-04-26T19:25:03.000+0100",
		"UserRoleId": "00E5e000000AbCd", "TimeZoneSidKey": "Europe/London",
	})
	u, err := f.client().GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ts := events.Time{Time: time.Date(2024, 4, 26, 18, 25, 3, 0, time.UTC)}
	want := events.User{
		ID:                   id,
		Username:             events.Val("jane.smith@acme.example"),
		Alias:                events.Val("jsmith"),
		Email:                events.Val("jane.smith@acme.example"),
		FirstName:            events.Val("Jane"),
		LastName:             events.Val("Smith"),
		IsActive:             events.Val(true),
		FederationIdentifier: events.Val("jsmith"),
		ProfileID:            events.Val("00e5e000000AbCdAAK"),
		CallCenterID:         events.Null[string](),
		LastModifiedDate:     events.Val(ts),
		SystemModstamp:       events.Val(ts),
	}
	if !sfSameUser(u, want) {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}
	if u.AgentID.Set {
		t.Errorf("absent agent ID decoded as set: %+v", u.AgentID)
	}
	if !u.CallCenterID.Set || !u.CallCenterID.Null {
		t.Errorf("null CallCenterId: %+v, want Set and Null", u.CallCenterID)
	}
	if err := u.Validate(); err != nil {
		t.Errorf("decoded user does not validate: %v", err)
	}
	r := f.recorded()[0]
	if r.Method != http.MethodGet || r.Path != "/services/data/v61.0/sobjects/User/"+id {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
}

// sfSameUser compares users, times by instant.
func sfSameUser(a, b events.User) bool {
	ta, tb := a.LastModifiedDate, b.LastModifiedDate
	sa, sb := a.SystemModstamp, b.SystemModstamp
	if ta.Set != tb.Set || ta.Null != tb.Null || !ta.Value.Equal(tb.Value.Time) ||
		sa.Set != sb.Set || sa.Null != sb.Null || !sa.Value.Equal(sb.Value.Time) {
		return false
	}
	a.LastModifiedDate, b.LastModifiedDate = ta, ta
	a.SystemModstamp, b.SystemModstamp = sa, sa
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb) && slices.Equal(a.ChangedFields, b.ChangedFields)
}

func TestDecodeUser(t *testing.T) {
	tests := []struct {
		name    string
		rec     string
		check   func(t *testing.T, u events.User)
		wantErr string
	}{
		{name: "attributes ignored, absent fields unset",
			rec: `{"attributes":{"type":"User","url":"/services/data/v61.0/sobjects/User/005"},"Id":"0055e000001AbCdAAK","Alias":"jsmith"}`,
			check: func(t *testing.T, u events.User) {
				if !u.Alias.Known() || u.Username.Set || u.IsActive.Set || u.LastModifiedDate.Set {
					t.Errorf("%+v", u)
				}
			}},
		{name: "nulls", rec: `{"Id":"0055e000001AbCdAAK","FederationIdentifier":null,"IsActive":null,"SystemModstamp":null,"NVMContactWorld__NVM_Agent_Id__c":null}`,
			check: func(t *testing.T, u events.User) {
				for name, f := range map[string][2]bool{
					"FederationIdentifier": {u.FederationIdentifier.Set, u.FederationIdentifier.Null},
					"IsActive":             {u.IsActive.Set, u.IsActive.Null},
					"SystemModstamp":       {u.SystemModstamp.Set, u.SystemModstamp.Null},
					"AgentID":              {u.AgentID.Set, u.AgentID.Null},
				} {
					if !f[0] || !f[1] {
						t.Errorf("%s: set %v null %v, want null", name, f[0], f[1])
					}
				}
			}},
		{name: "numeric agent ID", rec: `{"Id":"0055e000001AbCdAAK","NVMContactWorld__NVM_Agent_Id__c":1042.0}`,
			check: func(t *testing.T, u events.User) {
				if u.AgentID != events.Val("1042") {
					t.Errorf("agent ID %+v", u.AgentID)
				}
			}},
		{name: "datetime forms", rec: `{"Id":"0055e000001AbCdAAK","LastModifiedDate":"2026-11-20T10:15:00.000Z","SystemModstamp":1714155903000}`,
			check: func(t *testing.T, u events.User) {
				if !u.LastModifiedDate.Value.Equal(time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)) ||
					!u.SystemModstamp.Value.Equal(time.UnixMilli(1714155903000)) {
					t.Errorf("%v %v", u.LastModifiedDate.Value, u.SystemModstamp.Value)
				}
			}},
		{name: "no Id", rec: `{"Alias":"x"}`, wantErr: "no Id"},
		{name: "bad datetime", rec: `{"Id":"0055e000001AbCdAAK","LastModifiedDate":"yesterday"}`, wantErr: "LastModifiedDate"},
		{name: "bad boolean", rec: `{"Id":"0055e000001AbCdAAK","IsActive":"yes"}`, wantErr: "IsActive"},
		{name: "number for a text field", rec: `{"Id":"0055e000001AbCdAAK","Alias":7}`, wantErr: "Alias: 7 is not a string"},
		{name: "not an object", rec: `[1]`, wantErr: "decode User record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := restDecodeUser(json.RawMessage(tt.rec))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, u)
		})
	}
}

func TestGetUserNotFoundAndBadID(t *testing.T) {
	f := newSFFake(t)
	c := f.client()
	_, err := c.GetUser(context.Background(), sfUserID(7))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
	for _, id := range []string{"", "00e5e000000AbCdAAK", "0055e000001AbCd/../x", "0055e000001AbCdXXX"} {
		_, err := c.GetUser(context.Background(), id)
		if !errors.Is(err, events.ErrNotUserID) {
			t.Errorf("GetUser(%q): %v, want ErrNotUserID", id, err)
		}
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("%d requests, want 1 (bad IDs are refused before sending)", n)
	}
}

func TestQueryUsersBatchesAndPages(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(500)
	f.set(func(f *sfFake) { f.pageSize = 150 })
	c := f.client()
	want := ids[:450]
	ask := slices.Clone(want)
	ask = append(ask, want[3][:15], want[7]) // repeats, one in 15-character form
	got, err := c.QueryUsers(context.Background(), ask)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, u := range got {
		gotIDs = append(gotIDs, u.ID)
		if !u.Username.Known() || !u.IsActive.Known() || !u.FederationIdentifier.Null || !u.SystemModstamp.Known() {
			t.Fatalf("user %+v: fields not decoded", u)
		}
	}
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, want) {
		t.Fatalf("got %d users, want the 450 asked for once each", len(gotIDs))
	}
	var queries, more int
	var inSizes []int
	for _, r := range f.recorded() {
		switch {
		case r.Path == "/services/data/v61.0/query":
			queries++
			v, _ := url.ParseQuery(r.Query)
			q := v.Get("q")
			if !strings.HasPrefix(q, "SELECT Id, Username, Alias, Email, FirstName, LastName, IsActive, FederationIdentifier, ProfileId, CallCenterId, NVMContactWorld__NVM_Agent_Id__c, LastModifiedDate, SystemModstamp FROM User WHERE Id IN ('") {
				t.Errorf("query %q", q)
			}
			inSizes = append(inSizes, strings.Count(q, "'")/2)
		case strings.HasPrefix(r.Path, "/services/data/v61.0/query/"):
			more++
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	if queries != 3 || !slices.Equal(inSizes, []int{200, 200, 50}) {
		t.Errorf("%d queries with IN lists of %v, want 3 of [200 200 50]", queries, inSizes)
	}
	if more != 2 {
		t.Errorf("%d nextRecordsUrl requests, want 2 (one per 200-id query at 150 a page)", more)
	}
}

func TestQueryUsersEdges(t *testing.T) {
	f := newSFFake(t)
	f.addUsers(2)
	c := f.client()
	ctx := context.Background()
	if got, err := c.QueryUsers(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %v", got, err)
	}
	got, err := c.QueryUsers(ctx, []string{sfUserID(1), sfUserID(99)})
	if err != nil || len(got) != 1 || got[0].ID != sfUserID(1) {
		t.Errorf("unknown user left out: %v %v", got, err)
	}
	_, err = c.QueryUsers(ctx, []string{sfUserID(1), "x') OR Id != ('"})
	if !errors.Is(err, events.ErrNotUserID) || !strings.Contains(err.Error(), "ids[1]") {
		t.Errorf("bad id: %v", err)
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestQueryRefusesForeignNextRecordsURL(t *testing.T) {
	for _, next := range []string{"", "https://evil.example/services/data/v61.0/query/x", "/services/data/v61.0/sobjects/User/x", "/services/data/v61.0/query/../../oauth2"} {
		t.Run(next, func(t *testing.T) {
			f := newSFFake(t)
			f.set(func(f *sfFake) {
				f.hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/services/data/v61.0/query" {
						return false
					}
					sfWriteJSON(w, 200, map[string]any{"totalSize": 5, "done": false, "nextRecordsUrl": next, "records": []any{}})
					return true
				}
			})
			err := f.client().ForEachUser(context.Background(), func(events.User) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "nextRecordsUrl") {
				t.Fatalf("err %v", err)
			}
			if n := len(f.recorded()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestForEachUser(t *testing.T) {
	f := newSFFake(t)
	ids := f.addUsers(5)
	f.set(func(f *sfFake) { f.pageSize = 2 })
	c := f.client()
	var seen []string
	err := c.ForEachUser(context.Background(), func(u events.User) error {
		seen = append(seen, u.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("saw %v, want %v", seen, ids)
	}
	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages", len(reqs))
	}
	v, _ := url.ParseQuery(reqs[0].Query)
	if q := v.Get("q"); !strings.HasSuffix(q, " FROM User ORDER BY Id") {
		t.Errorf("query %q", q)
	}

	stop := errors.New("enough")
	n := 0
	err = c.ForEachUser(context.Background(), func(events.User) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("err %v after %d users, want the callback's error after 3", err, n)
	}
}

func TestSetAlias(t *testing.T) {
	tests := []struct {
		alias   string
		wantErr string // "" → accepted
	}{
		{"jsmith", ""}, {"j.smith", ""}, {"j_s-1.X", ""}, {"abcdefgh", ""}, {"a", ""},
		{"", "empty"}, {"abcdefghi", "9 characters"}, {"j smith", `' ' at byte 1`}, {"jöhn", `'ö'`},
		{"j@smith", `'@'`}, {"a/b", `'/'`},
	}
	for _, tt := range tests {
		t.Run(tt.alias, func(t *testing.T) {
			f := newSFFake(t)
			id := f.addUsers(1)[0]
			err := f.client().SetAlias(context.Background(), id, tt.alias)
			reqs := f.recorded()
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidAlias) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want ErrInvalidAlias with %q", err, tt.wantErr)
				}
				if len(reqs) != 0 {
					t.Errorf("%d requests for an invalid alias", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 || reqs[0].Method != http.MethodPatch || reqs[0].Path != "/services/data/v61.0/sobjects/User/"+id ||
				reqs[0].Body != `{"Alias":"`+tt.alias+`"}` || reqs[0].Header.Get("Content-Type") != "application/json" {
				t.Errorf("requests %+v", reqs)
			}
			f.mu.Lock()
			got := f.users[id]["Alias"]
			f.mu.Unlock()
			if got != tt.alias {
				t.Errorf("alias now %v", got)
			}
		})
	}
}

func TestSetAliasRefused(t *testing.T) {
	f := newSFFake(t)
	id := f.addUsers(1)[0]
	f.set(func(f *sfFake) {
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPatch {
				return false
			}
			sfWriteJSON(w, 400, []restErrorItem{{ErrorCode: "FIELD_INTEGRITY_EXCEPTION", Message: "Alias: invalid characters in jsmith", Fields: []string{"Alias"}}})
			return true
		}
	})
	err := f.client().SetAlias(context.Background(), id, "jsmith")
	var e *Error
	if !errors.As(err, &e) || e.Temporary() || e.Code != "FIELD_INTEGRITY_EXCEPTION" || !slices.Equal(e.Fields, []string{"Alias"}) {
		t.Fatalf("err %v, want a permanent FIELD_INTEGRITY_EXCEPTION on Alias", err)
	}
}

// Every call names vccsync in Sforce-Call-Options, so CDC reports
// vccsync's own changes with a changeOrigin that can be ignored.
func TestCallOptionsNameTheClient(t *testing.T) {
	f := newSFFake(t)
	id := sfUserID(7)
	f.addUser(map[string]any{"Id": id, "Alias": "old"})
	if err := f.client().SetAlias(context.Background(), id, "new"); err != nil {
		t.Fatal(err)
	}
	recs := f.recorded()
	if len(recs) == 0 {
		t.Fatal("no request recorded")
	}
	for _, r := range recs {
		if got := r.Header.Get("Sforce-Call-Options"); got != "client=vccsync" {
			t.Errorf("%s %s: Sforce-Call-Options %q, want client=vccsync", r.Method, r.Path, got)
		}
	}
}
