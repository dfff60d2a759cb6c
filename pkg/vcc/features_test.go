package vcc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
)

// documentedUser is the full user object of VCC's Create user and Get
// users pages, every agentConfiguration field set.
const documentedUser = `{
  "userId": "8e22b1fe-0001", "username": "Supervisor_full_example", "name": "Supervisor",
  "email": "supervisor@vonage.com", "ssoExternalId": "supervisor_externalId", "active": true, "locked": false,
  "userAccountConfiguration": {
    "role": "Supervisor", "chargeable": true, "actAsAgent": true,
    "agentConfiguration": {
      "agentDisplayId": "1234", "webrtc": true, "agentControlWebrtc": true, "handleMultipleInteractions": true,
      "enforcedDispositionCodes": true, "transcribeCalls": true, "screenRecording": false, "callParking": true,
      "salesCadence": false, "outboundAutoanswer": true, "inboundAutoanswer": true, "outboundWrapUp": 200,
      "backToReadyAfterNoAnswer": 100, "backToReadyAfterLineBusy": 1000, "backToReadyAfterInvalidNumber": 300,
      "backToReadyAfterNetworkIssue": 200, "callRatingFrequency": 50, "video": true, "transcribeCallsRealTime": true,
      "callRecordingControls": true, "location": "GB",
      "telephonyAddress": {
        "telephoneAddress": "800200", "telephonyExtension": "44",
        "outboundTelephonyRegion": "b4c6e398-ac69-4135-b3fd-64d7a6d14272", "nationalDisplay": true,
        "virtualLocation": "PL", "preventAutoCallbackNumber": true, "selectedCallbackNumberId": "4c0b6793-a4c9"
      },
      "capacity": {"isAgentLevel": true, "live": 50, "nonLive": 33, "semiLive": 40},
      "associatedUsers": [{"username": "supervisor_vbc", "applicationType": "VBC"}]
    }
  }
}`

// TestDocumentedUserRoundTrip: every field of VCC's documented user object
// decodes, and encodes back to the same object (so a copy from a template
// carries them all).
func TestDocumentedUserRoundTrip(t *testing.T) {
	var u User
	if err := json.Unmarshal([]byte(documentedUser), &u); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&u)
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	if err := json.Unmarshal([]byte(documentedUser), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip lost or changed fields (-want +got):\n%s", diff)
	}
	a := u.Config.Agent
	if !*a.OutboundAutoAnswer || !*a.InboundAutoAnswer || *a.OutboundWrapUp != 200 || *a.CallRatingFrequency != 50 ||
		!*a.TranscribeCallsRealTime || !*a.TelephonyAddress.NationalDisplay || *a.SalesCadence || *a.BackToReadyAfterLineBusy != 1000 {
		t.Errorf("agent configuration = %+v", a)
	}

	// Other spellings of the keys decode too.
	var v User
	if err := json.Unmarshal([]byte(`{"userAccountConfiguration":{"agentConfiguration":{"inboundAutoAnswer":true,"OUTBOUNDWRAPUP":5}}}`), &v); err != nil {
		t.Fatal(err)
	}
	if a := v.Config.Agent; a.InboundAutoAnswer == nil || !*a.InboundAutoAnswer || a.OutboundWrapUp == nil || *a.OutboundWrapUp != 5 {
		t.Errorf("case-insensitive keys: %+v", a)
	}
}

// multiAccountVCC answers an archive PATCH without
// acceptArchiveInMultipleAccounts=true with refusal, and every other
// PATCH with the user.
func multiAccountVCC(status int, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"active":false`) && r.URL.Query().Get("acceptArchiveInMultipleAccounts") != "true" {
			writeJSON(w, status, map[string]any{"message": message})
			return
		}
		_, _ = io.WriteString(w, `{"userId":"u1","active":false}`)
	}
}

const multiAccountMessage = "User belongs to multiple accounts. Set acceptArchiveInMultipleAccounts=true to archive the user in all accounts."

func TestArchiveMultipleAccounts(t *testing.T) {
	archive := func(c *Client) (*User, error) { return c.ArchiveUser(context.Background(), "u1") }
	patchArchive := func(c *Client) (*User, error) {
		return c.PatchUser(context.Background(), "u1", &User{Active: Bool(false), Name: "Gone"})
	}
	tests := []struct {
		name       string
		accept     bool
		status     int
		message    string
		call       func(*Client) (*User, error)
		wantMulti  bool // the error matches ErrMultipleAccounts
		wantErr    bool
		wantQuery2 url.Values // the second request's query; nil for none
	}{
		{name: "refused, not configured", status: 400, message: multiAccountMessage, call: archive, wantMulti: true, wantErr: true},
		{name: "refused 409, other wording", status: 409, message: "The user is linked to MULTIPLE ACCOUNTS", call: patchArchive, wantMulti: true, wantErr: true},
		{
			name: "refused, configured", accept: true, status: 400, message: multiAccountMessage, call: archive,
			wantQuery2: url.Values{"allowOverages": {"false"}, "acceptArchiveInMultipleAccounts": {"true"}},
		},
		{
			name: "patch with active=false, configured", accept: true, status: 422, message: "acceptArchiveInMultipleAccounts must be true", call: patchArchive,
			wantQuery2: url.Values{"allowOverages": {"false"}, "acceptArchiveInMultipleAccounts": {"true"}},
		},
		{name: "another refusal", accept: true, status: 400, message: "User is locked", call: archive, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(multiAccountVCC(tt.status, tt.message))
			u, err := tt.call(f.client(func(cfg *Config) { cfg.AcceptArchiveInMultipleAccounts = tt.accept }))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrMultipleAccounts); got != tt.wantMulti {
				t.Errorf("errors.Is(err, ErrMultipleAccounts) = %v, want %v (err %v)", got, tt.wantMulti, err)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != tt.status || e.Message != tt.message || transient(err) {
					t.Errorf("err = %v: want a permanent error holding VCC's *Error", err)
				}
				var tmp interface{ Temporary() bool }
				if !errors.As(err, &tmp) || tmp.Temporary() {
					t.Errorf("err = %v: Temporary() must be false", err)
				}
			}
			if tt.wantMulti {
				for _, s := range []string{"several VCC accounts", "accept-archive-in-multiple-accounts", "--vcc-accept-archive-multiple-accounts", "u1", tt.message} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			}
			if err == nil && (u == nil || u.IsActive()) {
				t.Errorf("user = %+v, want the archived user", u)
			}
			reqs := f.requests()
			wantN := 1
			if tt.wantQuery2 != nil {
				wantN = 2
			}
			if len(reqs) != wantN {
				t.Fatalf("%d requests, want %d", len(reqs), wantN)
			}
			if tt.wantQuery2 != nil {
				if reqs[1].Body != reqs[0].Body || reqs[1].Method != "PATCH" {
					t.Errorf("second request %s %s; want the same PATCH", reqs[1].Method, reqs[1].Body)
				}
				if q, _ := url.ParseQuery(reqs[1].Query); !cmp.Equal(q, tt.wantQuery2) {
					t.Errorf("second request query (-want +got):\n%s", cmp.Diff(tt.wantQuery2, q))
				}
			}
		})
	}

	// A PATCH that does not archive is never sent again with the flag.
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, map[string]any{"message": multiAccountMessage})
	})
	_, err := f.client(func(cfg *Config) { cfg.AcceptArchiveInMultipleAccounts = true }).RevertUser(context.Background(), "u1")
	if err == nil || errors.Is(err, ErrMultipleAccounts) || len(f.requests()) != 1 {
		t.Errorf("revert: err %v after %d requests; want VCC's refusal after one", err, len(f.requests()))
	}
}

// TestCreateUserEmptyReply: a 2xx create with no body is read back by
// username.
func TestCreateUserEmptyReply(t *testing.T) {
	for _, status := range []int{200, 201, 204} {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.WriteHeader(status)
				return
			}
			_, _ = io.WriteString(w, sampleUser)
		})
		u, err := f.client().CreateUser(context.Background(), &User{Username: "jsmith@example.com", Name: "Jane Smith", Email: "jsmith@example.com"})
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		if u.UserID != "8e22b1fe-0001" {
			t.Errorf("%d: user = %+v", status, u)
		}
		var got []string
		for _, r := range f.requests() {
			got = append(got, r.Method+" "+r.Path)
		}
		if diff := cmp.Diff([]string{"POST /useradmin/users", "GET /useradmin/users/by/username/jsmith@example.com"}, got); diff != "" {
			t.Errorf("%d: requests (-want +got):\n%s", status, diff)
		}
	}

	// Read back and not found: an error that says the create was answered.
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(201)
			return
		}
		writeJSON(w, 404, map[string]any{"message": "User not found"})
	})
	_, err := f.client().CreateUser(context.Background(), &User{Username: "j@x"})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no body") {
		t.Errorf("err = %v", err)
	}
}

func TestIsDuplicate(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&Error{Method: "POST", Route: RouteUsers, Status: 409, Message: "Conflict"}, true},
		{&Error{Method: "POST", Route: RouteUsers, Status: 400, Message: "Username jsmith already exists"}, true},
		{&Error{Method: "PATCH", Route: RouteUser, Status: 400, Message: "agentDisplayId 1042 is already in use by another user"}, true},
		{&Error{Method: "PATCH", Route: RouteUser, Status: 409, Message: "telephoneAddress 1042 is already in use by another agent"}, true},
		{fmt.Errorf("create: %w", &Error{Method: "POST", Route: RouteUsers, Status: 400, Message: "Duplicate agent ID"}), true},
		{&Error{Method: "POST", Route: RouteUsers, Status: 400, Message: "email is required"}, false},
		{&Error{Method: "DELETE", Route: RouteUser, Status: 409, Message: "User must be archived before it can be deleted"}, false},
		{&Error{Method: "POST", Route: RouteUsers, Status: 503, Message: "already exists"}, false},
		{errors.New("already exists"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsDuplicate(tt.err); got != tt.want {
			t.Errorf("IsDuplicate(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// recordingLimiter records the calls of a Limiter.
type recordingLimiter struct {
	mu     sync.Mutex
	events []string
}

func (l *recordingLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "wait")
	return ctx.Err()
}

func (l *recordingLimiter) Observe(throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("observe %v", throttled))
}

// TestPluggableLimiter: Config.Limiter paces every API request (retries
// included, the token endpoint not) and is told after each reply whether
// VCC throttled it.
func TestPluggableLimiter(t *testing.T) {
	f := newFake(t)
	n := 0
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			writeJSON(w, 429, map[string]any{"message": "Too many requests"})
		case 2:
			writeJSON(w, 503, map[string]any{"message": "busy"})
		default:
			_, _ = io.WriteString(w, sampleUser)
		}
	})
	l := &recordingLimiter{}
	c := f.client(quickRetries, func(cfg *Config) { cfg.Limiter, cfg.RatePerMinute = l, 0 })
	if _, err := c.GetUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"wait", "observe true", "wait", "observe false", "wait", "observe false"}
	if diff := cmp.Diff(want, l.events); diff != "" {
		t.Errorf("limiter events (-want +got):\n%s", diff)
	}
	if f.tokens() != 1 {
		t.Errorf("%d tokens", f.tokens())
	}

	// A Limiter's error ends the call before any request.
	f2 := newFake(t)
	stop := errors.New("limiter closed")
	c2 := f2.client(func(cfg *Config) { cfg.Limiter = failingLimiter{stop} })
	if _, err := c2.GetUser(context.Background(), "u1"); !errors.Is(err, stop) {
		t.Errorf("err = %v, want the limiter's", err)
	}
	if len(f2.requests()) != 0 {
		t.Errorf("%d requests despite the limiter's refusal", len(f2.requests()))
	}
}

type failingLimiter struct{ err error }

func (l failingLimiter) Wait(context.Context) error { return l.err }
func (failingLimiter) Observe(bool)                 {}

// TestDefaultLimiterBurst: the fixed limiter's burst never exceeds the
// per-minute budget.
func TestDefaultLimiterBurst(t *testing.T) {
	tests := []struct {
		perMinute, burst int
		wantLimit        rate.Limit
		wantBurst        int
	}{
		{0, 0, rate.Limit(160.0 / 60), DefaultRateBurst},
		{3, 0, rate.Limit(3.0 / 60), 3},
		{3, 5, rate.Limit(3.0 / 60), 3},
		{600, 20, rate.Limit(10), 20},
	}
	for _, tt := range tests {
		c, err := New(Config{BaseURL: "https://x/useradmin", TokenURL: "https://x/t", ClientID: "id", ClientSecret: "s", RatePerMinute: tt.perMinute, RateBurst: tt.burst})
		if err != nil {
			t.Fatal(err)
		}
		l, ok := c.limiter.(fixedLimiter)
		if !ok || l.Limit() != tt.wantLimit || l.Burst() != tt.wantBurst {
			t.Errorf("rate %d burst %d: limiter %v %v, want %v burst %d", tt.perMinute, tt.burst, l.Limit(), l.Burst(), tt.wantLimit, tt.wantBurst)
		}
	}
}

func TestRegionsInUse(t *testing.T) {
	user := func(i int, region string) map[string]any {
		u := map[string]any{"userId": fmt.Sprintf("u%d", i), "username": fmt.Sprintf("user%d@x", i)}
		if region != "-" {
			u["userAccountConfiguration"] = map[string]any{"actAsAgent": true, "agentConfiguration": map[string]any{
				"telephonyAddress": map[string]any{"outboundTelephonyRegion": region}}}
		}
		return u
	}
	var users []map[string]any
	for i := range 7 {
		users = append(users, user(i, "emea-guid"))
	}
	users = append(users, user(7, "nam-guid"), user(8, "nam-guid"), user(9, "-"), user(10, ""), user(11, "apac-guid"), user(12, "aaa-guid"))
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("include") != IncludeAll || q.Get("limit") != "5000" {
			t.Errorf("query %q: want every user, pages of 5000", r.URL.RawQuery)
		}
		writeJSON(w, 200, map[string]any{"meta": map[string]any{"page": 1, "pageCount": 1, "totalCount": len(users)}, "users": users})
	})
	got, err := f.client().RegionsInUse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []RegionUse{
		{Region: "emea-guid", Users: 7, Examples: []string{"user0@x", "user1@x", "user2@x"}},
		{Region: "nam-guid", Users: 2, Examples: []string{"user7@x", "user8@x"}},
		{Region: "aaa-guid", Users: 1, Examples: []string{"user12@x"}},
		{Region: "apac-guid", Users: 1, Examples: []string{"user11@x"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RegionsInUse (-want +got):\n%s", diff)
	}
}
