package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Extra API clients of the test account.
const (
	readerID, readerSecret = "reader", "reader-secret" // users:read only
	writerID, writerSecret = "writer", "writer-secret" // users:write only
	rwID, rwSecret         = "rw", "rw-secret"         // both scopes, not an admin

	templateAgentID = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000001"
	activeUserID    = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000003"
	archivedUserID  = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000004"
	adminUserID     = "0b7d4f4e-1c2a-4d8e-9a61-7e0c1a000005"
)

type env struct {
	t     *testing.T
	vcc   *VCC
	url   string
	admin string // token of the demo (admin) client with both scopes
}

// newEnv serves a demo-seeded sandbox over HTTP.
func newEnv(t *testing.T, opts VCCOptions) *env {
	t.Helper()
	v := NewVCC(opts)
	if err := v.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []VCCClient{
		{ID: readerID, Secret: readerSecret, Scopes: []string{VCCScopeRead}},
		{ID: writerID, Secret: writerSecret, Scopes: []string{VCCScopeWrite}},
		{ID: rwID, Secret: rwSecret, Scopes: []string{VCCScopeRead, VCCScopeWrite}},
	} {
		if err := v.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(v)
	t.Cleanup(srv.Close)
	e := &env{t: t, vcc: v, url: srv.URL}
	e.admin = e.token(DemoClientID, DemoClientSecret, "users:read users:write")
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

func (r response) message(t *testing.T) string {
	t.Helper()
	msg, _ := r.json(t)["message"].(string)
	return msg
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// tokenRequest posts a form to the token endpoint.
func (e *env) tokenRequest(form url.Values, basicID, basicSecret string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+VCCTokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	return e.send(req)
}

func (e *env) token(id, secret, scope string) string {
	e.t.Helper()
	r := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}}, "", "")
	if r.status != http.StatusOK {
		e.t.Fatalf("token for %s: status %d body %s", id, r.status, r.body)
	}
	return r.json(e.t)["access_token"].(string)
}

// raw sends a request with the given token and Accept header ("" = none).
func (e *env) raw(method, path, token, accept, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(req)
}

// api sends a v4 API request as the demo admin client.
func (e *env) api(method, path, body string) response {
	e.t.Helper()
	return e.raw(method, path, e.admin, VCCAcceptV4, body)
}

// must sends an API request and fails the test unless the status is want.
func (e *env) must(want int, method, path, body string) response {
	e.t.Helper()
	r := e.api(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// newAgentBody is a valid POST body for an Agent.
func newAgentBody(username, agentID string) string {
	return `{"username":"` + username + `","name":"New Agent","email":"` + username + `",
		"userAccountConfiguration":{"role":"Agent","actAsAgent":true,
		"agentConfiguration":{"agentDisplayId":"` + agentID + `","location":"GB",
		"capacity":{"isAgentLevel":true,"live":80,"nonLive":20,"semiLive":40}}}}`
}
