package sandbox

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults VCCFaults
		// statuses of three API calls, then a token request
		want       []int
		retryAfter string
		message    string
	}{
		{name: "429 twice with Retry-After", faults: VCCFaults{FailNext: 2, FailStatus: 429, RetryAfter: 1500 * time.Millisecond},
			want: []int{429, 429, 200, 200}, retryAfter: "2", message: "Too Many Requests"},
		{name: "429 without Retry-After", faults: VCCFaults{FailNext: 1, FailStatus: 429},
			want: []int{429, 200, 200, 200}, message: "Too Many Requests"},
		{name: "500", faults: VCCFaults{FailNext: 1, FailStatus: 500, RetryAfter: time.Second},
			want: []int{500, 200, 200, 200}, message: "Internal Server Error"},
		{name: "503 by default", faults: VCCFaults{FailNext: 3, RetryAfter: 3 * time.Second},
			want: []int{503, 503, 503, 200}, retryAfter: "3", message: "Service Unavailable"},
		{name: "always", faults: VCCFaults{FailRate: 1, FailStatus: 429},
			want: []int{429, 429, 429, 429}, message: "Too Many Requests"},
		{name: "down", faults: VCCFaults{Down: true},
			want: []int{503, 503, 503, 503}, message: "Service Unavailable"},
		{name: "down but the token endpoint is excluded", faults: VCCFaults{Down: true, ExcludeToken: true},
			want: []int{503, 503, 503, 200}, message: "Service Unavailable"},
		{name: "FailNext skips excluded token requests", faults: VCCFaults{FailNext: 1, FailStatus: 500, ExcludeToken: true},
			want: []int{500, 200, 200, 200}, message: "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, VCCOptions{})
			e.vcc.ResetStats()
			e.vcc.SetFaults(tt.faults)
			var got []int
			for i := range 3 {
				r := e.api("GET", "/useradmin/users/"+activeUserID, "")
				got = append(got, r.status)
				if i == 0 {
					if m := r.message(t); m != tt.message {
						t.Errorf("message %q, want %q", m, tt.message)
					}
					if ra := r.header.Get("Retry-After"); ra != tt.retryAfter {
						t.Errorf("Retry-After %q, want %q", ra, tt.retryAfter)
					}
				}
			}
			got = append(got, e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoClientID},
				"client_secret": {DemoClientSecret}, "scope": {"users:read"}}, "", "").status)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			faults := 0
			for _, s := range got {
				if s != 200 {
					faults++
				}
			}
			if st := e.vcc.Stats(); st.InjectedFaults != faults || st.Requests["GET"] != 3 || st.TokenRequests != 1 {
				t.Fatalf("stats %+v, want %d injected faults", st, faults)
			}
		})
	}
}

func TestFaultControls(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	e.vcc.SetDown(true)
	e.must(503, "GET", "/useradmin/users", "")
	e.vcc.SetDown(false)
	e.must(200, "GET", "/useradmin/users", "")

	e.vcc.FailNext(1, 429, 2*time.Second)
	if r := e.must(429, "GET", "/useradmin/users", ""); r.header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if f := e.vcc.Faults(); f.FailNext != 0 {
		t.Fatalf("FailNext left at %d", f.FailNext)
	}
	e.must(200, "GET", "/useradmin/users", "")

	e.vcc.SetFaults(VCCFaults{Latency: 100 * time.Millisecond})
	start := time.Now()
	e.must(200, "GET", "/useradmin/users", "")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("request took %v with 100ms latency", d)
	}
	e.vcc.ClearFaults()
	if f := e.vcc.Faults(); f != (VCCFaults{}) {
		t.Fatalf("faults after clear: %+v", f)
	}

	// A failed write is not a write.
	e.vcc.FailNext(1, 500, 0)
	e.must(500, "PATCH", "/useradmin/users/"+activeUserID, `{"name":"X"}`)
	if n := e.vcc.WriteCount(activeUserID, ""); n != 0 {
		t.Fatalf("writes %d after an injected failure", n)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	e.vcc.ResetStats()
	if st := e.vcc.Stats(); st.Writes != 0 || len(st.Requests) != 0 || st.TokenRequests != 0 {
		t.Fatalf("stats after reset %+v", st)
	}
	e.token(DemoClientID, DemoClientSecret, "users:read")
	e.must(200, "GET", "/useradmin/users", "")
	e.must(200, "PATCH", "/useradmin/users/"+activeUserID, `{}`)
	e.must(200, "PUT", "/useradmin/users/"+activeUserID+"/groups", `{"agentGroups":[]}`)
	e.must(200, "PATCH", "/useradmin/users/"+archivedUserID, `{"active":false}`)
	e.must(204, "DELETE", "/useradmin/users/"+archivedUserID, "")
	e.must(404, "PATCH", "/useradmin/users/nope", `{}`)

	st := e.vcc.Stats()
	want := VCCStats{
		Requests:       map[string]int{"POST": 1, "GET": 1, "PATCH": 3, "PUT": 1, "DELETE": 1},
		TokenRequests:  1,
		Writes:         4,
		WritesByMethod: map[string]int{"PATCH": 2, "PUT": 1, "DELETE": 1},
		WritesByUser: map[string]map[string]int{
			activeUserID:   {"PATCH": 1, "PUT": 1},
			archivedUserID: {"PATCH": 1, "DELETE": 1},
		},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Fatalf("stats (-want +got):\n%s", diff)
	}
	st.WritesByUser[activeUserID]["PATCH"] = 99
	if e.vcc.WriteCount(activeUserID, "patch") != 1 || e.vcc.WriteCount(activeUserID, "") != 2 {
		t.Fatal("Stats returned shared maps or WriteCount is wrong")
	}
}

func TestStart(t *testing.T) {
	v := NewVCC(VCCOptions{})
	if err := v.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	u, stop, err := v.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(u+VCCTokenPath, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("empty token request: %d, want 401", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := http.Get(u + "/useradmin/users"); err == nil {
		t.Fatal("server still answers after stop")
	}
	if _, _, err := Start("256.0.0.1:0", v); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
}
