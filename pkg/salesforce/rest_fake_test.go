package salesforce

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

const (
	sfTestClientID = "3MVG9-consumer-key-1"
	sfTestSecret   = "consumer-s3cr3t-xyz"
	sfTestUsername = "integration@acme.example"
	sfTestOrgID    = "00D5e000000KQ2eEAG"
)

// sfFakeFields are the User fields the fake's SOQL knows.
var sfFakeFields = map[string]bool{
	"Id": true, "Username": true, "Alias": true, "Email": true, "FirstName": true, "LastName": true,
	"IsActive": true, "FederationIdentifier": true, "ProfileId": true, "CallCenterId": true,
	"NVMContactWorld__NVM_Agent_Id__c": true, "LastModifiedDate": true, "SystemModstamp": true,
}

var (
	sfKeyOnce sync.Once
	sfKey     *rsa.PrivateKey
)

// sfTestKey is one 2048-bit RSA key shared by the tests.
func sfTestKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	sfKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		sfKey = k
	})
	return sfKey
}

func sfPKCS1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func sfPKCS8PEM(t *testing.T, k any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

// sfUserID is the 18-character user ID number i.
func sfUserID(i int) string {
	id, err := events.NormalizeID(fmt.Sprintf("0055e%010d", i))
	if err != nil {
		panic(err)
	}
	return id
}

// sfRecorded is a request the fake received on the data REST API.
type sfRecorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// sfClaims are a verified assertion's claims.
type sfClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
}

// sfFake is an httptest server that behaves as the shared contract says:
// the OAuth token endpoint (client credentials and JWT bearer verified with
// the public key), sobjects/User and SOQL query with paging, all behind a
// bearer session. Contact-center membership is tested against
// pkg/sandbox's org instead (members_sandbox_test.go).
type sfFake struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	pub         *rsa.PublicKey // JWT bearer accepted when set
	instanceURL string         // instance_url of token replies; srv.URL when empty
	tokenCount  int
	tokenForms  []url.Values
	claims      []sfClaims
	valid       map[string]bool
	requests    []sfRecorded
	users       map[string]map[string]any // key absent: field absent; nil: null
	pageSize    int
	cursors     map[string][]map[string]any
	refuse      map[string]restErrorItem // userId → refusal of an add
	addBatches  []int
	hook        func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func newSFFake(t *testing.T) *sfFake {
	t.Helper()
	f := &sfFake{
		t:        t,
		valid:    map[string]bool{},
		users:    map[string]map[string]any{},
		pageSize: 2000,
		cursors:  map[string][]map[string]any{},
		refuse:   map[string]restErrorItem{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", f.serveToken)
	mux.HandleFunc("GET /services/data/v61.0/sobjects/User/{id}", f.authed(f.serveGetUser))
	mux.HandleFunc("PATCH /services/data/v61.0/sobjects/User/{id}", f.authed(f.servePatchUser))
	mux.HandleFunc("GET /services/data/v61.0/query", f.authed(f.serveQuery))
	mux.HandleFunc("GET /services/data/v61.0/query/{locator}", f.authed(f.serveQueryMore))
	mux.HandleFunc("/", f.authed(func(w http.ResponseWriter, r *http.Request) {
		sfWriteJSON(w, http.StatusNotFound, []restErrorItem{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}})
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// config is a client-credentials configuration against the fake.
func (f *sfFake) config() Config {
	return Config{
		BaseURL:      f.srv.URL,
		ClientID:     sfTestClientID,
		ClientSecret: sfTestSecret,
	}
}

func (f *sfFake) client(mod ...func(*Config)) *Client {
	f.t.Helper()
	cfg := f.config()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		f.t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (f *sfFake) set(change func(*sfFake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// revoke ends every session, as when they time out.
func (f *sfFake) revoke() { f.set(func(f *sfFake) { clear(f.valid) }) }

func (f *sfFake) tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCount
}

func (f *sfFake) recorded() []sfRecorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// addUser stores a user record; fields absent from rec stay absent.
func (f *sfFake) addUser(rec map[string]any) {
	f.set(func(f *sfFake) { f.users[rec["Id"].(string)] = rec })
}

// addUsers stores n complete users numbered from 1.
func (f *sfFake) addUsers(n int) []string {
	ids := make([]string, n)
	for i := range n {
		id := sfUserID(i + 1)
		ids[i] = id
		f.addUser(map[string]any{
			"Id": id, "Username": fmt.Sprintf("user%d@acme.example", i+1), "Alias": fmt.Sprintf("u%d", i+1),
			"Email": fmt.Sprintf("user%d@acme.example", i+1), "FirstName": "User", "LastName": strconv.Itoa(i + 1),
			"IsActive": true, "FederationIdentifier": nil, "ProfileId": "00e5e000000AbCdAAK", "CallCenterId": nil,
			"NVMContactWorld__NVM_Agent_Id__c": nil,
			"LastModifiedDate":                 "2024-04-26T18:25:03.000+0000", "SystemModstamp": "2024-04-26T18:25:03.000+0000",
		})
	}
	return ids
}

func (f *sfFake) serveToken(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "content type " + ct})
		return
	}
	if err := r.ParseForm(); err != nil {
		sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, r.PostForm)
	pub := f.pub
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_id") != sfTestClientID || r.PostForm.Get("client_secret") != sfTestSecret {
			sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"})
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if pub == nil {
			sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "no certificate uploaded"})
			return
		}
		claims, err := sfVerifyAssertion(pub, r.PostForm.Get("assertion"), time.Now())
		if err != nil {
			sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": err.Error()})
			return
		}
		f.mu.Lock()
		f.claims = append(f.claims, claims)
		f.mu.Unlock()
	default:
		sfWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	}
	f.mu.Lock()
	f.tokenCount++
	tok := fmt.Sprintf("00D5e000000KQ2e!tok-%d", f.tokenCount)
	f.valid[tok] = true
	inst := f.instanceURL
	f.mu.Unlock()
	if inst == "" {
		inst = f.srv.URL
	}
	sfWriteJSON(w, http.StatusOK, map[string]string{
		"access_token": tok, "instance_url": inst, "token_type": "Bearer",
		"issued_at": strconv.FormatInt(time.Now().UnixMilli(), 10),
	})
}

// sfVerifyAssertion checks a JWT bearer assertion as Salesforce does.
func sfVerifyAssertion(pub *rsa.PublicKey, a string, now time.Time) (sfClaims, error) {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return sfClaims{}, fmt.Errorf("assertion has %d parts", len(parts))
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return sfClaims{}, fmt.Errorf("header: %v", err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil || len(hdr) != 2 || hdr["alg"] != "RS256" || hdr["typ"] != "JWT" {
		return sfClaims{}, fmt.Errorf("header %s: want {\"alg\":\"RS256\",\"typ\":\"JWT\"}", hb)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return sfClaims{}, fmt.Errorf("signature: %v", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return sfClaims{}, fmt.Errorf("invalid assertion signature")
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return sfClaims{}, fmt.Errorf("claims: %v", err)
	}
	var c sfClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		return sfClaims{}, fmt.Errorf("claims: %v", err)
	}
	switch {
	case c.Iss != sfTestClientID:
		return c, fmt.Errorf("client identifier invalid: iss %q", c.Iss)
	case c.Sub != sfTestUsername:
		return c, fmt.Errorf("user hasn't approved this consumer: sub %q", c.Sub)
	case c.Aud != "https://login.salesforce.com" && c.Aud != "https://test.salesforce.com":
		return c, fmt.Errorf("audience is invalid: %q", c.Aud)
	case c.Exp <= now.Unix():
		return c, fmt.Errorf("expired authorization code")
	case c.Exp > now.Add(3*time.Minute+2*time.Second).Unix():
		return c, fmt.Errorf("exp more than 3 minutes ahead")
	}
	return c, nil
}

// authed records the request, demands a live session and runs the hook.
func (f *sfFake) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.requests = append(f.requests, sfRecorded{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body),
		})
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		live := ok && f.valid[tok]
		hook := f.hook
		f.mu.Unlock()
		w.Header().Set("Sforce-Limit-Info", "api-usage=1/15000")
		if hook != nil && hook(w, r) {
			return
		}
		if !live {
			sfWriteJSON(w, http.StatusUnauthorized, []restErrorItem{{Message: "Session expired or invalid", ErrorCode: "INVALID_SESSION_ID"}})
			return
		}
		h(w, r)
	}
}

// record is u as the API shows it: its fields and attributes.
func (f *sfFake) record(u map[string]any, fields []string) map[string]any {
	out := map[string]any{"attributes": map[string]any{"type": "User", "url": "/services/data/v61.0/sobjects/User/" + u["Id"].(string)}}
	if fields == nil {
		for k, v := range u {
			out[k] = v
		}
		return out
	}
	for _, k := range fields {
		out[k] = u[k] // a missing field is null in a query
	}
	return out
}

func (f *sfFake) serveGetUser(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	u, ok := f.users[r.PathValue("id")]
	var rec map[string]any
	if ok {
		rec = f.record(u, nil)
	}
	f.mu.Unlock()
	if !ok {
		sfWriteJSON(w, http.StatusNotFound, []restErrorItem{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}})
		return
	}
	sfWriteJSON(w, http.StatusOK, rec)
}

var sfAliasPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,8}$`)

func (f *sfFake) servePatchUser(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		sfWriteJSON(w, http.StatusBadRequest, []restErrorItem{{ErrorCode: "JSON_PARSER_ERROR", Message: err.Error()}})
		return
	}
	if a, ok := body["Alias"].(string); ok && !sfAliasPattern.MatchString(a) {
		sfWriteJSON(w, http.StatusBadRequest, []restErrorItem{{ErrorCode: "FIELD_INTEGRITY_EXCEPTION", Message: "Alias: invalid characters", Fields: []string{"Alias"}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[r.PathValue("id")]
	if !ok {
		sfWriteJSON(w, http.StatusNotFound, []restErrorItem{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}})
		return
	}
	for k, v := range body {
		u[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

var sfSOQL = regexp.MustCompile(`^SELECT (.+) FROM User(?: WHERE Id IN \(([^)]*)\)| WHERE Id = '([^']*)')?( ORDER BY Id)?$`)

func (f *sfFake) serveQuery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	m := sfSOQL.FindStringSubmatch(q)
	if m == nil {
		sfWriteJSON(w, http.StatusBadRequest, []restErrorItem{{ErrorCode: "MALFORMED_QUERY", Message: "unexpected query: " + q}})
		return
	}
	var fields []string
	for _, fl := range strings.Split(m[1], ",") {
		fl = strings.TrimSpace(fl)
		if !sfFakeFields[fl] {
			sfWriteJSON(w, http.StatusBadRequest, []restErrorItem{{ErrorCode: "INVALID_FIELD", Message: "No such column '" + fl + "' on entity 'User'"}})
			return
		}
		fields = append(fields, fl)
	}
	var want map[string]bool
	switch {
	case m[2] != "":
		want = map[string]bool{}
		for _, s := range strings.Split(m[2], ",") {
			id, err := events.NormalizeID(strings.Trim(strings.TrimSpace(s), "'"))
			if err != nil {
				sfWriteJSON(w, http.StatusBadRequest, []restErrorItem{{ErrorCode: "INVALID_QUERY_FILTER_OPERATOR", Message: "invalid ID field: " + s}})
				return
			}
			want[id] = true
		}
	case m[3] != "":
		want = map[string]bool{m[3]: true}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.users))
	for id := range f.users {
		if want == nil || want[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	recs := make([]map[string]any, len(ids))
	for i, id := range ids {
		recs[i] = f.record(f.users[id], fields)
	}
	f.writePage(w, len(recs), recs)
}

func (f *sfFake) serveQueryMore(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	loc := r.PathValue("locator")
	recs, ok := f.cursors[loc]
	if !ok {
		sfWriteJSON(w, http.StatusNotFound, []restErrorItem{{ErrorCode: "INVALID_QUERY_LOCATOR", Message: "invalid query locator"}})
		return
	}
	delete(f.cursors, loc)
	total, _ := strconv.Atoi(loc[strings.LastIndex(loc, "~")+1:])
	f.writePage(w, total, recs)
}

// writePage writes a page of at most pageSize records and keeps the rest
// behind a locator; called with f.mu held.
func (f *sfFake) writePage(w http.ResponseWriter, total int, recs []map[string]any) {
	page := map[string]any{"totalSize": total, "done": true}
	if len(recs) > f.pageSize {
		loc := fmt.Sprintf("01g5e000000Cur%d~%d", len(f.cursors)+len(f.requests), total)
		f.cursors[loc] = recs[f.pageSize:]
		recs = recs[:f.pageSize]
		page["done"] = false
		page["nextRecordsUrl"] = "/services/data/v61.0/query/" + loc
	}
	page["records"] = recs
	sfWriteJSON(w, http.StatusOK, page)
}

func sfWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sfObservation is one ObserveRequest call.
type sfObservation struct {
	Method, Route string
	Status        int
}

// sfObserver records observations.
type sfObserver struct {
	mu  sync.Mutex
	obs []sfObservation
}

func (o *sfObserver) ObserveRequest(method, route string, status int, _ time.Duration) {
	o.mu.Lock()
	o.obs = append(o.obs, sfObservation{method, route, status})
	o.mu.Unlock()
}

func (o *sfObserver) list() []sfObservation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.obs)
}
