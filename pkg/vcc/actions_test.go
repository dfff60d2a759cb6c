package vcc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// actionCalls are the POSTs to a user's action endpoints (no body, no
// reply), with the request each must make.
var actionCalls = []struct {
	name   string
	call   func(*Client) error
	method string
	path   string // escaped, under the fake's root
	route  string
}{
	{
		name:   "UnlockUser",
		call:   func(c *Client) error { return c.UnlockUser(context.Background(), "8e22b1fe 0001") },
		method: "POST", path: "/useradmin/users/8e22b1fe%200001/unlock", route: RouteUserUnlock,
	},
	{
		name:   "ResetPassword",
		call:   func(c *Client) error { return c.ResetPassword(context.Background(), "u/1") },
		method: "POST", path: "/useradmin/users/u%2F1/forgotPassword", route: RouteUserForgotPassword,
	},
}

func TestActionRequests(t *testing.T) {
	for _, tt := range actionCalls {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
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
			if err := tt.call(c); err != nil {
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
			if diff := cmp.Diff(want, routes); diff != "" {
				t.Errorf("observed routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestActionErrors(t *testing.T) {
	tests := []struct {
		status       int
		body         string
		wantNotFound bool
		wantTemp     bool
		wantMessage  string
	}{
		{404, `{"message":"User not found"}`, true, false, "User not found"},
		{409, `{"message":"User is archived"}`, false, false, "User is archived"},
		{403, `{"message":"Insufficient scope"}`, false, false, "Insufficient scope"},
		{429, `{"message":"Too many requests"}`, false, true, "Too many requests"},
		{503, ``, false, true, "Service Unavailable"},
	}
	for _, call := range actionCalls {
		for _, tt := range tests {
			t.Run(call.name+"/"+http.StatusText(tt.status), func(t *testing.T) {
				f := newFake(t)
				f.setAPI(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				})
				err := call.call(f.client(noRetries))
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v (%T), want an *Error", err, err)
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

// TestActionsAcceptAny2xx: VCC documents 200 with no body; any 2xx, with
// or without a body, is success.
func TestActionsAcceptAny2xx(t *testing.T) {
	for _, call := range actionCalls {
		for _, tt := range []struct {
			status int
			body   string
		}{
			{200, ""},
			{200, `{"message":"ok"}`},
			{202, ""},
			{204, ""},
		} {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			if err := call.call(f.client()); err != nil {
				t.Errorf("%s %d %q: %v", call.name, tt.status, tt.body, err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%s %d: %d requests, want exactly 1", call.name, tt.status, n)
			}
		}
	}
}

// TestActionRetries: an unlock is idempotent and retried after a 5xx like
// a PUT; a password reset sends an email and is never retried after a 5xx
// (a second call could send a second email), only after a 429.
func TestActionRetries(t *testing.T) {
	tests := []struct {
		name      string
		call      func(*Client) error
		status    int
		wantTries int
		wantErr   bool
	}{
		{"unlock after 503", func(c *Client) error { return c.UnlockUser(context.Background(), "u1") }, 503, 3, false},
		{"unlock after 429", func(c *Client) error { return c.UnlockUser(context.Background(), "u1") }, 429, 3, false},
		{"reset after 502", func(c *Client) error { return c.ResetPassword(context.Background(), "u1") }, 502, 1, true},
		{"reset after 429", func(c *Client) error { return c.ResetPassword(context.Background(), "u1") }, 429, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			var n atomic.Int64
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 2 {
					writeJSON(w, tt.status, map[string]any{"message": "not now"})
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			err := tt.call(f.client(quickRetries))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !e.Temporary() {
					t.Errorf("err = %v, want a temporary *Error", err)
				}
			}
			if got := len(f.requests()); got != tt.wantTries {
				t.Errorf("%d requests, want %d", got, tt.wantTries)
			}
		})
	}
}

func TestActionsEmptyUserID(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	if err := c.ResetPassword(ctx, " "); err == nil {
		t.Error("ResetPassword with an empty user ID: no error")
	}
	if err := c.UnlockUser(ctx, ""); err == nil {
		t.Error("UnlockUser with an empty user ID: no error")
	}
	if _, err := c.GetGroupPermissions(ctx, ""); err == nil {
		t.Error("GetGroupPermissions with an empty user ID: no error")
	}
	if err := c.PutGroupPermissions(ctx, "", nil); err == nil {
		t.Error("PutGroupPermissions with an empty user ID: no error")
	}
	if n := len(f.requests()) + f.tokens(); n != 0 {
		t.Errorf("%d requests made", n)
	}
}
