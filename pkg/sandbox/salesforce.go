package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Salesforce API constants.
const (
	SFAPIVersion = "v61.0"
	SFTokenPath  = "/services/oauth2/token"
	SFDataRoot   = "/services/data"
	// SFApexRESTRoot is where an org's Apex REST classes would be served;
	// the sandbox deploys none, so every path under it is 404.
	SFApexRESTRoot = "/services/apexrest"
	// SFSSOCheckPath is the sandbox's own single sign-on check, not
	// Salesforce's: POST {"userId":"005…"}.
	SFSSOCheckPath = "/sandbox/sso/check"

	// SFMaxCollectionRecords is the most records one sObject Collections
	// request may carry.
	SFMaxCollectionRecords = 200
	// SFAliasMaxLength is the length limit of User.Alias.
	SFAliasMaxLength = 8
	// SFDefaultPageSize is the number of records per query page.
	SFDefaultPageSize = 2000

	sfMaxBodySize = 1 << 20
)

// SalesforceOptions configures a Salesforce sandbox. Zero values take the
// defaults.
type SalesforceOptions struct {
	// OrgID is the organization ID, 15 or 18 characters (default
	// DemoSFOrgID). NewSalesforce panics on an ID that is not 00D….
	OrgID string
	// PageSize is the number of records per query page (default 2000).
	PageSize int
	// SessionTimeout is the access token lifetime (default 2h).
	SessionTimeout time.Duration
	// APIRequestLimit is the org's API request allowance (default 100000);
	// calls beyond it are refused with 403 REQUEST_LIMIT_EXCEEDED.
	APIRequestLimit int
	// InstanceURL is the instance_url of token replies and the base of the
	// outbound messages' EnterpriseUrl and PartnerUrl (default: the URL the
	// sandbox was started on, or the URL a token request came to).
	InstanceURL string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o SalesforceOptions) withDefaults() SalesforceOptions {
	if o.OrgID == "" {
		o.OrgID = DemoSFOrgID
	}
	id, ok := sfNormalizeID(o.OrgID, SFPrefixOrg)
	if !ok {
		panic(fmt.Sprintf("sandbox: NewSalesforce: OrgID %q is not a Salesforce organization ID (00D…, 15 or 18 characters)", o.OrgID))
	}
	o.OrgID = id
	if o.PageSize <= 0 {
		o.PageSize = SFDefaultPageSize
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 2 * time.Hour
	}
	if o.APIRequestLimit <= 0 {
		o.APIRequestLimit = 100000
	}
	o.InstanceURL = strings.TrimRight(o.InstanceURL, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// SFStats counts what the Salesforce sandbox was asked to do.
type SFStats struct {
	// Requests counts every request by method and route template, e.g.
	// "GET /services/data/{version}/sobjects/User/{id}"; a request no route
	// matches counts as "<METHOD> (no route)". Injected faults included.
	Requests       map[string]int
	TokenRequests  int // requests to the token endpoint
	APIRequests    int // authenticated API calls (the ones Sforce-Limit-Info counts)
	InjectedFaults int // requests answered by an injected fault
	Writes         int // successful updates of a user: a PATCH, or a record applied by an sObject Collections PATCH
	// WritesByUser is user ID → HTTP method → successful writes; every
	// write is a PATCH (of /sobjects/User/{id}, or a record of
	// /composite/sobjects), contact-center membership included.
	WritesByUser map[string]map[string]int
}

// SFClient is a connected app of the org.
type SFClient struct {
	ID     string // consumer key (client_id)
	Secret string // consumer secret; empty: no client credentials flow
	// PublicKey verifies the RS256 JWTs of the JWT bearer flow; nil (and no
	// PublicKeyPEM): no JWT bearer flow.
	PublicKey any
	// PublicKeyPEM is the connected app's certificate or public key in PEM
	// (CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY), used when PublicKey is nil.
	PublicKeyPEM []byte
	// Username is the client credentials flow's run-as user; without one
	// that flow is refused ("no client credentials user enabled"). When set
	// it is also the only user a JWT's sub may name; when empty, sub may
	// name any active user of the org.
	Username string
}

// SFContactCenter is a contact center of the org.
type SFContactCenter struct {
	ID   string // 18 characters, prefix 04v
	Name string
}

// SFMember is a user's membership of a contact center: the user's
// CallCenterId.
type SFMember struct {
	ContactCenterID string
	UserID          string
	// TelephonyUsername is the telephony provider's username, fixed when
	// the user was added (CallCenterId set from null, or changed to another
	// contact center): Alias@UserId@OrgId.
	TelephonyUsername string
}

// Salesforce is an in-process Salesforce org: OAuth, the User and
// CallCenter sobjects, sObject Collections updates and a SOQL subset of
// the REST API, and a single sign-on check. Contact-center membership is
// User.CallCenterId. It implements http.Handler and is safe for concurrent
// use.
type Salesforce struct {
	opts  SalesforceOptions
	mux   *http.ServeMux
	idSeq atomic.Int64

	mu         sync.Mutex
	clients    map[string]sfClient
	sessions   map[string]sfSession
	users      map[string]*sfUserEntry // by 18-character ID
	byUsername map[string]string       // lower-case username → ID
	profiles   map[string]string       // ID → name
	centers    map[string]*sfCenter    // by 18-character ID
	centerSeq  int
	userSeq    int
	memberSeq  int // orders the members of a contact center by when they joined
	cursors    map[string]*sfCursor
	apiUsed    int
	startedURL string
	listeners  map[int]func(userID string)
	// hidden are the User fields each API user (by user ID) cannot read.
	hidden    map[string]map[string]bool
	listenSeq int
	stats     SFStats
	noops     map[string]int // user ID → successful writes that changed nothing

	faults faultInjector
}

type sfUserEntry struct {
	seq       int
	u         SFUser
	telephony string // telephony username while a member
	joined    int    // memberSeq when the user joined its contact center
}

type sfCenter struct {
	seq int
	cc  SFContactCenter
}

type sfClient struct {
	SFClient
	key any // *rsa.PublicKey
}

type sfSession struct {
	clientID string
	userID   string
	expires  time.Time
}

var _ http.Handler = (*Salesforce)(nil)

// Route templates (Go ServeMux patterns).
const (
	sfRouteToken         = SFTokenPath
	sfRouteGetUser       = "GET /services/data/{version}/sobjects/User/{id}"
	sfRoutePatchUser     = "PATCH /services/data/{version}/sobjects/User/{id}"
	sfRouteGetCallCenter = "GET /services/data/{version}/sobjects/CallCenter/{id}"
	sfRouteCollections   = "PATCH /services/data/{version}/composite/sobjects"
	sfRouteQuery         = "GET /services/data/{version}/query"
	sfRouteQueryMore     = "GET /services/data/{version}/query/{locator}"
	sfRouteSSOCheck      = SFSSOCheckPath
	sfRouteDataRest      = SFDataRoot + "/"
	sfRouteApexRest      = SFApexRESTRoot + "/"
	sfNoRoute            = "(no route)"
	sfSessionBadMsg      = "Session expired or invalid"
	sfNotFoundResource   = "The requested resource does not exist"
)

// NewSalesforce returns an org with no clients, users, profiles or contact
// centers.
func NewSalesforce(opts SalesforceOptions) *Salesforce {
	s := &Salesforce{
		opts:       opts.withDefaults(),
		mux:        http.NewServeMux(),
		clients:    map[string]sfClient{},
		sessions:   map[string]sfSession{},
		users:      map[string]*sfUserEntry{},
		byUsername: map[string]string{},
		profiles:   map[string]string{},
		centers:    map[string]*sfCenter{},
		cursors:    map[string]*sfCursor{},
		listeners:  map[int]func(string){},
		noops:      map[string]int{},
		stats:      newSFStats(),
	}
	s.mux.HandleFunc(sfRouteToken, s.token)
	s.mux.HandleFunc(sfRouteSSOCheck, s.ssoCheck)
	for pattern, h := range map[string]func(*http.Request) (int, any){
		sfRouteGetUser:       s.getUser,
		sfRouteDescribe:      s.describeUser,
		sfRoutePatchUser:     s.patchUser,
		sfRouteGetCallCenter: s.getCallCenter,
		sfRouteCollections:   s.patchCollection,
		sfRouteQuery:         s.query,
		sfRouteQueryMore:     s.queryMore,
	} {
		s.mux.Handle(pattern, s.api(h))
	}
	s.mux.Handle(sfRouteDataRest, s.api(s.noRoute))
	s.mux.Handle(sfRouteApexRest, s.api(s.noRoute))
	return s
}

func newSFStats() SFStats {
	return SFStats{Requests: map[string]int{}, WritesByUser: map[string]map[string]int{}}
}

// Start serves the org on addr; see the package-level Start. The URL is
// the instance URL of token replies and outbound messages unless
// SalesforceOptions.InstanceURL is set.
func (s *Salesforce) Start(addr string) (url string, stop func() error, err error) {
	url, stop, err = Start(addr, s)
	if err == nil {
		s.mu.Lock()
		s.startedURL = url
		s.mu.Unlock()
	}
	return url, stop, err
}

// OrgID is the org's 18-character organization ID.
func (s *Salesforce) OrgID() string { return s.opts.OrgID }

// instanceURL is the base URL the org calls its own; r may be nil.
func (s *Salesforce) instanceURL(r *http.Request) string {
	if s.opts.InstanceURL != "" {
		return s.opts.InstanceURL
	}
	s.mu.Lock()
	started := s.startedURL
	s.mu.Unlock()
	if started != "" {
		return started
	}
	if r != nil && r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	return DemoSFInstanceURL
}

// ServeHTTP serves the token endpoint, the REST API and the sandbox's SSO
// check.
func (s *Salesforce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	route := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		route = p
	}
	key := r.Method + " " + route
	if route == "" || route == sfRouteDataRest || route == sfRouteApexRest {
		key = r.Method + " " + sfNoRoute
	}
	isToken := route == sfRouteToken
	s.mu.Lock()
	s.stats.Requests[key]++
	if isToken {
		s.stats.TokenRequests++
	}
	s.mu.Unlock()

	if route != sfRouteSSOCheck && s.injectFault(w, r, isToken) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// sfError is one entry of a REST error reply.
type sfError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// sfFail is a refused request: its status and Salesforce's error array.
type sfFail struct {
	status int
	errs   []sfError
}

func (f *sfFail) Error() string {
	return fmt.Sprintf("%d %s: %s", f.status, f.errs[0].ErrorCode, f.errs[0].Message)
}

func (f *sfFail) reply() (int, any) { return f.status, f.errs }

func sfFailf(status int, code string, fields []string, format string, args ...any) *sfFail {
	return &sfFail{status: status, errs: []sfError{{Message: fmt.Sprintf(format, args...), ErrorCode: code, Fields: fields}}}
}

func sfErrorReply(status int, code, msg string) (int, any) {
	return status, []sfError{{Message: msg, ErrorCode: code}}
}

func sfWriteError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []sfError{{Message: msg, ErrorCode: code}})
}

type sfSessionKey struct{}

var sfVersionRE = regexp.MustCompile(`^v[1-9][0-9]*\.[0-9]$`)

// api checks the session and the org's API limit, counts the call and
// writes the handler's reply with the Sforce-Limit-Info header.
func (s *Salesforce) api(h func(*http.Request) (int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tok, _ = strings.CutPrefix(auth, "OAuth ")
		}
		tok = strings.TrimSpace(tok)
		now := s.opts.Now()
		s.mu.Lock()
		sess, found := s.sessions[tok]
		if found && !now.Before(sess.expires) {
			delete(s.sessions, tok)
			found = false
		}
		if !found {
			used, limit := s.apiUsed, s.opts.APIRequestLimit
			s.mu.Unlock()
			w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
			w.Header().Set("WWW-Authenticate", `Token`)
			sfWriteError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", sfSessionBadMsg)
			return
		}
		s.apiUsed++
		s.stats.APIRequests++
		used, limit := s.apiUsed, s.opts.APIRequestLimit
		s.mu.Unlock()
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
		if used > limit {
			sfWriteError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
			return
		}
		if strings.Contains(r.Pattern, "{version}") && !sfVersionRE.MatchString(r.PathValue("version")) {
			sfWriteError(w, http.StatusNotFound, "NOT_FOUND", sfNotFoundResource)
			return
		}
		status, body := h(r.WithContext(context.WithValue(r.Context(), sfSessionKey{}, sess)))
		writeJSON(w, status, body)
	})
}

// noRoute answers 405 for a known path with another method, else 404.
func (s *Salesforce) noRoute(r *http.Request) (int, any) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); strings.HasPrefix(p, m+" ") {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		return sfErrorReply(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
			fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", r.Method, strings.Join(allow, ",")))
	}
	if strings.HasPrefix(r.URL.Path, SFApexRESTRoot+"/") {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "Could not find a match for URL")
	}
	return sfErrorReply(http.StatusNotFound, "NOT_FOUND", sfNotFoundResource)
}

// SetFaults replaces the injected faults.
func (s *Salesforce) SetFaults(f SFFaults) { s.faults.set(f) }

// Faults returns the injected faults (FailNext counts down as it fires).
func (s *Salesforce) Faults() SFFaults { return s.faults.get() }

// ClearFaults removes every injected fault.
func (s *Salesforce) ClearFaults() { s.faults.set(Faults{}) }

// FailNext makes the next n requests fail with status (403:
// REQUEST_LIMIT_EXCEEDED), sending Retry-After when retryAfter is
// positive. Other faults are kept.
func (s *Salesforce) FailNext(n, status int, retryAfter time.Duration) {
	s.faults.failNext(n, status, retryAfter)
}

// SetDown makes every request fail with 503 until SetDown(false).
func (s *Salesforce) SetDown(down bool) { s.faults.setDown(down) }

// sfFaultErrors are the error codes of injected failures.
var sfFaultErrors = map[int]sfError{
	http.StatusForbidden:           {ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."},
	http.StatusTooManyRequests:     {ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "ConcurrentPerOrgLongTxn Limit exceeded."},
	http.StatusInternalServerError: {ErrorCode: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred. Please include this ErrorId if you contact support: 1715942377-52146 (-1617165568)"},
	http.StatusServiceUnavailable:  {ErrorCode: "SERVER_UNAVAILABLE", Message: "Service temporarily unavailable"},
}

// injectFault applies latency and failures; it reports whether it replied.
func (s *Salesforce) injectFault(w http.ResponseWriter, r *http.Request, isToken bool) bool {
	status := s.faults.inject(w, r, isToken)
	if status == 0 {
		return false
	}
	s.mu.Lock()
	s.stats.InjectedFaults++
	used, limit := s.apiUsed, s.opts.APIRequestLimit
	s.mu.Unlock()
	if !isToken {
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
	}
	e, ok := sfFaultErrors[status]
	if !ok {
		e = sfError{ErrorCode: strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: http.StatusText(status)}
	}
	writeJSON(w, status, []sfError{e})
	return true
}

// APIUsage returns the API calls counted so far and the org's limit.
func (s *Salesforce) APIUsage() (used, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiUsed, s.opts.APIRequestLimit
}

// SetAPIUsage sets the count of API calls made, e.g. to the limit so that
// the next call is refused with REQUEST_LIMIT_EXCEEDED.
func (s *Salesforce) SetAPIUsage(used int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiUsed = max(used, 0)
}

// Stats returns a copy of the counters.
func (s *Salesforce) Stats() SFStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = maps.Clone(st.Requests)
	st.WritesByUser = make(map[string]map[string]int, len(s.stats.WritesByUser))
	for id, m := range s.stats.WritesByUser {
		st.WritesByUser[id] = maps.Clone(m)
	}
	return st
}

// WriteCount is the number of successful writes to one user with method
// (PATCH: of the user, or of its record in an sObject Collections update,
// contact-center membership included), or with any method when method is
// "".
func (s *Salesforce) WriteCount(userID, method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := sfNormalizeID(userID, "")
	if method != "" {
		return s.stats.WritesByUser[id][strings.ToUpper(method)]
	}
	n := 0
	for _, c := range s.stats.WritesByUser[id] {
		n += c
	}
	return n
}

// NoopWriteCount is the number of successful writes to one user, or to any
// user when userID is "", that changed no field: a PATCH (or a record of an
// sObject Collections update) of the values already there, such as the
// CallCenterId the user already has or null for a non-member. It still
// bumps LastModifiedDate, as in Salesforce.
func (s *Salesforce) NoopWriteCount(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if userID != "" {
		id, _ := sfNormalizeID(userID, "")
		return s.noops[id]
	}
	n := 0
	for _, c := range s.noops {
		n += c
	}
	return n
}

// ResetStats zeroes the counters (the API usage is kept).
func (s *Salesforce) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newSFStats()
	s.noops = map[string]int{}
}

// countWrite records a successful write to a user; the caller holds s.mu.
func (s *Salesforce) countWrite(userID, method string, changed bool) {
	s.stats.Writes++
	m := s.stats.WritesByUser[userID]
	if m == nil {
		m = map[string]int{}
		s.stats.WritesByUser[userID] = m
	}
	m[method]++
	if !changed {
		s.noops[userID]++
	}
}

// subscribe registers fn to be called with the ID of every user that
// changes (created, updated, CallCenterId set or cleared through the API
// or through Go), with s.mu held: fn must not call back into s.
func (s *Salesforce) subscribe(fn func(userID string)) (unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listenSeq++
	id := s.listenSeq
	s.listeners[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

// touch bumps a user's LastModifiedDate and SystemModstamp (millisecond
// precision, strictly increasing per user) and tells the listeners; the
// caller holds s.mu.
func (s *Salesforce) touch(e *sfUserEntry) {
	t := s.opts.Now().UTC().Truncate(time.Millisecond)
	if last := e.u.SystemModstamp; !t.After(last) && !last.IsZero() {
		t = last.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
	}
	e.u.LastModifiedDate, e.u.SystemModstamp = t, t
	s.notify(e.u.ID)
}

func (s *Salesforce) notify(userID string) {
	for _, fn := range s.listeners {
		fn(userID)
	}
}

// readSFJSON reads a JSON request body into dst.
func readSFJSON(r *http.Request, dst any) *sfFail {
	b, err := io.ReadAll(io.LimitReader(r.Body, sfMaxBodySize+1))
	if err != nil {
		return sfFailf(http.StatusBadRequest, "JSON_PARSER_ERROR", nil, "Cannot read the request body: %v", err)
	}
	if len(b) > sfMaxBodySize {
		return sfFailf(http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE", nil, "Request body larger than %d bytes", sfMaxBodySize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		return sfFailf(http.StatusBadRequest, "JSON_PARSER_ERROR", nil, "%s", sfJSONMessage(err))
	}
	if dec.More() {
		return sfFailf(http.StatusBadRequest, "JSON_PARSER_ERROR", nil, "Unexpected content after the JSON value")
	}
	return nil
}

func sfJSONMessage(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("Cannot deserialize instance of %s from %s value or request may be missing a required field at [line:1, column:%d]", te.Type, sfJSONToken(te.Value), te.Offset)
	case errors.As(err, &se):
		return fmt.Sprintf("Unexpected character at [line:1, column:%d]: %v", se.Offset, err)
	case err.Error() == "EOF":
		return "No content to map due to end-of-input"
	}
	return err.Error()
}

func sfJSONToken(v string) string {
	switch v {
	case "string":
		return "VALUE_STRING"
	case "number":
		return "VALUE_NUMBER_INT"
	case "bool":
		return "VALUE_TRUE"
	case "object":
		return "START_OBJECT"
	case "array":
		return "START_ARRAY"
	}
	return strings.ToUpper(v)
}
