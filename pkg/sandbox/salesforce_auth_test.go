package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSFClientCredentials(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	if err := e.sf.AddClient(SFClient{ID: "no-user", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sf.AddClient(SFClient{ID: "jwt-only", PublicKey: &testRSAKey().PublicKey}); err != nil {
		t.Fatal(err)
	}
	r := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	tok := r.json(t)
	if !regexp.MustCompile(`^00D5e000000KQ2e!\S{20,}$`).MatchString(tok["access_token"].(string)) {
		t.Errorf("access_token %q", tok["access_token"])
	}
	if tok["instance_url"] != e.url || tok["token_type"] != "Bearer" {
		t.Errorf("instance_url %v token_type %v, want %s Bearer", tok["instance_url"], tok["token_type"], e.url)
	}
	if ms, err := strconv.ParseInt(tok["issued_at"].(string), 10, 64); err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Errorf("issued_at %v", tok["issued_at"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}

	tests := []struct {
		name       string
		form       url.Values
		error, msg string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {"nope"}},
			"invalid_client", "invalid client credentials"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}},
			"invalid_client", "invalid client credentials"},
		{"no secret registered", url.Values{"grant_type": {"client_credentials"}, "client_id": {"jwt-only"}, "client_secret": {""}},
			"invalid_client", "invalid client credentials"},
		{"no run-as user", url.Values{"grant_type": {"client_credentials"}, "client_id": {"no-user"}, "client_secret": {"s"}},
			"invalid_grant", "no client credentials user enabled"},
		{"no grant type", url.Values{"client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}},
			"unsupported_grant_type", "grant type not supported"},
		{"password grant", url.Values{"grant_type": {"password"}, "client_id": {DemoSFClientID}},
			"unsupported_grant_type", "grant type not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenRequest(tt.form)
			want := map[string]any{"error": tt.error, "error_description": tt.msg}
			if diff := cmp.Diff(want, r.json(t)); r.status != http.StatusBadRequest || diff != "" {
				t.Fatalf("status %d, want 400; body (-want +got):\n%s", r.status, diff)
			}
		})
	}
	if r := e.raw("GET", SFTokenPath, "", ""); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET token: %d", r.status)
	}
}

func TestSFJWTBearer(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now})
	key := testRSAKey()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, c := range []SFClient{
		{ID: "jwt-app", PublicKey: &key.PublicKey, Username: DemoSFUsername},
		{ID: "jwt-pem", PublicKeyPEM: pemKey},
		{ID: "secret-only", Secret: "s", Username: DemoSFUsername},
	} {
		if err := e.sf.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sf.AddClient(SFClient{ID: "bad", PublicKeyPEM: []byte("not pem")}); err == nil {
		t.Fatal("AddClient accepted a bad PEM key")
	}
	if err := e.sf.AddClient(SFClient{ID: "nothing"}); err == nil {
		t.Fatal("AddClient accepted a client with neither secret nor key")
	}
	exp := clock.Now().Add(2 * time.Minute).Unix()
	claims := func(iss, sub, aud string, exp int64) map[string]any {
		return map[string]any{"iss": iss, "sub": sub, "aud": aud, "exp": exp}
	}
	login := "https://login.salesforce.com"
	tests := []struct {
		name      string
		assertion string
		status    int
		error     string
		msg       string
	}{
		{"login audience", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, login, exp)), 200, "", ""},
		{"sandbox org audience", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, "https://test.salesforce.com/", exp)), 200, "", ""},
		// Salesforce refuses the org's own URL (My Domain) as the audience,
		// even on the My Domain token endpoint.
		{"instance audience", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, e.url, exp)), 400, "invalid_grant", "audience is invalid"},
		{"audience array", signJWT(t, key, "RS256", map[string]any{"iss": "jwt-app", "sub": DemoSFUsername, "aud": []string{"x", login}, "exp": exp}), 200, "", ""},
		{"PEM key, any active user", signJWT(t, key, "RS256", claims("jwt-pem", "jane.smith@demo.example", login, exp)), 200, "", ""},
		{"PEM key, unknown user", signJWT(t, key, "RS256", claims("jwt-pem", "nobody@demo.example", login, exp)), 400, "invalid_grant", "user hasn't approved this consumer"},
		{"other user than the app's", signJWT(t, key, "RS256", claims("jwt-app", "jane.smith@demo.example", login, exp)), 400, "invalid_grant", "user hasn't approved this consumer"},
		{"signed with another key", signJWT(t, otherRSAKey(), "RS256", claims("jwt-app", DemoSFUsername, login, exp)), 400, "invalid_grant",
			"invalid assertion: signature does not verify with the connected app's certificate"},
		{"alg HS256", signJWT(t, key, "HS256", claims("jwt-app", DemoSFUsername, login, exp)), 400, "invalid_grant", `invalid assertion: alg "HS256", want RS256`},
		{"unknown issuer", signJWT(t, key, "RS256", claims("nobody", DemoSFUsername, login, exp)), 400, "invalid_client", "client identifier invalid"},
		{"app without certificate", signJWT(t, key, "RS256", claims("secret-only", DemoSFUsername, login, exp)), 400, "invalid_client",
			"the connected app has no certificate for the JWT bearer flow"},
		{"wrong audience", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, "https://evil.example", exp)), 400, "invalid_grant", "audience is invalid"},
		{"expired", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, login, clock.Now().Add(-time.Minute).Unix())), 400, "invalid_grant",
			"expired authorization code: the assertion expired"},
		{"exp too far ahead", signJWT(t, key, "RS256", claims("jwt-app", DemoSFUsername, login, clock.Now().Add(10*time.Minute).Unix())), 400, "invalid_grant",
			"invalid assertion: exp is more than 3 minutes ahead"},
		{"not a JWT", "abc", 400, "invalid_grant", "invalid assertion: not a JWT (header.claims.signature)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenRequest(url.Values{"grant_type": {SFGrantJWTBearer}, "assertion": {tt.assertion}})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			got := r.json(t)
			if tt.status != 200 {
				if diff := cmp.Diff(map[string]any{"error": tt.error, "error_description": tt.msg}, got); diff != "" {
					t.Fatalf("body (-want +got):\n%s", diff)
				}
				return
			}
			tok := got["access_token"].(string)
			if got["instance_url"] != e.url || got["token_type"] != "Bearer" {
				t.Fatalf("reply %v", got)
			}
			if r := e.raw("GET", sfUser+DemoSFJaneID, tok, ""); r.status != 200 {
				t.Fatalf("API call with the JWT token: %d %s", r.status, r.body)
			}
		})
	}
}

func TestSFInvalidSession(t *testing.T) {
	clock := newSFClock()
	e := newSFEnv(t, SalesforceOptions{Now: clock.Now, SessionTimeout: time.Hour})
	const want = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]` + "\n"
	check := func(name string, r response) {
		t.Helper()
		if r.status != http.StatusUnauthorized || string(r.body) != want {
			t.Fatalf("%s: %d %s, want 401 %s", name, r.status, r.body, want)
		}
	}
	paths := []struct{ method, path, body string }{
		{"GET", sfUser + DemoSFJaneID, ""},
		{"PATCH", sfUser + DemoSFJaneID, `{"Alias":"x"}`},
		{"GET", sfV + "/query?q=SELECT+Id+FROM+User", ""},
		{"PATCH", sfUser + DemoSFOmarID, `{"CallCenterId":"` + DemoSFContactCenterLondon + `"}`},
		{"PATCH", sfCollections, collectionBody(false, []map[string]any{userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterLondon)})},
		{"GET", sfV + "/sobjects/CallCenter/" + DemoSFContactCenterLondon, ""},
		{"GET", SFApexRESTRoot + "/vccsync/contactcenters/" + DemoSFContactCenterLondon + "/members", ""},
		{"GET", sfV + "/sobjects/Account/001000000000000", ""},
	}
	for _, p := range paths {
		check("no token "+p.method+" "+p.path, e.raw(p.method, p.path, "", p.body))
		check("bad token "+p.method+" "+p.path, e.raw(p.method, p.path, "00D5e000000KQ2e!nope", p.body))
	}
	if _, ok := e.sf.Member(DemoSFOmarID); ok {
		t.Fatal("an unauthenticated add changed the org")
	}
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	e.sf.RevokeTokens()
	check("revoked", e.api("GET", sfUser+DemoSFJaneID, ""))

	e = newSFEnv(t, SalesforceOptions{Now: clock.Now, SessionTimeout: time.Hour})
	clock.Advance(59 * time.Minute)
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	clock.Advance(time.Minute)
	check("expired", e.api("GET", sfUser+DemoSFJaneID, ""))
	if st := e.sf.Stats(); st.APIRequests != 1 {
		t.Fatalf("APIRequests %d, want 1 (refused sessions do not count)", st.APIRequests)
	}
}

func TestSFRequestLimit(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{APIRequestLimit: 3})
	for i := 1; i <= 3; i++ {
		r := e.must(200, "GET", sfUser+DemoSFJaneID, "")
		if got, want := r.header.Get("Sforce-Limit-Info"), "api-usage="+strconv.Itoa(i)+"/3"; got != want {
			t.Fatalf("Sforce-Limit-Info %q, want %q", got, want)
		}
	}
	r := e.api("GET", sfUser+DemoSFJaneID, "")
	wantSFError(t, r, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
	if got := r.header.Get("Sforce-Limit-Info"); got != "api-usage=4/3" {
		t.Fatalf("Sforce-Limit-Info %q", got)
	}
	e.sf.SetAPIUsage(0)
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	if used, limit := e.sf.APIUsage(); used != 1 || limit != 3 {
		t.Fatalf("usage %d/%d", used, limit)
	}
}

func TestSFFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     SFFaults
		want       []int // three API calls, then a token request, then an SSO check
		code       string
		retryAfter string
	}{
		{name: "REQUEST_LIMIT_EXCEEDED", faults: SFFaults{FailNext: 2, FailStatus: 403},
			want: []int{403, 403, 200, 200, 200}, code: "REQUEST_LIMIT_EXCEEDED"},
		{name: "429 with Retry-After", faults: SFFaults{FailNext: 1, FailStatus: 429, RetryAfter: 1500 * time.Millisecond},
			want: []int{429, 200, 200, 200, 200}, code: "REQUEST_LIMIT_EXCEEDED", retryAfter: "2"},
		{name: "500", faults: SFFaults{FailNext: 1, FailStatus: 500, RetryAfter: time.Second},
			want: []int{500, 200, 200, 200, 200}, code: "UNKNOWN_EXCEPTION"},
		{name: "503 by default", faults: SFFaults{FailNext: 4, RetryAfter: 3 * time.Second},
			want: []int{503, 503, 503, 503, 200}, code: "SERVER_UNAVAILABLE", retryAfter: "3"},
		{name: "always", faults: SFFaults{FailRate: 1, FailStatus: 502},
			want: []int{502, 502, 502, 502, 200}, code: "BAD_GATEWAY"},
		{name: "down", faults: SFFaults{Down: true},
			want: []int{503, 503, 503, 503, 200}, code: "SERVER_UNAVAILABLE"},
		{name: "down but the token endpoint is excluded", faults: SFFaults{Down: true, ExcludeToken: true},
			want: []int{503, 503, 503, 200, 200}, code: "SERVER_UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSFEnv(t, SalesforceOptions{})
			e.sf.ResetStats()
			e.sf.SetFaults(tt.faults)
			var got []int
			for i := range 3 {
				r := e.api("GET", sfUser+DemoSFJaneID, "")
				got = append(got, r.status)
				if i == 0 {
					if errs := decode[[]sfError](t, r.body); len(errs) != 1 || errs[0].ErrorCode != tt.code {
						t.Errorf("body %s, want errorCode %s", r.body, tt.code)
					}
					if ra := r.header.Get("Retry-After"); ra != tt.retryAfter {
						t.Errorf("Retry-After %q, want %q", ra, tt.retryAfter)
					}
				}
			}
			got = append(got, e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}}).status)
			got = append(got, e.raw("POST", SFSSOCheckPath, "", `{"userId":"`+DemoSFJaneID+`"}`).status)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			faults := 0
			for _, s := range got {
				if s != 200 {
					faults++
				}
			}
			if st := e.sf.Stats(); st.InjectedFaults != faults || st.TokenRequests != 1 {
				t.Fatalf("stats %+v, want %d injected faults", st, faults)
			}
		})
	}
}

func TestSFFaultControls(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	e.sf.SetDown(true)
	e.must(503, "GET", sfUser+DemoSFJaneID, "")
	e.sf.SetDown(false)
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	e.sf.FailNext(1, 403, 0)
	wantSFError(t, e.api("PATCH", sfUser+DemoSFJaneID, `{"Alias":"js"}`), 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
	if u, _ := e.sf.User(DemoSFJaneID); u.Alias != "jsmith" || e.sf.WriteCount(DemoSFJaneID, "") != 0 {
		t.Fatalf("a refused PATCH changed the user: %+v", u)
	}
	if f := e.sf.Faults(); f.FailNext != 0 {
		t.Fatalf("FailNext left at %d", f.FailNext)
	}
	e.sf.SetFaults(SFFaults{Latency: 100 * time.Millisecond})
	start := time.Now()
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("request took %v with 100ms latency", d)
	}
	e.sf.ClearFaults()
	if f := e.sf.Faults(); f != (SFFaults{}) {
		t.Fatalf("faults after clear: %+v", f)
	}
}

func TestSFStats(t *testing.T) {
	e := newSFEnv(t, SalesforceOptions{})
	e.sf.ResetStats()
	e.must(200, "GET", sfUser+DemoSFJaneID, "")
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2"}`)
	e.must(204, "PATCH", sfUser+DemoSFJaneID, `{"Alias":"jsmith2"}`)
	e.must(200, "GET", sfV+"/query?q=SELECT+Id+FROM+User", "")
	e.collection(false, userRecord(DemoSFOmarID, "CallCenterId", DemoSFContactCenterLondon), userRecord(DemoSFLenaID, "CallCenterId", DemoSFContactCenterLondon))
	e.setCallCenter(DemoSFOmarID, nil)
	e.setCallCenter(DemoSFOmarID, nil)
	e.must(200, "GET", sfV+"/sobjects/CallCenter/"+DemoSFContactCenterLondon, "")
	e.must(404, "GET", SFApexRESTRoot+"/vccsync/contactcenters/"+DemoSFContactCenterLondon+"/members", "")
	e.must(405, "PUT", sfUser+DemoSFJaneID, `{}`)
	e.raw("POST", SFSSOCheckPath, "", `{"userId":"`+DemoSFJaneID+`"}`)

	want := SFStats{
		Requests: map[string]int{
			"GET /services/data/{version}/sobjects/User/{id}":       1,
			"PATCH /services/data/{version}/sobjects/User/{id}":     4,
			"GET /services/data/{version}/query":                    1,
			"PATCH /services/data/{version}/composite/sobjects":     1,
			"GET /services/data/{version}/sobjects/CallCenter/{id}": 1,
			"GET (no route)":          1,
			"PUT (no route)":          1,
			"POST /sandbox/sso/check": 1,
		},
		APIRequests: 10,
		Writes:      5,
		WritesByUser: map[string]map[string]int{
			DemoSFJaneID: {"PATCH": 2},
			DemoSFOmarID: {"PATCH": 3},
		},
	}
	st := e.sf.Stats()
	if diff := cmp.Diff(want, st); diff != "" {
		t.Fatalf("stats (-want +got):\n%s", diff)
	}
	if n := e.sf.NoopWriteCount(DemoSFJaneID); n != 1 {
		t.Fatalf("noop writes of Jane %d, want 1 (the second identical PATCH)", n)
	}
	if n := e.sf.NoopWriteCount(""); n != 2 {
		t.Fatalf("noop writes %d, want 2", n)
	}
	st.WritesByUser[DemoSFJaneID]["PATCH"] = 99
	if e.sf.WriteCount(id15(DemoSFJaneID), "patch") != 2 || e.sf.WriteCount(DemoSFOmarID, "") != 3 {
		t.Fatal("Stats returned shared maps or WriteCount is wrong")
	}
}

func TestSFStart(t *testing.T) {
	sf := NewSalesforce(SalesforceOptions{})
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	u, stop, err := sf.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.PostForm(u+SFTokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := decode[map[string]any](t, readAll(t, resp))
	if resp.StatusCode != 200 || body["instance_url"] != u {
		t.Fatalf("%d %v, want instance_url %s", resp.StatusCode, body, u)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
