package vcc

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID = "client-id-1"
	testSecret   = "s3cr3t-value-xyz"
)

// fakeVCC is an httptest server that behaves as the VCC reference says:
// a client-credentials token endpoint and the /useradmin API that demands
// the v4 Accept header and a valid bearer token.
type fakeVCC struct {
	t   *testing.T
	srv *httptest.Server

	mu           sync.Mutex
	expiresIn    any    // expires_in of token replies
	tokenType    string // token_type of token replies
	tokenDelay   time.Duration
	tokenForms   []map[string][]string
	tokenCount   int
	valid        map[string]bool
	apiRequests  []recorded
	api          http.HandlerFunc // called for authorised API requests
	tokenHandler http.HandlerFunc // replaces the token endpoint when set
}

type recorded struct {
	Method, Path, EscapedPath, Query string
	Header                           http.Header
	Body                             string
}

func newFake(t *testing.T) *fakeVCC {
	t.Helper()
	f := &fakeVCC{t: t, expiresIn: 7200, tokenType: "bearer", valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/Auth/connect/token", f.serveToken)
	mux.HandleFunc("/useradmin/", f.serveAPI)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVCC) config() Config {
	return Config{
		BaseURL:       f.srv.URL + "/useradmin",
		TokenURL:      f.srv.URL + "/Auth/connect/token",
		ClientID:      testClientID,
		ClientSecret:  testSecret,
		RatePerMinute: -1,
	}
}

func (f *fakeVCC) client(mod ...func(*Config)) *Client {
	f.t.Helper()
	cfg := f.config()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c
}

// quickRetries makes the backoff short, for tests that count tries rather
// than time them.
func quickRetries(cfg *Config) {
	cfg.RetryInitial, cfg.RetryMax = time.Millisecond, 10*time.Millisecond
}

// noRetries turns the client's retries off, for tests about how one reply
// is classified.
func noRetries(cfg *Config) { cfg.MaxTries = 1 }

func (f *fakeVCC) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.tokenHandler
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "invalid_request"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "content type " + ct})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, r.PostForm)
	delay := f.tokenDelay
	f.mu.Unlock()
	time.Sleep(delay)
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
		return
	case r.PostForm.Get("scope") == "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope", "error_description": "You must specify a scope"})
		return
	case r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testSecret:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	f.tokenCount++
	tok := fmt.Sprintf("tok-%d", f.tokenCount)
	f.valid[tok] = true
	reply := map[string]any{"access_token": tok, "token_type": f.tokenType, "expires_in": f.expiresIn}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, reply)
}

func (f *fakeVCC) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.apiRequests = append(f.apiRequests, recorded{
		Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: string(body),
	})
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	authorised := ok && f.valid[tok]
	api := f.api
	f.mu.Unlock()
	switch accept := r.Header.Get("Accept"); {
	case accept == "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "error": "Bad Request", "message": "Version missing from Accept header!"})
		return
	case accept != MediaType:
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "error": "Bad Request", "message": "Invalid api-version! Valid values: 4"})
		return
	}
	if !authorised {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	if api == nil {
		writeJSON(w, http.StatusOK, map[string]any{"userId": "u1", "username": "jsmith@example.com"})
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	api(w, r)
}

// set changes the fake's behaviour under its lock.
func (f *fakeVCC) set(change func(*fakeVCC)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// revoke makes every issued token invalid, as if they had expired server-side.
func (f *fakeVCC) revoke() {
	f.mu.Lock()
	clear(f.valid)
	f.mu.Unlock()
}

func (f *fakeVCC) setAPI(h http.HandlerFunc) {
	f.mu.Lock()
	f.api = h
	f.mu.Unlock()
}

func (f *fakeVCC) tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCount
}

func (f *fakeVCC) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.apiRequests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
