package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults applied by NewClient to a zero Config field.
const (
	DefaultAPIVersion = "v61.0"
	DefaultTimeout    = 30 * time.Second
	// DefaultTokenURL is used for the JWT bearer flow when neither TokenURL
	// nor BaseURL is set.
	DefaultTokenURL = "https://login.salesforce.com/services/oauth2/token"
	// DefaultJWTAudience is the aud of a JWT bearer assertion for a
	// production org.
	DefaultJWTAudience = "https://login.salesforce.com"
)

// Batch limits.
const (
	// MaxQueryIDs is the most user IDs QueryUsers puts in one SOQL IN list.
	MaxQueryIDs = 200
	// MaxAddMembers is the most users one contact-center add request
	// carries: the records of one sObject Collections update.
	MaxAddMembers = 200
)

// Route templates, as passed to a RequestObserver and set in Error.Route and
// TransportError.Route. They never carry IDs or the API version.
const (
	RouteToken      = "/services/oauth2/token"
	RouteUser       = "/services/data/{version}/sobjects/User/{userId}"
	RouteDescribe   = "/services/data/{version}/sobjects/User/describe"
	RouteQuery      = "/services/data/{version}/query"
	RouteQueryMore  = "/services/data/{version}/query/{locator}"
	RouteComposite  = "/services/data/{version}/composite/sobjects"
	RouteCallCenter = "/services/data/{version}/sobjects/CallCenter/{ccId}"
)

// restMaxReplyBytes bounds how much of a reply is read (a 2000-record
// query page is well under it).
const restMaxReplyBytes = 64 << 20

// RequestObserver is told about every HTTP request the client makes, token
// requests included (route RouteToken). route is the template (e.g.
// RouteUser), status is 0 when no complete reply arrived, d is the time from
// sending the request to reading the whole reply. It is called synchronously
// and must be safe for concurrent use.
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

// Config configures a Client. ClientID is required, and either ClientSecret
// (OAuth 2.0 client credentials) or PrivateKeyPEM with Username (OAuth 2.0
// JWT bearer). Every other zero field takes its default.
type Config struct {
	// BaseURL is the org's instance URL, e.g. https://acme.my.salesforce.com.
	// When empty, the instance_url of the token reply is used.
	BaseURL string
	// TokenURL is the OAuth token endpoint. Default: BaseURL +
	// /services/oauth2/token when BaseURL is set (client credentials are
	// served only on the org's My Domain), else DefaultTokenURL (JWT bearer
	// only). It does not set the JWT assertion's audience (JWTAudience).
	TokenURL string
	// JWTAudience is the aud claim of the JWT bearer assertion:
	// DefaultJWTAudience (https://login.salesforce.com) for a production
	// org, https://test.salesforce.com for a sandbox org, or an Experience
	// Cloud site URL. Never the org's My Domain, even when TokenURL is on
	// it: Salesforce refuses that (invalid_grant: audience is invalid).
	JWTAudience string
	// ClientID is the connected app's consumer key.
	ClientID string
	// ClientSecret is the connected app's consumer secret (client
	// credentials). Leave empty with PrivateKeyPEM.
	ClientSecret string
	// Username is the user the JWT bearer flow acts as (the sub claim).
	Username string
	// PrivateKeyPEM, when set, selects the JWT bearer flow: an unencrypted
	// RSA private key (PKCS #1 "RSA PRIVATE KEY" or PKCS #8 "PRIVATE KEY"),
	// at least 2048 bits, whose certificate is uploaded to the connected app.
	PrivateKeyPEM []byte
	// APIVersion is the REST API version, e.g. "v61.0" ("61.0" is accepted);
	// default DefaultAPIVersion.
	APIVersion string
	// HTTPClient sends the requests; default a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request, reply body included; default 30s.
	Timeout time.Duration
	// Observer, if set, is told about every request (for metrics).
	Observer RequestObserver
	// CallClient names vccsync in the Sforce-Call-Options header of every
	// call, so Change Data Capture reports vccsync's own changes with
	// changeOrigin "…;client=<CallClient>" and they can be ignored.
	// Default DefaultCallClient.
	CallClient string
	// HiddenFields, when set, is told the optional User fields a query
	// left out because the API user cannot read them (see
	// LimitUserFields), the first time that happens.
	HiddenFields func(fields []string)
}

// Client is a client of the Salesforce REST API for users, aliases and
// contact-center membership. It is safe for concurrent use; share one per
// org so the session is shared too.
type Client struct {
	base    string // BaseURL without a trailing slash; "" → the token's instance URL
	version string
	hc      *http.Client
	timeout time.Duration
	obs     RequestObserver
	auth    *authSource
	now     func() time.Time
	// callClient goes in Sforce-Call-Options (see Config.CallClient).
	callClient   string
	hiddenFields func([]string)
	// fields are the User fields queries select: restUserFields without
	// the optional ones the API user cannot read (LimitUserFields).
	fields atomic.Pointer[[]string]
}

// DefaultCallClient is the client name vccsync's calls carry in
// Sforce-Call-Options, and so in CDC's changeOrigin.
const DefaultCallClient = "vccsync"

var _ ContactCenters = (*Client)(nil)

var restVersionPattern = regexp.MustCompile(`^v[0-9]{2,3}\.[0-9]$`)

// NewClient validates cfg, applies the defaults and returns a Client. It
// makes no request: the first token is fetched by the first call. Every
// problem of cfg is reported, each naming its field.
func NewClient(cfg Config) (*Client, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("salesforce: config: "+format, args...))
	}
	base := ""
	hasBase := strings.TrimSpace(cfg.BaseURL) != ""
	if hasBase {
		b, err := restCheckURL("BaseURL", cfg.BaseURL)
		if err != nil {
			errs = append(errs, err)
		}
		base = strings.TrimRight(b, "/")
	}
	jwt := len(cfg.PrivateKeyPEM) > 0
	tokenURL := strings.TrimSpace(cfg.TokenURL)
	switch {
	case tokenURL != "":
		if _, err := restCheckURL("TokenURL", tokenURL); err != nil {
			errs = append(errs, err)
		}
	case hasBase:
		tokenURL = base + RouteToken
	case jwt:
		tokenURL = DefaultTokenURL
	default:
		bad("TokenURL or BaseURL is required for client credentials (Salesforce serves that flow on the org's My Domain)")
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		bad("ClientID is required")
	}
	audience := strings.TrimRight(strings.TrimSpace(cfg.JWTAudience), "/")
	if audience == "" {
		audience = DefaultJWTAudience
	} else if u, err := url.Parse(audience); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("JWTAudience %q: want https://login.salesforce.com, https://test.salesforce.com (a sandbox org) or an Experience Cloud site URL", cfg.JWTAudience)
	} else if h := strings.ToLower(u.Hostname()); strings.HasSuffix(h, ".my.salesforce.com") || strings.HasSuffix(h, ".sandbox.my.salesforce.com") {
		bad("JWTAudience %q is a My Domain: Salesforce refuses it (invalid_grant: audience is invalid); use https://login.salesforce.com, or https://test.salesforce.com for a sandbox org", cfg.JWTAudience)
	}
	var key *authKey
	if jwt {
		k, err := authParseKey(cfg.PrivateKeyPEM)
		if err != nil {
			bad("PrivateKeyPEM: %v", err)
		}
		key = k
		if strings.TrimSpace(cfg.Username) == "" {
			bad("Username is required with PrivateKeyPEM (the user the JWT bearer flow acts as)")
		}
		if cfg.ClientSecret != "" {
			bad("ClientSecret and PrivateKeyPEM are both set: set ClientSecret for client credentials or PrivateKeyPEM for JWT bearer, not both")
		}
	} else if cfg.ClientSecret == "" {
		bad("ClientSecret is required (or PrivateKeyPEM and Username for the JWT bearer flow)")
	}
	version := strings.TrimSpace(cfg.APIVersion)
	if version == "" {
		version = DefaultAPIVersion
	} else if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	if !restVersionPattern.MatchString(version) {
		bad("APIVersion %q: want the form v61.0", cfg.APIVersion)
	}
	if cfg.Timeout < 0 {
		bad("Timeout %s: must not be negative", cfg.Timeout)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	c := &Client{
		base:    base,
		version: version,
		hc:      cfg.HTTPClient,
		timeout: cfg.Timeout,
		obs:     cfg.Observer,
		now:     time.Now,

		callClient:   cfg.CallClient,
		hiddenFields: cfg.HiddenFields,
	}
	if c.callClient == "" {
		c.callClient = DefaultCallClient
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	c.auth = &authSource{
		c:        c,
		url:      tokenURL,
		clientID: cfg.ClientID,
		secret:   cfg.ClientSecret,
		username: cfg.Username,
		key:      key,
		audience: audience,
		now:      time.Now,
	}
	return c, nil
}

func restCheckURL(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("salesforce: config: %s %q: not a URL", field, raw)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("salesforce: config: %s %q: scheme must be https or http", field, raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("salesforce: config: %s %q: no host", field, raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("salesforce: config: %s: must not carry credentials", field)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("salesforce: config: %s %q: must not have a query or fragment", field, raw)
	}
	return raw, nil
}

// restRequest is one data REST call.
type restRequest struct {
	method string
	route  string
	path   string // escaped, under the instance URL; may carry its own query
	query  url.Values
	body   any // encoded as JSON; nil for none
}

// restReply is a complete HTTP reply.
type restReply struct {
	status int
	header http.Header
	body   []byte
}

// dataPath is the escaped path of a data API resource under the version.
func (c *Client) dataPath(elem ...string) string {
	p := "/services/data/" + c.version
	for _, e := range elem {
		p += "/" + url.PathEscape(e)
	}
	return p
}

// do sends r with the cached session, fetches a new one and retries once
// on a 401, maps non-2xx replies to *Error and decodes a 2xx reply into out
// (when out is non-nil).
func (c *Client) do(ctx context.Context, r *restRequest, out any) error {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("salesforce: %s %s: encode body: %w", r.method, r.route, err)
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.auth.get(ctx)
		if err != nil {
			return err
		}
		base := c.base
		if base == "" {
			base = tok.instanceURL
		}
		target := base + r.path
		if len(r.query) > 0 {
			sep := "?"
			if strings.Contains(r.path, "?") {
				sep = "&"
			}
			target += sep + r.query.Encode()
		}
		h := http.Header{}
		h.Set("Accept", "application/json")
		h.Set("Authorization", "Bearer "+tok.value)
		h.Set("Sforce-Call-Options", "client="+c.callClient)
		if body != nil {
			h.Set("Content-Type", "application/json")
		}
		rep, err := c.roundTrip(ctx, r.method, r.route, target, h, body)
		if err != nil {
			return err
		}
		if rep.status == http.StatusUnauthorized && attempt == 0 {
			c.auth.invalidate(tok)
			continue
		}
		if rep.status < 200 || rep.status > 299 {
			return c.replyError(r.method, r.route, rep)
		}
		if out == nil {
			return nil
		}
		if len(bytes.TrimSpace(rep.body)) == 0 {
			return fmt.Errorf("salesforce: %s %s: %d with an empty reply", r.method, r.route, rep.status)
		}
		if err := json.Unmarshal(rep.body, out); err != nil {
			return fmt.Errorf("salesforce: %s %s: decode reply: %w", r.method, r.route, err)
		}
		return nil
	}
}

// roundTrip sends one HTTP request within the per-request timeout, reads
// the whole reply and tells the observer. Failures to get a complete reply
// are *TransportError, or the context's error when ctx is done.
func (c *Client) roundTrip(ctx context.Context, method, route, target string, h http.Header, body []byte) (*restReply, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("salesforce: %s %s: build request: %w", method, route, restStripURL(err))
	}
	req.Header = h
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(method, route, 0, time.Since(start))
		return nil, c.transportError(ctx, rctx, method, route, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, restMaxReplyBytes+1))
	if err != nil {
		c.observe(method, route, 0, time.Since(start))
		return nil, c.transportError(ctx, rctx, method, route, fmt.Errorf("read reply: %w", err))
	}
	c.observe(method, route, resp.StatusCode, time.Since(start))
	if len(b) > restMaxReplyBytes {
		return nil, fmt.Errorf("salesforce: %s %s: reply larger than %d bytes", method, route, restMaxReplyBytes)
	}
	return &restReply{status: resp.StatusCode, header: resp.Header, body: b}, nil
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
		return fmt.Errorf("salesforce: %s %s: %w", method, route, ctxErr)
	}
	err = restStripURL(err)
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no complete reply within %s: %w", c.timeout, err)
	}
	return &TransportError{Method: method, Route: route, Err: err}
}

// restStripURL drops the URL from a *url.Error: the route already names the
// request, and the URL may carry IDs or a query.
func restStripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// replyError maps a non-2xx reply to *Error, with secrets removed from the
// message.
func (c *Client) replyError(method, route string, rep *restReply) *Error {
	e := restReplyError(method, route, rep, c.now())
	e.Message = c.auth.redact(e.Message)
	return e
}
