package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// VCC API constants.
const (
	VCCTokenPath   = "/Auth/connect/token"
	VCCAPIRoot     = "/useradmin"
	VCCAcceptV4    = "application/vnd.newvoicemedia.v4+json"
	VCCScopeRead   = "users:read"
	VCCScopeWrite  = "users:write"
	vccMaxBodySize = 1 << 20

	// VCCLoginPath is the sandbox's own login endpoint (not part of VCC's
	// API): POST {"username":...,"password":...}, no token.
	VCCLoginPath = "/sandbox/login"
	// VCCLockAfterFailedLogins is the number of consecutive failed logins
	// that locks a user.
	VCCLockAfterFailedLogins = 5
)

// VCCOptions configures a VCC sandbox. Zero values take the defaults; the
// statuses and shapes the documentation leaves open are settable.
type VCCOptions struct {
	// TokenLifetime is the access token lifetime (default 2h, as VCC).
	TokenLifetime time.Duration
	// Now is the sandbox's clock: token expiry, the rate-limit window,
	// write-log and login times (default time.Now). A benchmark may run it
	// faster than real time.
	Now func() time.Time
	// MaxSkillLevel is the highest agentSkillLevel (default 10); levels start at 1.
	MaxSkillLevel int
	// AgentLicences caps the active chargeable Agents; 0 means no cap. Going
	// over is refused unless the request has allowOverages=true.
	AgentLicences int
	// AgentDisplayIDOptional lets a user act as agent without an agentDisplayId.
	AgentDisplayIDOptional bool
	// WebRTCPhoneOptional lets an agent use WebRTC without a telephone
	// number (VCC requires one to route calls to when WebRTC is unavailable).
	WebRTCPhoneOptional bool
	// WriteLogLimit is how many of the latest writes [VCC.WriteLog] keeps
	// (default 10000; negative keeps none).
	WriteLogLimit int
	// RateLimitPerMinute is VCC's "fair usage" limit: at most this many
	// /useradmin requests in any sliding 60 seconds of [VCCOptions.Now];
	// more are answered 429 {"message":"Too Many Requests"} without
	// Retry-After. 0 means no limit.
	RateLimitPerMinute int

	// ListsAsBareArrays answers every list as a bare JSON array, without
	// meta (still paged by limit and page), as some accounts are seen to.
	ListsAsBareArrays bool
	// CreateEmptyBody answers a successful POST /users with CreateStatus and
	// no body: the client must look the user up by username.
	CreateEmptyBody bool
	// CreateRefusesSelection refuses a selectedCallbackNumberId in POST
	// /users, as a PATCH is refused, unless it is one of the user's own
	// callback numbers, which a new user has none of. Vonage's "Create
	// user" example sends one; an account that refuses it makes the client
	// select the number after the create, with a PATCH.
	CreateRefusesSelection bool

	CreateStatus              int // POST /users success (default 201)
	ConflictStatus            int // duplicate username, agentDisplayId or telephoneAddress (default 409)
	DeleteActiveStatus        int // DELETE of an active user (default 409)
	InvalidClientStatus       int // token request with bad client credentials (default 401)
	ForbiddenStatus           int // missing scope or admin rights (default 403)
	OverageStatus             int // agent licence overage (default 400)
	MultiAccountArchiveStatus int // archive of a multi-account user without acceptArchiveInMultipleAccounts=true (default 400)
}

func (o VCCOptions) withDefaults() VCCOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = 2 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def(&o.MaxSkillLevel, 10)
	def(&o.WriteLogLimit, 10000)
	def(&o.CreateStatus, http.StatusCreated)
	def(&o.ConflictStatus, http.StatusConflict)
	def(&o.DeleteActiveStatus, http.StatusConflict)
	def(&o.InvalidClientStatus, http.StatusUnauthorized)
	def(&o.ForbiddenStatus, http.StatusForbidden)
	def(&o.OverageStatus, http.StatusBadRequest)
	def(&o.MultiAccountArchiveStatus, http.StatusBadRequest)
	return o
}

// VCCClient is an API client of the account (client credentials grant).
// Only an Admin client may delete users.
type VCCClient struct {
	ID     string
	Secret string
	Scopes []string
	Admin  bool
}

// VCC is an in-process VCC User Admin API v4. It implements http.Handler and
// is safe for concurrent use.
type VCC struct {
	opts VCCOptions
	mux  *http.ServeMux

	mu         sync.Mutex
	clients    map[string]VCCClient
	tokens     map[string]tokenInfo
	numbers    []VCCCallbackNumber
	groups     []VCCGroup
	users      map[string]*userEntry // by userId
	byUsername map[string]string     // lower-case username → userId
	byAgentID  map[string]string     // agentDisplayId → userId
	byPhone    map[string]string     // telephoneAddress → userId
	regions    []VCCTelephonyRegion
	credOwner  map[string]string // user-level API credential clientId → userId
	resets     []PasswordReset
	seq        int
	stats      VCCStats
	noops      map[string]int // userId → successful writes that changed nothing
	writeLog   []VCCWrite
	window     rateWindow

	faults faultInjector
}

type userEntry struct {
	seq          int
	rec          VCCUserRecord
	password     string   // "" = none set: every login fails
	failedLogins int      // consecutive
	credentials  []string // user-level API credential clientIds
	accounts     int      // VCC accounts the user belongs to; 0 and 1 mean this one only
}

type tokenInfo struct {
	client  VCCClient
	scopes  []string
	expires time.Time
}

var _ http.Handler = (*VCC)(nil)

// NewVCC returns an empty VCC account: no clients, no users.
func NewVCC(opts VCCOptions) *VCC {
	v := &VCC{
		opts:       opts.withDefaults(),
		mux:        http.NewServeMux(),
		clients:    map[string]VCCClient{},
		tokens:     map[string]tokenInfo{},
		users:      map[string]*userEntry{},
		byUsername: map[string]string{},
		byAgentID:  map[string]string{},
		byPhone:    map[string]string{},
		credOwner:  map[string]string{},
		noops:      map[string]int{},
	}
	v.stats = newStats()
	v.window.limit = v.opts.RateLimitPerMinute
	// Only the endpoints VCC documents: any other path is 404.
	routes := []struct {
		pattern string
		h       func(*http.Request) (int, any)
	}{
		{"GET /useradmin/users", v.listUsers},
		{"POST /useradmin/users", v.createUser},
		{"GET /useradmin/users/{userId}", v.getUser},
		{"GET /useradmin/users/by/username/{username}", v.getUserByUsername},
		{"PATCH /useradmin/users/{userId}", v.patchUser},
		{"DELETE /useradmin/users/{userId}", v.deleteUser},
		{"GET /useradmin/users/{userId}/skills", v.getSkills},
		{"PUT /useradmin/users/{userId}/skills", v.putSkills},
		{"GET /useradmin/users/{userId}/groups", v.getGroups},
		{"PUT /useradmin/users/{userId}/groups", v.putGroups},
		{"GET /useradmin/users/{userId}/callbackNumbers", v.getUserCallbackNumbers},
		{"PUT /useradmin/users/{userId}/callbackNumbers", v.putUserCallbackNumbers},
		{"GET /useradmin/users/{userId}/permissions/groups", v.getGroupPermissions},
		{"PUT /useradmin/users/{userId}/permissions/groups", v.putGroupPermissions},
		{"POST /useradmin/users/{userId}/unlock", v.unlock},
		{"POST /useradmin/users/{userId}/forgotPassword", v.forgotPassword},
		{"GET /useradmin/callbackNumbers", v.listCallbackNumbers},
	}
	for _, rt := range routes {
		v.mux.Handle(rt.pattern, v.authorize(rt.h))
	}
	v.mux.HandleFunc(VCCAPIRoot+"/", v.noRoute)
	return v
}

// ServeHTTP serves the token endpoint, the User Admin API and the
// sandbox's login endpoint.
func (v *VCC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isToken := strings.EqualFold(r.URL.Path, VCCTokenPath)
	v.mu.Lock()
	v.stats.Requests[r.Method]++
	if isToken {
		v.stats.TokenRequests++
	}
	v.mu.Unlock()

	if v.injectFault(w, r, isToken) {
		return
	}
	switch {
	case isToken:
		v.token(w, r)
	case r.URL.Path == VCCLoginPath:
		v.login(w, r)
	case strings.HasPrefix(r.URL.Path, VCCAPIRoot+"/"):
		if v.rateLimited() {
			// VCC documents the 429 but no Retry-After: none is sent.
			writeJSON(w, http.StatusTooManyRequests, message("Too Many Requests"))
			return
		}
		v.api(w, r)
	default:
		writeJSON(w, http.StatusNotFound, message("No route matches %s %s", r.Method, r.URL.Path))
	}
}

// api checks the bearer token and the Accept header, then routes.
func (v *VCC) api(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, message("Authorization has been denied for this request: a Bearer token is required"))
		return
	}
	v.mu.Lock()
	info, found := v.tokens[tok]
	expired := found && !v.opts.Now().Before(info.expires)
	if expired {
		delete(v.tokens, tok)
	}
	v.mu.Unlock()
	switch {
	case !found:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, message("Authorization has been denied for this request: invalid token"))
		return
	case expired:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The token expired"`)
		writeJSON(w, http.StatusUnauthorized, message("Authorization has been denied for this request: the token expired"))
		return
	}
	if msg := checkAccept(r.Header.Values("Accept")); msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "error": "Bad Request", "message": msg})
		return
	}
	v.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, info)))
}

type tokenKey struct{}

type bodyKey struct{}

var acceptVersion = regexp.MustCompile(`(?i)^application/vnd\.newvoicemedia\.v([^+]*)\+json$`)

// checkAccept returns VCC's message for a missing or wrong API version, or "".
func checkAccept(values []string) string {
	seen := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			m := acceptVersion.FindStringSubmatch(strings.TrimSpace(mt))
			if m == nil {
				continue
			}
			if m[1] == "4" {
				return ""
			}
			seen = true
		}
	}
	if seen {
		return "Invalid api-version! Valid values: 4"
	}
	return "Version missing from Accept header!"
}

// authorize checks the scope a route needs (users:read for GET, users:write
// otherwise, plus an admin client for DELETE) and writes the handler's reply.
// The body of a write is kept for the write log.
func (v *VCC) authorize(h func(*http.Request) (int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := r.Context().Value(tokenKey{}).(tokenInfo)
		need := VCCScopeWrite
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			need = VCCScopeRead
		}
		if !slices.Contains(info.scopes, need) {
			writeJSON(w, v.opts.ForbiddenStatus, message("Forbidden: the token lacks the %s scope", need))
			return
		}
		if r.Method == http.MethodDelete && !info.client.Admin {
			writeJSON(w, v.opts.ForbiddenStatus, message("Forbidden: only an admin may delete users"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			b, err := io.ReadAll(io.LimitReader(r.Body, vccMaxBodySize+1))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, message("Invalid request body: %v", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		}
		status, body := h(r)
		writeJSON(w, status, body)
	})
}

// noRoute answers 405 (with Allow) for a documented path asked with another
// method, and 404 for any path VCC does not document.
func (v *VCC) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := v.mux.Handler(probe); p != VCCAPIRoot+"/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, message("The requested resource does not support http method '%s'.", r.Method))
		return
	}
	writeJSON(w, http.StatusNotFound, message("No route matches %s %s", r.Method, r.URL.Path))
}

// SetFaults replaces the injected faults.
func (v *VCC) SetFaults(f VCCFaults) { v.faults.set(f) }

// Faults returns the injected faults (FailNext counts down as it fires).
func (v *VCC) Faults() VCCFaults { return v.faults.get() }

// ClearFaults removes every injected fault.
func (v *VCC) ClearFaults() { v.faults.set(Faults{}) }

// FailNext makes the next n requests fail with status, sending Retry-After
// when retryAfter is positive. Other faults are kept.
func (v *VCC) FailNext(n, status int, retryAfter time.Duration) {
	v.faults.failNext(n, status, retryAfter)
}

// SetDown makes every request fail with 503 until SetDown(false).
func (v *VCC) SetDown(down bool) { v.faults.setDown(down) }

// injectFault applies latency and failures; it reports whether it replied.
func (v *VCC) injectFault(w http.ResponseWriter, r *http.Request, isToken bool) bool {
	status := v.faults.inject(w, r, isToken)
	if status == 0 {
		return false
	}
	v.mu.Lock()
	v.stats.InjectedFaults++
	v.mu.Unlock()
	writeJSON(w, status, message("%s", http.StatusText(status)))
	return true
}

// apiError is a refusal with VCC's {"message": ...} body.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func apiErrorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (e *apiError) reply() (int, any) { return e.status, map[string]string{"message": e.msg} }

func message(format string, args ...any) map[string]string {
	return map[string]string{"message": fmt.Sprintf(format, args...)}
}

// writeJSON writes body as JSON with status; a nil body writes no body.
func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
