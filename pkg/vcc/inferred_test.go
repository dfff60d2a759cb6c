package vcc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// inferredCalls are the calls of the endpoints VCC does not document, with
// the request each must make.
var inferredCalls = []struct {
	name   string
	call   func(*Client) (any, error)
	method string
	path   string // escaped, under the fake's root
	route  string
}{
	{
		name:   "ListTelephonyRegions",
		call:   func(c *Client) (any, error) { return c.ListTelephonyRegions(context.Background()) },
		method: "GET", path: "/useradmin/telephonyRegions", route: RouteTelephonyRegions,
	},
	{
		name:   "ResetPassword",
		call:   func(c *Client) (any, error) { return nil, c.ResetPassword(context.Background(), "8e22b1fe 0001") },
		method: "POST", path: "/useradmin/users/8e22b1fe%200001/passwordReset", route: RouteUserPasswordReset,
	},
	{
		name:   "ListUserCredentials",
		call:   func(c *Client) (any, error) { return c.ListUserCredentials(context.Background(), "u/1") },
		method: "GET", path: "/useradmin/users/u%2F1/credentials", route: RouteUserCredentials,
	},
}

func TestInferredEndpointsRequests(t *testing.T) {
	for _, tt := range inferredCalls {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/passwordReset"):
					w.WriteHeader(http.StatusAccepted)
				case strings.HasSuffix(r.URL.Path, "/credentials"):
					_, _ = io.WriteString(w, `{"credentials":[]}`)
				default:
					_, _ = io.WriteString(w, `{"telephonyRegions":[]}`)
				}
			})
			var (
				mu     sync.Mutex
				routes []string
			)
			c := f.client(func(cfg *Config) {
				cfg.ExternalID = "vccsync-test"
				cfg.Observer = ObserverFunc(func(method, route string, status int, d time.Duration) {
					mu.Lock()
					routes = append(routes, method+" "+route)
					mu.Unlock()
				})
			})
			if _, err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.EscapedPath != tt.path || r.Query != "" {
				t.Errorf("request %s %s?%s, want %s %s", r.Method, r.EscapedPath, r.Query, tt.method, tt.path)
			}
			for h, want := range map[string]string{
				"Accept":        MediaType,
				"Authorization": "Bearer tok-1",
				"X-External-Id": "vccsync-test",
				"Content-Type":  "",
			} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("header %s = %q, want %q", h, got, want)
				}
			}
			if r.Body != "" {
				t.Errorf("body %q, want none", r.Body)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{"POST " + RouteToken, tt.method + " " + tt.route}
			if !reflect.DeepEqual(routes, want) {
				t.Errorf("observed %q, want %q", routes, want)
			}
		})
	}
}

func TestInferredEndpointsErrors(t *testing.T) {
	tests := []struct {
		status       int
		body         string
		wantNotFound bool
		wantTemp     bool
		wantMessage  string
	}{
		{404, `{"message":"User not found"}`, true, false, "User not found"},
		{409, `{"message":"A password reset is already pending for this user"}`, false, false, "A password reset is already pending for this user"},
		{403, `{"message":"Insufficient scope"}`, false, false, "Insufficient scope"},
		{429, `{"message":"Too many requests"}`, false, true, "Too many requests"},
		{503, ``, false, true, "Service Unavailable"},
	}
	for _, call := range inferredCalls {
		for _, tt := range tests {
			t.Run(call.name+"/"+http.StatusText(tt.status), func(t *testing.T) {
				f := newFake(t)
				f.setAPI(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				})
				res, err := call.call(f.client(noRetries))
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v (%T), want an *Error", err, err)
				}
				if res != nil && !reflect.ValueOf(res).IsNil() {
					t.Errorf("result %v with an error", res)
				}
				if e.Status != tt.status || e.Method != call.method || e.Route != call.route {
					t.Errorf("error %s %s %d, want %s %s %d", e.Method, e.Route, e.Status, call.method, call.route, tt.status)
				}
				if got := errors.Is(err, ErrNotFound); got != tt.wantNotFound {
					t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.wantNotFound)
				}
				if e.Temporary() != tt.wantTemp {
					t.Errorf("Temporary() = %v, want %v", e.Temporary(), tt.wantTemp)
				}
				if e.Message != tt.wantMessage {
					t.Errorf("Message = %q, want %q", e.Message, tt.wantMessage)
				}
			})
		}
	}
}

func TestListTelephonyRegions(t *testing.T) {
	tests := []struct {
		name, reply string
		want        []TelephonyRegion
	}{
		{
			name: "documented shape, unknown keys",
			reply: `{"telephonyRegions":[
				{"telephonyRegionId":"b4c6e398-0001","name":"EMEA - Primary (11)","isDefault":false},
				{"telephonyRegionId":"b4c6e398-0002","name":"NAM EAST (Default)"}]}`,
			want: []TelephonyRegion{
				{TelephonyRegionID: "b4c6e398-0001", Name: "EMEA - Primary (11)"},
				{TelephonyRegionID: "b4c6e398-0002", Name: "NAM EAST (Default)"},
			},
		},
		{
			name:  "items",
			reply: `{"items":[{"telephonyRegionId":"r1","name":"Sydney (12)"}]}`,
			want:  []TelephonyRegion{{TelephonyRegionID: "r1", Name: "Sydney (12)"}},
		},
		{
			name:  "bare array, other key case",
			reply: `[{"TelephonyRegionId":"r1","Name":"Singapore (14)"}]`,
			want:  []TelephonyRegion{{TelephonyRegionID: "r1", Name: "Singapore (14)"}},
		},
		{name: "empty", reply: `{"telephonyRegions":[]}`, want: []TelephonyRegion{}},
		{name: "no list", reply: `{}`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tt.reply) })
			got, err := f.client().ListTelephonyRegions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestListUserCredentials(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"credentials":[{"clientId":"client-a","created":"2026-01-01T00:00:00Z"},{"clientId":"client-b"}]}`)
	})
	got, err := f.client().ListUserCredentials(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	want := []UserCredential{{ClientID: "client-a"}, {ClientID: "client-b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if p := f.requests()[0].EscapedPath; p != "/useradmin/users/u1/credentials" {
		t.Errorf("path %q", p)
	}
}

func TestResetPasswordAcceptsAny2xx(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
	}{
		{202, ""},
		{202, `{"message":"Password reset email sent"}`},
		{200, ""},
		{204, ""},
	} {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, tt.body)
		})
		if err := f.client().ResetPassword(context.Background(), "u1"); err != nil {
			t.Errorf("%d %q: %v", tt.status, tt.body, err)
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d: %d requests, want exactly 1", tt.status, len(reqs))
		}
		if r := reqs[0]; r.Method != http.MethodPost || r.Path != "/useradmin/users/u1/passwordReset" || r.Body != "" || r.Header.Get("Content-Type") != "" {
			t.Errorf("%d: request %s %s, content type %q, body %q", tt.status, r.Method, r.Path, r.Header.Get("Content-Type"), r.Body)
		}
	}
}

func TestResetPasswordIsNotRetried(t *testing.T) {
	// A 5xx or a broken reply is reported, never retried by the client: a
	// second call could send a second email.
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": "upstream"})
	})
	err := f.client().ResetPassword(context.Background(), "u1")
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() {
		t.Fatalf("err = %v, want a temporary *Error", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestInferredEndpointsEmptyUserID(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	if err := c.ResetPassword(ctx, " "); err == nil {
		t.Error("ResetPassword with an empty user ID: no error")
	}
	if _, err := c.ListUserCredentials(ctx, ""); err == nil {
		t.Error("ListUserCredentials with an empty user ID: no error")
	}
	if n := len(f.requests()) + f.tokens(); n != 0 {
		t.Errorf("%d requests made", n)
	}
}
