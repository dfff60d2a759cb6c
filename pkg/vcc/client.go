package vcc

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// MediaType is the versioned media type VCC requires in every Accept header.
const MediaType = "application/vnd.newvoicemedia.v4+json"

// Scopes of the User Admin API.
const (
	ScopeUsersRead  = "users:read"
	ScopeUsersWrite = "users:write"
)

// Defaults applied by New to a zero Config field.
const (
	DefaultRatePerMinute = 160
	DefaultRateBurst     = 10
	DefaultTimeout       = 30 * time.Second
)

// MaxPageSize is the largest page VCC serves on any list (limit 1 to 5000).
const MaxPageSize = 5000

// VCCDefaultPageSize is the page size VCC uses when a list request sends no
// limit. The client always sends one.
const VCCDefaultPageSize = 25

// maxReplyBytes bounds how much of a reply is read (a 5000-user page is a
// few megabytes).
const maxReplyBytes = 64 << 20

// Route templates, as passed to a RequestObserver and set in Error.Route and
// TransportError.Route.
const (
	RouteToken                = "/Auth/connect/token"
	RouteUsers                = "/users"
	RouteUser                 = "/users/{userId}"
	RouteUserByUsername       = "/users/by/username/{username}"
	RouteUserSkills           = "/users/{userId}/skills"
	RouteUserGroups           = "/users/{userId}/groups"
	RouteUserCallbackNumbers  = "/users/{userId}/callbackNumbers"
	RouteUserGroupPermissions = "/users/{userId}/permissions/groups"
	RouteUserUnlock           = "/users/{userId}/unlock"
	RouteUserForgotPassword   = "/users/{userId}/forgotPassword"
	RouteCallbackNumbers      = "/callbackNumbers"
)

// RequestObserver is told about every HTTP request the client makes,
// token requests (route RouteToken) and every retry included. route is the
// template (e.g. RouteUser), status is 0 when no complete reply arrived, d
// is the time from sending the request to reading the whole reply
// (rate-limit and backoff waits excluded). It is called synchronously and
// must be safe for concurrent use.
type RequestObserver interface {
	ObserveRequest(method, route string, status int, d time.Duration)
}

// ObserverFunc adapts a function to RequestObserver.
type ObserverFunc func(method, route string, status int, d time.Duration)

// ObserveRequest calls f.
func (f ObserverFunc) ObserveRequest(method, route string, status int, d time.Duration) {
	f(method, route, status, d)
}

var _ RequestObserver = ObserverFunc(nil)

// Config configures a Client. BaseURL, TokenURL, ClientID and ClientSecret
// are required; every other zero field takes its default.
type Config struct {
	// BaseURL is the API root including /useradmin, e.g.
	// https://emea.api.cc.vonage.com/useradmin (see RegionURLs).
	BaseURL string
	// TokenURL is the OAuth token endpoint, e.g.
	// https://emea.cc.vonage.com/Auth/connect/token.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes requested with the token; default users:read users:write.
	Scopes []string
	// RatePerMinute is the client-side limit on API requests; default 160
	// (Vonage's own sample); negative disables the limiter. VCC's limit is
	// shared by every client of the account.
	RatePerMinute int
	// RateBurst is how many requests may go at once before the rate applies;
	// default 10, and never more than the per-minute rate.
	RateBurst int
	// Limiter, if set, paces every request (retries included) instead of the fixed RatePerMinute limiter.
	Limiter Limiter
	// Timeout bounds each HTTP request, reply body included; default 30s.
	Timeout time.Duration
	// HTTPClient sends the requests; default a new http.Client.
	HTTPClient *http.Client
	// Observer, if set, is told about every request (for metrics).
	Observer RequestObserver
	// ExternalID, if set, is sent as the x-external-id header (the
	// integration's name).
	ExternalID string
	// AllowOverages is sent as allowOverages on POST and PATCH of a user:
	// whether VCC may exceed the account's licences.
	AllowOverages bool
	// AcceptArchiveInMultipleAccounts lets an archive (a PATCH that sets
	// active=false) of a user who belongs to several VCC accounts go ahead:
	// when VCC refuses it for that reason, the PATCH is sent again with
	// acceptArchiveInMultipleAccounts=true, which archives the user in all
	// of those accounts. When false, such an archive fails with an error
	// matching ErrMultipleAccounts.
	AcceptArchiveInMultipleAccounts bool

	// The retry policy: a call whose try fails transiently (408, 429, 5xx,
	// a *TransportError, a temporary failure of the token endpoint) is
	// tried again after a backoff, within MaxTries and RetryBudget, as the
	// package documentation describes.

	// RetryInitial is the backoff before the second try; default 200ms.
	// Each later backoff is twice the one before (up to RetryMax), and every
	// wait is drawn at random within ±50% of it.
	RetryInitial time.Duration
	// RetryMax is the longest backoff between two tries; default 5s (raised
	// to RetryInitial if lower). A server's Retry-After may ask for longer:
	// the client then waits as asked, within RetryBudget.
	RetryMax time.Duration
	// MaxTries is the most requests one call sends, the first included;
	// default 6. 1 turns retries off (the single re-send after a 401 with a
	// fresh token is kept, and does not count). Negative is invalid.
	MaxTries int
	// RetryBudget is the longest one call spends trying and waiting,
	// counted from its start; default 30s. A wait that would end past it
	// (or past the context's deadline) is not started: the call returns
	// the last failure at once. A try already started is not cut short: it
	// ends within Timeout.
	RetryBudget time.Duration
}

// Client is a client of the VCC User Admin API v4. It is safe for
// concurrent use; share one per account so the rate limit and the token are
// shared too.
type Client struct {
	base       string // BaseURL without a trailing slash
	hc         *http.Client
	timeout    time.Duration
	limiter    Limiter // nil when disabled
	obs        RequestObserver
	externalID string
	overages   bool
	multiArch  bool // AcceptArchiveInMultipleAccounts
	tokens     *tokenSource
	secret     string

	retryInitial time.Duration
	retryMax     time.Duration
	maxTries     int
	retryBudget  time.Duration
}

// New validates cfg, applies the defaults and returns a Client. It makes no
// request: the first token is fetched by the first call.
func New(cfg Config) (*Client, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vcc: config: "+format, args...))
	}
	base, err := checkURL("BaseURL", cfg.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	tokenURL, err := checkURL("TokenURL", cfg.TokenURL)
	if err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		bad("ClientID is required")
	}
	if cfg.ClientSecret == "" {
		bad("ClientSecret is required")
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeUsersRead, ScopeUsersWrite}
	}
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			bad("Scopes[%d] %q: a scope is one non-empty word", i, s)
		}
	}
	if cfg.RateBurst < 0 {
		bad("RateBurst %d: must not be negative", cfg.RateBurst)
	}
	if cfg.Timeout < 0 {
		bad("Timeout %s: must not be negative", cfg.Timeout)
	}
	if cfg.RetryInitial < 0 {
		bad("RetryInitial %s: must not be negative", cfg.RetryInitial)
	}
	if cfg.RetryMax < 0 {
		bad("RetryMax %s: must not be negative", cfg.RetryMax)
	}
	if cfg.MaxTries < 0 {
		bad("MaxTries %d: must not be negative (1 turns retries off)", cfg.MaxTries)
	}
	if cfg.RetryBudget < 0 {
		bad("RetryBudget %s: must not be negative", cfg.RetryBudget)
	}
	if strings.ContainsAny(cfg.ExternalID, "\r\n\x00") {
		bad("ExternalID: must not contain control characters")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	c := &Client{
		base:       strings.TrimRight(base, "/"),
		hc:         cfg.HTTPClient,
		timeout:    cfg.Timeout,
		obs:        cfg.Observer,
		externalID: cfg.ExternalID,
		overages:   cfg.AllowOverages,
		multiArch:  cfg.AcceptArchiveInMultipleAccounts,
		secret:     cfg.ClientSecret,
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	c.retryInitial = cmp.Or(cfg.RetryInitial, DefaultRetryInitial)
	c.retryMax = max(cmp.Or(cfg.RetryMax, DefaultRetryMax), c.retryInitial)
	c.maxTries = cmp.Or(cfg.MaxTries, DefaultMaxTries)
	c.retryBudget = cmp.Or(cfg.RetryBudget, DefaultRetryBudget)
	switch {
	case cfg.Limiter != nil:
		c.limiter = cfg.Limiter
	case cfg.RatePerMinute >= 0:
		perMinute := cmp.Or(cfg.RatePerMinute, DefaultRatePerMinute)
		burst := min(cmp.Or(cfg.RateBurst, DefaultRateBurst), perMinute)
		c.limiter = fixedLimiter{rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)}
	}
	c.tokens = &tokenSource{
		c:        c,
		url:      tokenURL,
		clientID: cfg.ClientID,
		scope:    strings.Join(scopes, " "),
		now:      time.Now,
	}
	return c, nil
}

func checkURL(field, raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("vcc: config: %s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("vcc: config: %s %q: not a URL", field, raw)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("vcc: config: %s %q: scheme must be https or http", field, raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("vcc: config: %s %q: no host", field, raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("vcc: config: %s: must not carry credentials", field)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("vcc: config: %s %q: must not have a query or fragment", field, raw)
	}
	return raw, nil
}

// request is one API call.
type request struct {
	method string
	route  string
	path   string // escaped, under BaseURL
	query  url.Values
	body   any // encoded as JSON; nil for none
	// idempotent marks a POST that may be sent again after any transient
	// failure, as a PUT (UnlockUser).
	idempotent bool
	// emptyOK accepts a 2xx reply with no body: out is left untouched.
	emptyOK bool
	// lookup, when set, is a GET that finds what the request creates: after
	// a transient failure that may hide a processed request, it is sent
	// before the request is sent again (see retryCreate).
	lookup *request
}

// prepared is a request encoded for sending.
type prepared struct {
	method, route string
	target        string // the full URL
	body          []byte // nil for none
	emptyOK       bool
}

func (c *Client) prepare(r *request) (*prepared, error) {
	p := &prepared{method: r.method, route: r.route, target: c.base + r.path, emptyOK: r.emptyOK}
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("vcc: %s %s: encode body: %w", r.method, r.route, err)
		}
		p.body = b
	}
	if len(r.query) > 0 {
		p.target += "?" + r.query.Encode()
	}
	return p, nil
}

// reply is a complete HTTP reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do makes the call r: it sends the request, retries it by the client's
// retry policy (see policyOf and retrier), and decodes a 2xx reply into out
// (when out is non-nil). For a request with a lookup, a 2xx reply of the
// lookup is decoded into out as the call's result.
func (c *Client) do(ctx context.Context, r *request, out any) error {
	start := time.Now()
	main, err := c.prepare(r)
	if err != nil {
		return err
	}
	var lookup *prepared
	if r.lookup != nil {
		if lookup, err = c.prepare(r.lookup); err != nil {
			return err
		}
	}
	policy := policyOf(r)
	rs := c.newRetrier(ctx, start)
	refreshed := false // the one re-send after a 401 is used
	cur := main
	var createErr error // the last failure of main whose outcome is unknown
	for {
		sent, err := c.send(ctx, cur, out, &refreshed)
		rs.tries++
		if err == nil {
			return nil
		}
		next := main
		switch {
		case cur == lookup && errors.Is(err, ErrNotFound):
			// Not created: send the create again, at once.
			if !rs.canTry() {
				return createErr
			}
			cur = main
			continue
		case cur == lookup:
			err = lookupError(main.route, createErr, err)
			if !transient(err) {
				return err
			}
			next = lookup
		case !transient(err):
			if cur == main && createErr != nil && isAPIError(err) {
				// VCC refused the create, but an earlier try of it may
				// have been processed after all.
				return &maybeCreatedError{route: main.route, earlier: createErr, err: err}
			}
			return err
		case !sent || hasStatus(err, http.StatusTooManyRequests):
			// Not processed (no token, or refused by the rate limit): the
			// same request may go again.
		case policy == retryIdempotent:
		case policy == retryCreate:
			createErr, next = err, lookup
		default:
			return err
		}
		if err := rs.pause(ctx, cur.method, cur.route, err); err != nil {
			return err
		}
		cur = next
	}
}

// send makes one try of p with the rate limit and a token: it sends p
// again once with a fresh token on the call's first 401, maps a non-2xx
// reply to *Error and decodes a 2xx reply into out (when out is non-nil).
// sent is false when the request was not handed to VCC (no token), or only
// refused with a 401.
func (c *Client) send(ctx context.Context, p *prepared, out any, refreshed *bool) (sent bool, err error) {
	for {
		if err := c.wait(ctx, p.method, p.route); err != nil {
			return false, err
		}
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return false, err
		}
		h := http.Header{}
		h.Set("Accept", MediaType)
		h.Set("Authorization", "Bearer "+tok)
		if p.body != nil {
			h.Set("Content-Type", "application/json")
		}
		if c.externalID != "" {
			h.Set("x-external-id", c.externalID)
		}
		rep, err := c.roundTrip(ctx, p.method, p.route, p.target, h, p.body)
		if err != nil {
			return true, err
		}
		if c.limiter != nil {
			c.limiter.Observe(rep.status == http.StatusTooManyRequests)
		}
		if rep.status == http.StatusUnauthorized && !*refreshed {
			*refreshed = true
			c.tokens.invalidate(tok)
			continue
		}
		if rep.status < 200 || rep.status > 299 {
			return true, c.replyError(p.method, p.route, rep)
		}
		if out == nil {
			return true, nil
		}
		if len(bytes.TrimSpace(rep.body)) == 0 {
			if p.emptyOK {
				return true, nil
			}
			return true, fmt.Errorf("vcc: %s %s: %d with an empty reply", p.method, p.route, rep.status)
		}
		if err := json.Unmarshal(rep.body, out); err != nil {
			return true, fmt.Errorf("vcc: %s %s: decode reply: %w", p.method, p.route, err)
		}
		return true, nil
	}
}

// Limiter paces the requests of a Client (Config.Limiter). It must be safe
// for concurrent use: one Client calls it from every goroutine that uses it.
type Limiter interface {
	Wait(ctx context.Context) error // before each request to the API (not the token endpoint)
	Observe(throttled bool)         // after each API reply: true when VCC answered 429
}

// fixedLimiter is the default Limiter: a token bucket of RatePerMinute with
// RateBurst, deaf to VCC's answers.
type fixedLimiter struct{ *rate.Limiter }

// Wait waits for a token; a wait that would outlast ctx's deadline fails at
// once with context.DeadlineExceeded.
func (l fixedLimiter) Wait(ctx context.Context) error {
	if err := l.Limiter.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return context.DeadlineExceeded
	}
	return nil
}

func (fixedLimiter) Observe(bool) {}

var _ Limiter = fixedLimiter{}

// wait takes a token from the rate limiter.
func (c *Client) wait(ctx context.Context, method, route string) error {
	if c.limiter == nil {
		return nil
	}
	if err := c.limiter.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("vcc: %s %s: rate limit: %w", method, route, err)
	}
	return nil
}

// roundTrip sends one HTTP request within the per-request timeout, reads
// the whole reply and tells the observer. Failures to get a complete reply
// are *TransportError, or the context's error when ctx is done.
func (c *Client) roundTrip(ctx context.Context, method, route, target string, h http.Header, body []byte) (*reply, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("vcc: %s %s: build request: %w", method, route, stripURL(err))
	}
	req.Header = h
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(method, route, 0, time.Since(start))
		return nil, c.transportError(ctx, rctx, method, route, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		c.observe(method, route, 0, time.Since(start))
		return nil, c.transportError(ctx, rctx, method, route, fmt.Errorf("read reply: %w", err))
	}
	c.observe(method, route, resp.StatusCode, time.Since(start))
	if len(b) > maxReplyBytes {
		return nil, fmt.Errorf("vcc: %s %s: reply larger than %d bytes", method, route, maxReplyBytes)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (c *Client) observe(method, route string, status int, d time.Duration) {
	if c.obs != nil {
		c.obs.ObserveRequest(method, route, status, d)
	}
}

// transportError classifies a failed round trip: the caller's own
// cancellation or deadline passes through; anything else (including the
// per-request timeout) is a *TransportError.
func (c *Client) transportError(ctx, rctx context.Context, method, route string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("vcc: %s %s: %w", method, route, ctxErr)
	}
	err = stripURL(err)
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no complete reply within %s: %w", c.timeout, err)
	}
	return &TransportError{Method: method, Route: route, Err: err}
}

// stripURL drops the URL from a *url.Error: the route already names the
// request, and the path may carry a username.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// replyError maps a non-2xx reply to *Error.
func (c *Client) replyError(method, route string, rep *reply) *Error {
	return &Error{
		Method:  method,
		Route:   route,
		Status:  rep.status,
		Message: c.redact(errorMessage(rep)),
		Retry:   parseRetryAfter(rep.header.Get("Retry-After"), time.Now()),
	}
}

// redact removes the client secret and the current token from s.
func (c *Client) redact(s string) string {
	for _, secret := range []string{c.secret, c.tokens.current()} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
