package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	sfV    = "/services/data/" + SFAPIVersion
	sfUser = sfV + "/sobjects/User/"
)

// sfClock is a settable clock.
type sfClock struct {
	mu sync.Mutex
	t  time.Time
}

func newSFClock() *sfClock {
	return &sfClock{t: time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)}
}

func (c *sfClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *sfClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type sfEnv struct {
	t     *testing.T
	sf    *Salesforce
	url   string
	token string // of the demo client (client credentials)
}

// newSFEnv serves a demo-seeded org over HTTP.
func newSFEnv(t *testing.T, opts SalesforceOptions) *sfEnv {
	t.Helper()
	sf := NewSalesforce(opts)
	if err := sf.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	e := &sfEnv{t: t, sf: sf, url: srv.URL}
	r := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoSFClientID}, "client_secret": {DemoSFClientSecret}})
	if r.status != http.StatusOK {
		t.Fatalf("demo token: %d %s", r.status, r.body)
	}
	e.token = r.json(t)["access_token"].(string)
	return e
}

func (e *sfEnv) send(req *http.Request) response {
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

func (e *sfEnv) tokenRequest(form url.Values) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+SFTokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(req)
}

// raw sends a request with token ("" = no Authorization header).
func (e *sfEnv) raw(method, path, token, body string) response {
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
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(req)
}

func (e *sfEnv) api(method, path, body string) response {
	e.t.Helper()
	return e.raw(method, path, e.token, body)
}

func (e *sfEnv) must(want int, method, path, body string) response {
	e.t.Helper()
	r := e.api(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// query runs a SOQL query.
func (e *sfEnv) query(soql string) response {
	e.t.Helper()
	return e.api("GET", sfV+"/query?q="+url.QueryEscape(soql), "")
}

// wantSFError checks a reply is status with exactly one error of code,
// whose message is msg (or starts with it when msg ends in "…").
func wantSFError(t *testing.T, r response, status int, code, msg string, fields ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	errs := decode[[]sfError](t, r.body)
	if len(errs) != 1 {
		t.Fatalf("errors %s, want one", r.body)
	}
	got := errs[0]
	if got.ErrorCode != code {
		t.Fatalf("errorCode %q, want %q; body %s", got.ErrorCode, code, r.body)
	}
	if prefix, ok := strings.CutSuffix(msg, "…"); ok {
		if !strings.HasPrefix(got.Message, prefix) {
			t.Fatalf("message %q, want prefix %q", got.Message, prefix)
		}
	} else if got.Message != msg {
		t.Fatalf("message %q, want %q", got.Message, msg)
	}
	if len(fields) == 0 {
		fields = nil
	}
	if diff := cmp.Diff(fields, got.Fields); diff != "" {
		t.Fatalf("fields (-want +got):\n%s", diff)
	}
}

var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var otherRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signJWT builds a compact JWT signed with RS256 (or alg as given, still
// signed with RS256).
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// id15 is the 15-character form of an 18-character ID.
func id15(id string) string { return id[:15] }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
