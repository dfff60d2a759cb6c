package salesforce

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		code      string
		msg       string
		fields    []string
		temporary bool
		retry     time.Duration
		notFound  bool
	}{
		{name: "request limit", status: 403,
			body: `[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]`,
			code: "REQUEST_LIMIT_EXCEEDED", msg: "TotalRequests Limit exceeded.", temporary: true},
		{name: "field integrity", status: 400,
			body: `[{"message":"Alias: invalid characters","errorCode":"FIELD_INTEGRITY_EXCEPTION","fields":["Alias"]}]`,
			code: "FIELD_INTEGRITY_EXCEPTION", msg: "Alias: invalid characters", fields: []string{"Alias"}},
		{name: "not found", status: 404,
			body: `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`,
			code: "NOT_FOUND", msg: "The requested resource does not exist", notFound: true},
		{name: "too many requests with Retry-After", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}]`,
			code: "REQUEST_LIMIT_EXCEEDED", msg: "slow down", temporary: true, retry: 7 * time.Second},
		{name: "server error HTML", status: 503, header: map[string]string{"Content-Type": "text/html", "Retry-After": "120"},
			body: `<html><body>Maintenance</body></html>`, msg: "Service Unavailable", temporary: true, retry: 2 * time.Minute},
		{name: "server error array", status: 500,
			body: `[{"errorCode":"UNKNOWN_EXCEPTION","message":"An unexpected error occurred."}]`,
			code: "UNKNOWN_EXCEPTION", msg: "An unexpected error occurred.", temporary: true},
		{name: "lock contention", status: 400,
			body: `[{"errorCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record"}]`,
			code: "UNABLE_TO_LOCK_ROW", msg: "unable to obtain exclusive access to this record", temporary: true},
		{name: "several errors", status: 400,
			body: `[{"errorCode":"INVALID_FIELD","message":"bad Alias","fields":["Alias"]},{"errorCode":"REQUIRED_FIELD_MISSING","message":"LastName missing","fields":["LastName","Alias"]}]`,
			code: "INVALID_FIELD", msg: "bad Alias; REQUIRED_FIELD_MISSING: LastName missing", fields: []string{"Alias", "LastName"}},
		{name: "single object", status: 400, body: `{"errorCode":"MALFORMED_ID","message":"bad id"}`, code: "MALFORMED_ID", msg: "bad id"},
		{name: "plain text", status: 502, header: map[string]string{"Content-Type": "text/plain"}, body: "upstream   gone\n", msg: "upstream gone", temporary: true},
		{name: "past Retry-After date", status: 429, header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, body: `[]`, msg: "Too Many Requests", temporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSFFake(t)
			f.set(func(f *sfFake) {
				f.hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path == RouteToken {
						return false
					}
					w.Header().Set("Content-Type", "application/json")
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
					return true
				}
			})
			c := f.client()
			_, err := c.GetUser(context.Background(), sfUserID(1))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %v (%T), want *Error", err, err)
			}
			if e.Status != tt.status || e.StatusCode() != tt.status {
				t.Errorf("status %d / %d, want %d", e.Status, e.StatusCode(), tt.status)
			}
			if e.Code != tt.code || e.Message != tt.msg || !slices.Equal(e.Fields, tt.fields) {
				t.Errorf("code %q message %q fields %q; want %q %q %q", e.Code, e.Message, e.Fields, tt.code, tt.msg, tt.fields)
			}
			if e.Temporary() != tt.temporary {
				t.Errorf("Temporary %v, want %v", e.Temporary(), tt.temporary)
			}
			if e.RetryAfter() != tt.retry {
				t.Errorf("RetryAfter %s, want %s", e.RetryAfter(), tt.retry)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(ErrNotFound) = %v", !tt.notFound)
			}
			if e.Method != http.MethodGet || e.Route != RouteUser {
				t.Errorf("method %q route %q", e.Method, e.Route)
			}
			if strings.Contains(err.Error(), sfUserID(1)) {
				t.Errorf("error names the user ID: %v", err)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Method: "PATCH", Route: RouteUser, Status: 400, Code: "FIELD_INTEGRITY_EXCEPTION", Message: "Alias: invalid characters", Fields: []string{"Alias"}}
	want := "salesforce: PATCH /services/data/{version}/sobjects/User/{userId}: 400 Bad Request: FIELD_INTEGRITY_EXCEPTION: Alias: invalid characters (fields Alias)"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
}

func TestTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	t.Run("token endpoint unreachable", func(t *testing.T) {
		c, err := NewClient(Config{BaseURL: closed, ClientID: "id", ClientSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetUser(context.Background(), sfUserID(1))
		var te *TransportError
		if !errors.As(err, &te) || !te.Temporary() || te.RetryAfter() != 0 || te.Route != RouteToken {
			t.Fatalf("err %v (%T), want a temporary *TransportError on %s", err, err, RouteToken)
		}
	})
	t.Run("data API unreachable", func(t *testing.T) {
		f := newSFFake(t)
		c := f.client(func(c *Config) { c.BaseURL = closed; c.TokenURL = f.srv.URL + RouteToken })
		_, err := c.QueryUsers(context.Background(), []string{sfUserID(1)})
		var te *TransportError
		if !errors.As(err, &te) || !te.Temporary() || te.Route != RouteQuery || te.Method != http.MethodGet {
			t.Fatalf("err %v (%T), want a temporary *TransportError on GET %s", err, err, RouteQuery)
		}
		if strings.Contains(err.Error(), "SELECT") {
			t.Errorf("error carries the URL: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := newSFFake(t)
		f.addUsers(1)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		f.set(func(f *sfFake) {
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == RouteToken {
					return false
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return true
			}
		})
		c := f.client(func(c *Config) { c.Timeout = 100 * time.Millisecond })
		_, err := c.GetUser(context.Background(), sfUserID(1))
		var te *TransportError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "no complete reply within 100ms") {
			t.Fatalf("err %v, want a timeout *TransportError", err)
		}
	})
	t.Run("caller's cancellation passes through", func(t *testing.T) {
		f := newSFFake(t)
		c := f.client()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.GetUser(ctx, sfUserID(1))
		var te *TransportError
		if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
			t.Fatalf("err %v, want context.Canceled and no *TransportError", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-3", 0}, {"soon", 0}, {"30", 30 * time.Second},
		{"999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := restParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("restParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
