package sandbox

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	good := func(extra ...string) url.Values {
		return form(append([]string{"grant_type", "client_credentials", "client_id", DemoClientID,
			"client_secret", DemoClientSecret, "scope", "users:read users:write"}, extra...)...)
	}
	tests := []struct {
		name        string
		form        url.Values
		basic       [2]string
		status      int
		wantErrBody map[string]any // nil for success
	}{
		{name: "credentials in body", form: good(), status: 200},
		{name: "credentials as basic auth", form: form("grant_type", "client_credentials", "scope", "users:read"),
			basic: [2]string{DemoClientID, DemoClientSecret}, status: 200},
		{name: "one scope", form: good("scope", "users:read"), status: 200},
		{name: "wrong secret", form: good("client_secret", "nope"), status: 401,
			wantErrBody: map[string]any{"error": "invalid_client"}},
		{name: "unknown client", form: good("client_id", "nobody"), status: 401,
			wantErrBody: map[string]any{"error": "invalid_client"}},
		{name: "wrong basic secret", form: form("grant_type", "client_credentials", "scope", "users:read"),
			basic: [2]string{DemoClientID, "nope"}, status: 401, wantErrBody: map[string]any{"error": "invalid_client"}},
		{name: "password grant", form: good("grant_type", "password"), status: 400,
			wantErrBody: map[string]any{"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}},
		{name: "no grant type", form: form("client_id", DemoClientID, "client_secret", DemoClientSecret, "scope", "users:read"), status: 400,
			wantErrBody: map[string]any{"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}},
		{name: "no scope", form: good("scope", ""), status: 400,
			wantErrBody: map[string]any{"error": "invalid_scope", "error_description": "You must specify a scope"}},
		{name: "scope the client lacks", form: form("grant_type", "client_credentials", "client_id", readerID,
			"client_secret", readerSecret, "scope", "users:read users:write"), status: 400,
			wantErrBody: map[string]any{"error": "invalid_scope", "error_description": "Scope not allowed for this client: users:write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenRequest(tt.form, tt.basic[0], tt.basic[1])
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			got := r.json(t)
			if tt.wantErrBody != nil {
				if diff := cmp.Diff(tt.wantErrBody, got); diff != "" {
					t.Fatalf("body (-want +got):\n%s", diff)
				}
				return
			}
			if got["token_type"] != "bearer" || got["expires_in"] != float64(7200) || got["access_token"] == "" {
				t.Fatalf("token reply %v", got)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
			}
		})
	}

	t.Run("GET is refused", func(t *testing.T) {
		if r := e.raw(http.MethodGet, VCCTokenPath, "", "", ""); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", r.status)
		}
	})
	t.Run("tokens are distinct", func(t *testing.T) {
		a, b := e.token(DemoClientID, DemoClientSecret, "users:read"), e.token(DemoClientID, DemoClientSecret, "users:read")
		if a == b || len(a) < 32 {
			t.Fatalf("tokens %q and %q", a, b)
		}
	})
}

func TestTokenInvalidClientStatusIsConfigurable(t *testing.T) {
	e := newEnv(t, VCCOptions{InvalidClientStatus: http.StatusBadRequest})
	r := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoClientID},
		"client_secret": {"nope"}, "scope": {"users:read"}}, "", "")
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_client" {
		t.Fatalf("status %d body %s, want 400 invalid_client", r.status, r.body)
	}
}

func TestTokenExpiryAndRevoke(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	e := newEnv(t, VCCOptions{Now: clock, TokenLifetime: time.Hour})
	tok := e.token(DemoClientID, DemoClientSecret, "users:read")
	get := func(tok string) response { return e.raw(http.MethodGet, "/useradmin/users", tok, VCCAcceptV4, "") }

	if r := get(tok); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	advance(59 * time.Minute)
	if r := get(tok); r.status != 200 {
		t.Fatalf("token before expiry: %d %s", r.status, r.body)
	}
	advance(time.Minute)
	r := get(tok)
	if r.status != 401 || r.message(t) != "Authorization has been denied for this request: the token expired" {
		t.Fatalf("expired token: %d %s", r.status, r.body)
	}

	tok = e.token(DemoClientID, DemoClientSecret, "users:read")
	if r := get(tok); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
	e.vcc.RevokeTokens()
	r = get(tok)
	if r.status != 401 || r.message(t) != "Authorization has been denied for this request: invalid token" {
		t.Fatalf("revoked token: %d %s", r.status, r.body)
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestAPIAccessRules(t *testing.T) {
	e := newEnv(t, VCCOptions{})
	reader := e.token(readerID, readerSecret, "users:read")
	writer := e.token(writerID, writerSecret, "users:write")
	rw := e.token(rwID, rwSecret, "users:read users:write")

	tests := []struct {
		name, method, path, token, accept, body string
		status                                  int
		want                                    map[string]any
	}{
		{name: "no token", method: "GET", path: "/useradmin/users", accept: VCCAcceptV4, status: 401,
			want: map[string]any{"message": "Authorization has been denied for this request: a Bearer token is required"}},
		{name: "unknown token", method: "GET", path: "/useradmin/users", token: "bogus", accept: VCCAcceptV4, status: 401,
			want: map[string]any{"message": "Authorization has been denied for this request: invalid token"}},
		{name: "no Accept", method: "GET", path: "/useradmin/users", token: reader, status: 400,
			want: map[string]any{"statusCode": float64(400), "error": "Bad Request", "message": "Version missing from Accept header!"}},
		{name: "plain JSON Accept", method: "GET", path: "/useradmin/users", token: reader, accept: "application/json", status: 400,
			want: map[string]any{"statusCode": float64(400), "error": "Bad Request", "message": "Version missing from Accept header!"}},
		{name: "version 3", method: "GET", path: "/useradmin/users", token: reader, accept: "application/vnd.newvoicemedia.v3+json", status: 400,
			want: map[string]any{"statusCode": float64(400), "error": "Bad Request", "message": "Invalid api-version! Valid values: 4"}},
		{name: "v4 among others", method: "GET", path: "/useradmin/users", token: reader,
			accept: "application/json, application/vnd.newvoicemedia.v4+json; q=0.9", status: 200},
		{name: "read scope reads", method: "GET", path: "/useradmin/users/" + activeUserID, token: reader, accept: VCCAcceptV4, status: 200},
		{name: "read scope cannot write", method: "PATCH", path: "/useradmin/users/" + activeUserID, token: reader, accept: VCCAcceptV4,
			body: `{"name":"X"}`, status: 403, want: map[string]any{"message": "Forbidden: the token lacks the users:write scope"}},
		{name: "write scope cannot read", method: "GET", path: "/useradmin/users", token: writer, accept: VCCAcceptV4, status: 403,
			want: map[string]any{"message": "Forbidden: the token lacks the users:read scope"}},
		{name: "write scope writes", method: "PATCH", path: "/useradmin/users/" + activeUserID, token: writer, accept: VCCAcceptV4,
			body: `{"name":"Alice A. Archer"}`, status: 200},
		{name: "non-admin cannot delete", method: "DELETE", path: "/useradmin/users/" + archivedUserID, token: rw, accept: VCCAcceptV4, status: 403,
			want: map[string]any{"message": "Forbidden: only an admin may delete users"}},
		{name: "unknown API route", method: "GET", path: "/useradmin/teams", token: rw, accept: VCCAcceptV4, status: 404,
			want: map[string]any{"message": "No route matches GET /useradmin/teams"}},
		{name: "wrong method", method: "POST", path: "/useradmin/users/" + activeUserID, token: rw, accept: VCCAcceptV4, body: `{}`, status: 405,
			want: map[string]any{"message": "The requested resource does not support http method 'POST'."}},
		{name: "outside the API", method: "GET", path: "/other", status: 404,
			want: map[string]any{"message": "No route matches GET /other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(tt.method, tt.path, tt.token, tt.accept, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, r.json(t)); diff != "" {
					t.Fatalf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestForbiddenStatusIsConfigurable(t *testing.T) {
	e := newEnv(t, VCCOptions{ForbiddenStatus: http.StatusUnauthorized})
	reader := e.token(readerID, readerSecret, "users:read")
	if r := e.raw("PATCH", "/useradmin/users/"+activeUserID, reader, VCCAcceptV4, `{}`); r.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", r.status)
	}
}
