package salesforce

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Grant types of the token endpoint.
const (
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// authAssertionLifetime is the exp of a JWT bearer assertion: Salesforce
// accepts at most three minutes.
const authAssertionLifetime = 3 * time.Minute

// authMinKeyBits is the smallest RSA key accepted for the JWT bearer flow.
const authMinKeyBits = 2048

// authMaxRefreshMargin is how long before an announced expiry a token is
// refreshed at most. Salesforce's replies usually announce none: the
// session then serves until a call answers 401.
const authMaxRefreshMargin = 60 * time.Second

// authKey is the private key of the JWT bearer flow.
type authKey struct{ rsa *rsa.PrivateKey }

// authSource fetches tokens (client credentials or JWT bearer), caches each
// with its instance URL, and lets concurrent callers share one fetch.
type authSource struct {
	c        *Client
	url      string
	clientID string
	secret   string
	username string
	key      *authKey // nil: client credentials
	audience string
	now      func() time.Time

	mu   sync.Mutex
	cur  *authToken
	call *authCall // the fetch in flight, nil if none
}

type authToken struct {
	value       string
	instanceURL string    // without a trailing slash
	orgID       string    // from the identity URL; "" when it has none
	refreshAt   time.Time // zero: until refused
	expiresAt   time.Time // zero: until refused
}

type authCall struct {
	done chan struct{}
	tok  *authToken
	err  error
}

// get returns a usable session, fetching one when none is cached or the
// cached one is due for refresh.
func (s *authSource) get(ctx context.Context) (*authToken, error) {
	s.mu.Lock()
	if t := s.cur; t != nil && (t.refreshAt.IsZero() || s.now().Before(t.refreshAt)) {
		s.mu.Unlock()
		return t, nil
	}
	call := s.call
	if call == nil {
		call = &authCall{done: make(chan struct{})}
		s.call = call
		// The fetch is shared: one caller giving up must not fail the others.
		go s.fetch(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("salesforce: POST %s: %w", RouteToken, ctx.Err())
	}
	if call.err == nil {
		return call.tok, nil
	}
	// The refresh failed; a token that has not expired yet still serves.
	s.mu.Lock()
	t := s.cur
	s.mu.Unlock()
	if t != nil && !t.expiresAt.IsZero() && s.now().Before(t.expiresAt) {
		return t, nil
	}
	return nil, call.err
}

// invalidate drops the cached token if it is still tok (Salesforce refused it).
func (s *authSource) invalidate(tok *authToken) {
	s.mu.Lock()
	if s.cur == tok {
		s.cur = nil
	}
	s.mu.Unlock()
}

// redact removes the client secret and the current token from msg.
func (s *authSource) redact(msg string) string {
	s.mu.Lock()
	cur := ""
	if s.cur != nil {
		cur = s.cur.value
	}
	s.mu.Unlock()
	for _, secret := range []string{s.secret, cur} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

func (s *authSource) fetch(ctx context.Context, call *authCall) {
	tok, err := s.request(ctx)
	s.mu.Lock()
	if err == nil {
		s.cur = tok
	}
	s.call = nil
	call.tok, call.err = tok, err
	s.mu.Unlock()
	close(call.done)
}

// authReply is the token endpoint's answer. Salesforce sends issued_at (ms,
// as a string) and no expires_in; expires_in is honoured when present.
type authReply struct {
	AccessToken string          `json:"access_token"`
	InstanceURL string          `json:"instance_url"`
	ID          string          `json:"id"` // https://login.salesforce.com/id/<org ID>/<user ID>
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

func (s *authSource) form() (url.Values, error) {
	if s.key == nil {
		return url.Values{
			"grant_type":    {GrantClientCredentials},
			"client_id":     {s.clientID},
			"client_secret": {s.secret},
		}, nil
	}
	a, err := authAssertion(s.key, s.clientID, s.username, s.audience, s.now())
	if err != nil {
		return nil, err
	}
	return url.Values{"grant_type": {GrantJWTBearer}, "assertion": {a}}, nil
}

func (s *authSource) request(ctx context.Context) (*authToken, error) {
	form, err := s.form()
	if err != nil {
		return nil, fmt.Errorf("salesforce: POST %s: %w", RouteToken, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	start := s.now()
	rep, err := s.c.roundTrip(ctx, http.MethodPost, RouteToken, s.url, h, []byte(form.Encode()))
	if err != nil {
		return nil, err
	}
	if rep.status < 200 || rep.status > 299 {
		e := restReplyError(http.MethodPost, RouteToken, rep, s.now())
		e.Message = s.redact(e.Message)
		return nil, e
	}
	var ar authReply
	if err := json.Unmarshal(rep.body, &ar); err != nil {
		return nil, fmt.Errorf("salesforce: POST %s: decode token reply: %w", RouteToken, err)
	}
	if ar.AccessToken == "" {
		return nil, fmt.Errorf("salesforce: POST %s: no access_token in the reply", RouteToken)
	}
	if ar.TokenType != "" && !strings.EqualFold(ar.TokenType, "bearer") {
		return nil, fmt.Errorf("salesforce: POST %s: token_type %q: only bearer tokens are supported", RouteToken, ar.TokenType)
	}
	tok := &authToken{value: ar.AccessToken, orgID: authOrgID(ar.ID)}
	if ar.InstanceURL != "" {
		u, err := url.Parse(ar.InstanceURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("salesforce: POST %s: instance_url %q: not an http(s) URL", RouteToken, ar.InstanceURL)
		}
		tok.instanceURL = strings.TrimRight(ar.InstanceURL, "/")
	} else if s.c.base == "" {
		return nil, fmt.Errorf("salesforce: POST %s: no instance_url in the reply and no BaseURL configured", RouteToken)
	}
	life, err := authParseExpiresIn(ar.ExpiresIn)
	if err != nil {
		return nil, fmt.Errorf("salesforce: POST %s: expires_in: %w", RouteToken, err)
	}
	if life > 0 {
		margin := min(authMaxRefreshMargin, life/10)
		tok.refreshAt = start.Add(life - margin)
		tok.expiresAt = start.Add(life)
	}
	return tok, nil
}

// authParseExpiresIn reads an optional expires_in (seconds, number or
// string); 0 when absent.
func authParseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	v := string(bytes.Trim(bytes.TrimSpace(raw), `"`))
	if v == "" || v == "null" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 || n > 366*24*3600 {
		return 0, fmt.Errorf("%s: not a positive number of seconds", raw)
	}
	return time.Duration(n * float64(time.Second)), nil
}

// authJWTHeader is the JOSE header of every assertion.
const authJWTHeader = `{"alg":"RS256","typ":"JWT"}`

// authClaims are the claims Salesforce's JWT bearer flow requires.
type authClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
}

// authAssertion builds and signs (RS256) a JWT bearer assertion.
func authAssertion(key *authKey, clientID, username, audience string, now time.Time) (string, error) {
	claims, err := json.Marshal(authClaims{
		Iss: clientID,
		Sub: username,
		Aud: audience,
		Exp: now.Add(authAssertionLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("encode JWT claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(authJWTHeader)) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.rsa, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// authParseKey reads an unencrypted RSA private key in PEM (PKCS #1 or
// PKCS #8).
func authParseKey(pemBytes []byte) (*authKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("encrypted keys are not supported: decrypt the key first")
	}
	var k *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		p, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA PRIVATE KEY: %w", err)
		}
		k = p
	case "PRIVATE KEY":
		p, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PRIVATE KEY: %w", err)
		}
		rk, ok := p.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PRIVATE KEY holds a %T, want an RSA key (RS256)", p)
		}
		k = rk
	default:
		return nil, fmt.Errorf("PEM block %q: want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\"", block.Type)
	}
	if bits := k.N.BitLen(); bits < authMinKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits: at least %d are required", bits, authMinKeyBits)
	}
	return &authKey{rsa: k}, nil
}

// authOrgID is the org ID of an identity URL
// (https://login.salesforce.com/id/00D…/005…), "" when it has none.
func authOrgID(identity string) string {
	u, err := url.Parse(identity)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) == 3 && parts[0] == "id" && strings.HasPrefix(parts[1], "00D") {
		return parts[1]
	}
	return ""
}

// Session is what another Salesforce API (the Pub/Sub API) authenticates
// with: the client's access token, the org's instance URL and the org ID.
type Session struct {
	AccessToken string
	InstanceURL string
	OrgID       string
}

// Session returns the client's current session, fetching a token when
// none is cached; refresh drops the cached one first (the other API
// refused it). The org ID comes from the token reply's identity URL; an
// org that sends none is an error.
func (c *Client) Session(ctx context.Context, refresh bool) (Session, error) {
	if refresh {
		c.auth.mu.Lock()
		c.auth.cur = nil
		c.auth.mu.Unlock()
	}
	tok, err := c.auth.get(ctx)
	if err != nil {
		return Session{}, err
	}
	s := Session{AccessToken: tok.value, InstanceURL: tok.instanceURL, OrgID: tok.orgID}
	if s.InstanceURL == "" {
		s.InstanceURL = c.base
	}
	if s.OrgID == "" {
		return Session{}, fmt.Errorf("salesforce: POST %s: the token reply has no identity URL (id) to read the org ID from", RouteToken)
	}
	return s, nil
}
