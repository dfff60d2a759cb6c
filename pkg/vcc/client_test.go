package vcc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestNewValidates(t *testing.T) {
	valid := Config{
		BaseURL:      "https://emea.api.cc.vonage.com/useradmin",
		TokenURL:     "https://emea.cc.vonage.com/Auth/connect/token",
		ClientID:     "id",
		ClientSecret: "secret",
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; none means valid
	}{
		{"valid", func(*Config) {}, nil},
		{"no base URL", func(c *Config) { c.BaseURL = "" }, []string{"BaseURL is required"}},
		{"base URL scheme", func(c *Config) { c.BaseURL = "ftp://x/useradmin" }, []string{"BaseURL", "scheme must be https or http"}},
		{"base URL no host", func(c *Config) { c.BaseURL = "https:///useradmin" }, []string{"BaseURL", "no host"}},
		{"base URL query", func(c *Config) { c.BaseURL = "https://x/useradmin?a=b" }, []string{"BaseURL", "query"}},
		{"base URL credentials", func(c *Config) { c.BaseURL = "https://u:p@x/useradmin" }, []string{"BaseURL: must not carry credentials"}},
		{"no token URL", func(c *Config) { c.TokenURL = " " }, []string{"TokenURL is required"}},
		{"no client ID", func(c *Config) { c.ClientID = "" }, []string{"ClientID is required"}},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, []string{"ClientSecret is required"}},
		{"empty scope", func(c *Config) { c.Scopes = []string{"users:read", ""} }, []string{"Scopes[1]"}},
		{"scope with space", func(c *Config) { c.Scopes = []string{"users:read users:write"} }, []string{"Scopes[0]"}},
		{"negative burst", func(c *Config) { c.RateBurst = -1 }, []string{"RateBurst -1"}},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"Timeout -1s"}},
		{"external ID newline", func(c *Config) { c.ExternalID = "a\r\nb" }, []string{"ExternalID"}},
		{"several at once", func(c *Config) { c.ClientID, c.ClientSecret = "", "" }, []string{"ClientID is required", "ClientSecret is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mod(&cfg)
			_, err := New(cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New: no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") && cfg.ClientSecret != "" {
				t.Errorf("error %q mentions the secret", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	base, tok, err := RegionURLs("emea")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: base + "/", TokenURL: tok, ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://emea.api.cc.vonage.com/useradmin" {
		t.Errorf("base = %q", c.base)
	}
	if c.timeout != DefaultTimeout {
		t.Errorf("timeout = %s", c.timeout)
	}
	if l, ok := c.limiter.(fixedLimiter); !ok || l.Limit() != rate.Limit(160.0/60) || l.Burst() != DefaultRateBurst {
		t.Errorf("limiter = %+v", c.limiter)
	}
	if c.tokens.scope != "users:read users:write" {
		t.Errorf("scope = %q", c.tokens.scope)
	}
	c, err = New(Config{BaseURL: base, TokenURL: tok, ClientID: "id", ClientSecret: "secret", RatePerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	if c.limiter != nil {
		t.Error("RatePerMinute -1: limiter still set")
	}
}

func TestRegionURLs(t *testing.T) {
	tests := []struct {
		region, base, token string
		legacy              bool
		wantErr             bool
	}{
		{region: "emea", base: "https://emea.api.cc.vonage.com/useradmin", token: "https://emea.cc.vonage.com/Auth/connect/token"},
		{region: " NAM ", base: "https://nam.api.cc.vonage.com/useradmin", token: "https://nam.cc.vonage.com/Auth/connect/token"},
		{region: "apac", base: "https://apac.api.cc.vonage.com/useradmin", token: "https://apac.cc.vonage.com/Auth/connect/token"},
		{region: "apac", legacy: true, base: "https://apac.api.newvoicemedia.com/useradmin", token: "https://apac.newvoicemedia.com/Auth/connect/token"},
		{region: "mars", wantErr: true},
		{region: "", wantErr: true},
	}
	for _, tt := range tests {
		f := RegionURLs
		if tt.legacy {
			f = LegacyRegionURLs
		}
		base, tok, err := f(tt.region)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.region, err)
			continue
		}
		if base != tt.base || tok != tt.token {
			t.Errorf("%q: got %q %q, want %q %q", tt.region, base, tok, tt.base, tt.token)
		}
	}
}

func TestTokenRequestAndCaching(t *testing.T) {
	f := newFake(t)
	c := f.client(func(cfg *Config) { cfg.ExternalID = "vccsync-test" })
	ctx := context.Background()
	for range 5 {
		if _, err := c.GetUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.tokens(); got != 1 {
		t.Fatalf("token requests = %d, want 1", got)
	}
	f.mu.Lock()
	form := f.tokenForms[0]
	f.mu.Unlock()
	want := map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     testClientID,
		"client_secret": testSecret,
		"scope":         "users:read users:write",
	}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	for i, r := range f.requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("request %d: Authorization = %q", i, got)
		}
		if got := r.Header.Get("Accept"); got != MediaType {
			t.Errorf("request %d: Accept = %q", i, got)
		}
		if got := r.Header.Get("x-external-id"); got != "vccsync-test" {
			t.Errorf("request %d: x-external-id = %q", i, got)
		}
	}
}

func TestTokenRefreshBeforeExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn any
		tokenType string
		notYet    time.Duration // no new token at this age
		due       time.Duration // a new token at this age
	}{
		{"two hours, 60s early", 7200, "bearer", 7139 * time.Second, 7141 * time.Second},
		{"short, 10% early", 100, "Bearer", 89 * time.Second, 91 * time.Second},
		{"string expires_in", "30", "BEARER", 26 * time.Second, 28 * time.Second},
		{"no expires_in: two hours", nil, "bearer", 7139 * time.Second, 7141 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set(func(f *fakeVCC) { f.expiresIn, f.tokenType = tt.expiresIn, tt.tokenType })
			c := f.client()
			clock := &fakeClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
			c.tokens.now = clock.now
			ctx := context.Background()
			call := func(wantTokens int) {
				t.Helper()
				if _, err := c.GetUser(ctx, "u1"); err != nil {
					t.Fatal(err)
				}
				if got := f.tokens(); got != wantTokens {
					t.Fatalf("token requests = %d, want %d", got, wantTokens)
				}
			}
			call(1)
			clock.advance(tt.notYet)
			call(1)
			clock.advance(tt.due - tt.notYet)
			call(2)
			call(2)
			last := f.requests()[3]
			if got := last.Header.Get("Authorization"); got != "Bearer tok-2" {
				t.Errorf("after refresh: Authorization = %q", got)
			}
		})
	}
}

func TestTokenRefreshFailureKeepsUnexpiredToken(t *testing.T) {
	f := newFake(t)
	c := f.client(noRetries)
	clock := &fakeClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	c.tokens.now = clock.now
	ctx := context.Background()
	if _, err := c.GetUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "down"})
	}
	f.mu.Unlock()
	clock.advance(7170 * time.Second) // in the refresh window, not expired
	if _, err := c.GetUser(ctx, "u1"); err != nil {
		t.Fatalf("in the refresh window with the token endpoint down: %v", err)
	}
	clock.advance(60 * time.Second) // expired
	_, err := c.GetUser(ctx, "u1")
	var e *Error
	if !errors.As(err, &e) || e.Route != RouteToken || e.Status != 503 || !e.Temporary() {
		t.Fatalf("after expiry: err = %v, want a temporary 503 from the token endpoint", err)
	}
}

func TestRetryOnceOn401(t *testing.T) {
	t.Run("revoked token is replaced", func(t *testing.T) {
		f := newFake(t)
		c := f.client()
		ctx := context.Background()
		if _, err := c.GetUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		f.revoke()
		u, err := c.GetUser(ctx, "u1")
		if err != nil {
			t.Fatalf("after revoke: %v", err)
		}
		if u.UserID != "u1" {
			t.Errorf("user = %+v", u)
		}
		reqs := f.requests()
		if len(reqs) != 3 || f.tokens() != 2 {
			t.Fatalf("API requests = %d, token requests = %d; want 3 and 2", len(reqs), f.tokens())
		}
		if a, b := reqs[1].Header.Get("Authorization"), reqs[2].Header.Get("Authorization"); a != "Bearer tok-1" || b != "Bearer tok-2" {
			t.Errorf("Authorization = %q then %q", a, b)
		}
	})
	t.Run("second 401 is returned", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "token rejected"})
		})
		c := f.client()
		_, err := c.PatchUser(context.Background(), "u1", &User{Name: "Jane"})
		var e *Error
		if !errors.As(err, &e) || e.Status != 401 || e.Temporary() || e.Message != "token rejected" {
			t.Fatalf("err = %v, want a permanent 401", err)
		}
		reqs := f.requests()
		if len(reqs) != 2 || f.tokens() != 2 {
			t.Fatalf("API requests = %d, token requests = %d; want 2 and 2", len(reqs), f.tokens())
		}
		if reqs[0].Body != `{"name":"Jane"}` || reqs[1].Body != reqs[0].Body {
			t.Errorf("bodies = %q, %q", reqs[0].Body, reqs[1].Body)
		}
	})
}

func TestConcurrentCallsShareRefresh(t *testing.T) {
	f := newFake(t)
	f.set(func(f *fakeVCC) { f.tokenDelay = 50 * time.Millisecond })
	c := f.client()
	ctx := context.Background()
	run := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				if _, err := c.GetUser(ctx, "u1"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	run()
	if got := f.tokens(); got != 1 {
		t.Fatalf("first token: %d token requests, want 1", got)
	}
	f.revoke()
	run()
	if got := f.tokens(); got != 2 {
		t.Fatalf("after 401s: %d token requests, want 2", got)
	}
}

func TestTokenWaitHonoursContext(t *testing.T) {
	f := newFake(t)
	f.set(func(f *fakeVCC) { f.tokenDelay = 300 * time.Millisecond })
	c := f.client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.GetUser(ctx, "u1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	// The shared fetch went on; the next caller gets its token.
	if _, err := c.GetUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if got := f.tokens(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		ctype     string
		wantMsg   string
		temporary bool
		wantPlain string // a non-*Error error containing this
	}{
		{name: "invalid_client 400", status: 400, body: `{"error":"invalid_client"}`, wantMsg: "invalid_client"},
		{name: "invalid_client 401", status: 401, body: `{"error":"invalid_client"}`, wantMsg: "invalid_client"},
		{name: "invalid_scope", status: 400, body: `{"error":"invalid_scope","error_description":"You must specify a scope"}`, wantMsg: "invalid_scope: You must specify a scope"},
		{name: "503 html", status: 503, body: `<html>down</html>`, ctype: "text/html", wantMsg: "Service Unavailable", temporary: true},
		{name: "echoed secret is redacted", status: 400, body: "bad request: client_secret=" + testSecret, ctype: "text/plain", wantMsg: "bad request: client_secret=[redacted]"},
		{name: "not bearer", status: 200, body: `{"access_token":"x","token_type":"mac","expires_in":7200}`, wantPlain: `token_type "mac"`},
		{name: "no access token", status: 200, body: `{"token_type":"bearer","expires_in":7200}`, wantPlain: "no access_token"},
		{name: "bad expires_in", status: 200, body: `{"access_token":"x","token_type":"bearer","expires_in":-5}`, wantPlain: "expires_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.set(func(f *fakeVCC) {
				f.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
					ct := tt.ctype
					if ct == "" {
						ct = "application/json"
					}
					w.Header().Set("Content-Type", ct)
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
				}
			})
			c := f.client(noRetries)
			_, err := c.GetUser(context.Background(), "u1")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q contains the secret", err)
			}
			if len(f.requests()) != 0 {
				t.Errorf("an API request was made without a token")
			}
			if tt.wantPlain != "" {
				var e *Error
				if errors.As(err, &e) || !strings.Contains(err.Error(), tt.wantPlain) {
					t.Fatalf("err = %v, want a plain error with %q", err, tt.wantPlain)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if e.Method != "POST" || e.Route != RouteToken || e.Status != tt.status || e.Message != tt.wantMsg || e.Temporary() != tt.temporary {
				t.Errorf("err = %+v (temporary %v), want status %d message %q temporary %v", e, e.Temporary(), tt.status, tt.wantMsg, tt.temporary)
			}
		})
	}
}

func TestAcceptHeaderOnEveryCall(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/useradmin/users" && r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]any{"meta": map[string]any{"page": 1, "pageCount": 1}, "users": []any{map[string]any{"userId": "u1"}}})
		case strings.HasSuffix(r.URL.Path, "/skills"), strings.HasSuffix(r.URL.Path, "/groups"), strings.HasSuffix(r.URL.Path, "allbackNumbers"):
			writeJSON(w, 200, []any{})
		case strings.HasSuffix(r.URL.Path, "/unlock"), strings.HasSuffix(r.URL.Path, "/forgotPassword"):
			w.WriteHeader(http.StatusOK)
		default:
			writeJSON(w, 200, map[string]any{"userId": "u1"})
		}
	})
	c := f.client()
	ctx := context.Background()
	calls := []struct {
		name     string
		hasBody  bool
		call     func() error
		wantPath string
	}{
		{"GetUser", false, func() error { _, err := c.GetUser(ctx, "u1"); return err }, "/useradmin/users/u1"},
		{"GetUserByUsername", false, func() error { _, err := c.GetUserByUsername(ctx, "j@x"); return err }, "/useradmin/users/by/username/j@x"},
		{"ListUsers", false, func() error { _, err := c.ListUsers(ctx, IncludeAll, 1, 10); return err }, "/useradmin/users"},
		{"ForEachUser", false, func() error { return c.ForEachUser(ctx, "", 10, func(*User) error { return nil }) }, "/useradmin/users"},
		{"CreateUser", true, func() error { _, err := c.CreateUser(ctx, &User{Username: "j@x"}); return err }, "/useradmin/users"},
		{"PatchUser", true, func() error { _, err := c.PatchUser(ctx, "u1", &User{Name: "J"}); return err }, "/useradmin/users/u1"},
		{"ArchiveUser", true, func() error { _, err := c.ArchiveUser(ctx, "u1"); return err }, "/useradmin/users/u1"},
		{"RevertUser", true, func() error { _, err := c.RevertUser(ctx, "u1"); return err }, "/useradmin/users/u1"},
		{"UnlockUser", false, func() error { return c.UnlockUser(ctx, "u1") }, "/useradmin/users/u1/unlock"},
		{"ResetPassword", false, func() error { return c.ResetPassword(ctx, "u1") }, "/useradmin/users/u1/forgotPassword"},
		{"DeleteUser", false, func() error { return c.DeleteUser(ctx, "u1") }, "/useradmin/users/u1"},
		{"GetSkills", false, func() error { _, err := c.GetSkills(ctx, "u1"); return err }, "/useradmin/users/u1/skills"},
		{"PutSkills", true, func() error { return c.PutSkills(ctx, "u1", nil) }, "/useradmin/users/u1/skills"},
		{"GetGroups", false, func() error { _, err := c.GetGroups(ctx, "u1"); return err }, "/useradmin/users/u1/groups"},
		{"PutGroups", true, func() error { return c.PutGroups(ctx, "u1", nil) }, "/useradmin/users/u1/groups"},
		{"GetCallbackNumbers", false, func() error { _, err := c.GetCallbackNumbers(ctx, "u1"); return err }, "/useradmin/users/u1/callbackNumbers"},
		{"PutCallbackNumbers", true, func() error { return c.PutCallbackNumbers(ctx, "u1", nil) }, "/useradmin/users/u1/callbackNumbers"},
		{"GetGroupPermissions", false, func() error { _, err := c.GetGroupPermissions(ctx, "u1"); return err }, "/useradmin/users/u1/permissions/groups"},
		{"PutGroupPermissions", true, func() error { return c.PutGroupPermissions(ctx, "u1", nil) }, "/useradmin/users/u1/permissions/groups"},
		{"ListCallbackNumbers", false, func() error { _, err := c.ListCallbackNumbers(ctx); return err }, "/useradmin/callbackNumbers"},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.requests())
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Path != tt.wantPath {
				t.Errorf("path = %q, want %q", r.Path, tt.wantPath)
			}
			if got := r.Header.Get("Accept"); got != MediaType {
				t.Errorf("Accept = %q", got)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("Authorization = %q", got)
			}
			ct := r.Header.Get("Content-Type")
			if tt.hasBody && ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if !tt.hasBody && (ct != "" || r.Body != "") {
				t.Errorf("Content-Type %q, body %q on a request without body", ct, r.Body)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	retryDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		body       string
		ctype      string
		retryAfter string
		wantMsg    string
		temporary  bool
		notFound   bool
		wantRetry  time.Duration // lower bound
		maxRetry   time.Duration // upper bound
	}{
		{name: "400 message", status: 400, body: `{"message":"email is invalid"}`, wantMsg: "email is invalid"},
		{name: "400 version", status: 400, body: `{"statusCode":400,"error":"Bad Request","message":"Invalid api-version! Valid values: 4"}`, wantMsg: "Invalid api-version! Valid values: 4"},
		{name: "403", status: 403, body: `{"message":"Insufficient scope"}`, wantMsg: "Insufficient scope"},
		{name: "404", status: 404, body: `{"message":"User not found"}`, wantMsg: "User not found", notFound: true},
		{name: "404 no body", status: 404, wantMsg: "Not Found", notFound: true},
		{name: "409 permanent", status: 409, body: `{"message":"Username already exists"}`, wantMsg: "Username already exists"},
		{name: "429 Retry-After seconds", status: 429, body: `{"message":"Too many requests"}`, retryAfter: "7", wantMsg: "Too many requests", temporary: true, wantRetry: 7 * time.Second, maxRetry: 7 * time.Second},
		{name: "429 Retry-After date", status: 429, retryAfter: retryDate, wantMsg: "Too Many Requests", temporary: true, wantRetry: 80 * time.Second, maxRetry: 91 * time.Second},
		{name: "429 no Retry-After", status: 429, wantMsg: "Too Many Requests", temporary: true},
		{name: "429 bad Retry-After", status: 429, retryAfter: "soon", wantMsg: "Too Many Requests", temporary: true},
		{name: "500 text", status: 500, body: "upstream   failed\n", ctype: "text/plain", wantMsg: "upstream failed", temporary: true},
		{name: "502 html", status: 502, body: "<html><body>Bad gateway</body></html>", ctype: "text/html", wantMsg: "Bad Gateway", temporary: true},
		{name: "503 temporary", status: 503, retryAfter: "3", wantMsg: "Service Unavailable", temporary: true, wantRetry: 3 * time.Second, maxRetry: 3 * time.Second},
		{name: "oauth-style body", status: 400, body: `{"error":"bad_thing","error_description":"it is bad"}`, wantMsg: "bad_thing: it is bad"},
		{name: "other json", status: 422, body: `{"errors":["x"]}`, wantMsg: `{"errors":["x"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c := f.client(noRetries)
			_, err := c.GetUser(context.Background(), "u1")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if e.Method != "GET" || e.Route != RouteUser || e.Status != tt.status {
				t.Errorf("err = %+v", e)
			}
			if e.Message != tt.wantMsg {
				t.Errorf("Message = %q, want %q", e.Message, tt.wantMsg)
			}
			if e.Temporary() != tt.temporary {
				t.Errorf("Temporary = %v, want %v", e.Temporary(), tt.temporary)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v", !tt.notFound)
			}
			if d := e.RetryAfter(); d < tt.wantRetry || d > tt.maxRetry {
				t.Errorf("RetryAfter = %s, want %s to %s", d, tt.wantRetry, tt.maxRetry)
			}
			if len(f.requests()) != 1 {
				t.Errorf("%d requests: with MaxTries 1 the client must not retry", len(f.requests()))
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		f := newFake(t) // first: a server started after the close could be given the closed port
		addr := closedAddr(t)
		var observed []int
		c := f.client(noRetries, func(cfg *Config) {
			cfg.BaseURL = "http://" + addr + "/useradmin"
			cfg.Observer = ObserverFunc(func(method, route string, status int, d time.Duration) {
				if route == RouteUserByUsername {
					observed = append(observed, status)
				}
			})
		})
		_, err := c.GetUserByUsername(context.Background(), "jane.smith@acme.example")
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %T %v, want *TransportError", err, err)
		}
		if !te.Temporary() || te.Method != "GET" || te.Route != RouteUserByUsername {
			t.Errorf("err = %+v", te)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want ECONNREFUSED underneath", err)
		}
		if strings.Contains(err.Error(), "jane.smith") {
			t.Errorf("error %q carries the username", err)
		}
		if len(observed) != 1 || observed[0] != 0 {
			t.Errorf("observed statuses = %v, want [0]", observed)
		}
	})
	t.Run("token endpoint refused", func(t *testing.T) {
		f := newFake(t)
		addr := closedAddr(t)
		c := f.client(noRetries, func(cfg *Config) { cfg.TokenURL = "http://" + addr + "/Auth/connect/token" })
		_, err := c.GetUser(context.Background(), "u1")
		var te *TransportError
		if !errors.As(err, &te) || te.Route != RouteToken || !te.Temporary() {
			t.Fatalf("err = %T %v, want a *TransportError of the token endpoint", err, err)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("error %q contains the secret", err)
		}
	})
	t.Run("per-request timeout", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		})
		c := f.client(noRetries, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
		_, err := c.GetUser(context.Background(), "u1")
		var te *TransportError
		if !errors.As(err, &te) || !te.Temporary() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %T %v, want a *TransportError wrapping DeadlineExceeded", err, err)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		f := newFake(t)
		ctx, cancel := context.WithCancel(context.Background())
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			cancel()
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		})
		c := f.client()
		_, err := c.GetUser(ctx, "u1")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		var te *TransportError
		if errors.As(err, &te) {
			t.Errorf("err = %v: a cancellation is not a transport error", err)
		}
	})
}

func TestRateLimiter(t *testing.T) {
	f := newFake(t)
	c := f.client(func(cfg *Config) { cfg.RatePerMinute, cfg.RateBurst = 600, 1 })
	ctx := context.Background()
	const n = 5 // 600/min = one every 100ms: the 4 after the first wait about 400ms
	start := time.Now()
	for range n {
		if _, err := c.GetUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("%d calls took %s, want at least ~400ms", n, elapsed)
	}

	// A wait that would outlast the deadline fails at once as a deadline.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err := c.GetUser(ctx, "u1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

func TestObserver(t *testing.T) {
	type obs struct {
		method, route string
		status        int
	}
	var (
		mu  sync.Mutex
		got []obs
	)
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			writeJSON(w, 404, map[string]any{"message": "User not found"})
			return
		}
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, 200, map[string]any{"userId": "u1"})
	})
	c := f.client(func(cfg *Config) {
		cfg.Observer = ObserverFunc(func(method, route string, status int, d time.Duration) {
			if d < 0 {
				t.Errorf("negative duration %s", d)
			}
			mu.Lock()
			got = append(got, obs{method, route, status})
			mu.Unlock()
		})
	})
	ctx := context.Background()
	_, _ = c.GetUser(ctx, "u1")
	_, _ = c.GetUser(ctx, "missing")
	_ = c.DeleteUser(ctx, "u1")
	f.revoke()
	_, _ = c.ArchiveUser(ctx, "u1")
	want := []obs{
		{"POST", RouteToken, 200},
		{"GET", RouteUser, 200},
		{"GET", RouteUser, 404},
		{"DELETE", RouteUser, 204},
		{"PATCH", RouteUser, 401},
		{"POST", RouteToken, 200},
		{"PATCH", RouteUser, 200},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("observation %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// closedAddr returns a loopback address nothing listens on: a port that
// was just bound and released.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
