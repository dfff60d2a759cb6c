package vcc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// defaultTokenLifetime is assumed when the token reply has no expires_in:
// VCC's tokens live two hours.
const defaultTokenLifetime = 2 * time.Hour

// maxRefreshMargin is how long before expiry a token is refreshed at most;
// short-lived tokens are refreshed when 10% of their life is left.
const maxRefreshMargin = 60 * time.Second

// tokenSource fetches client-credentials tokens, caches them until shortly
// before expiry, and lets concurrent callers share one fetch.
type tokenSource struct {
	c        *Client
	url      string
	clientID string
	scope    string
	now      func() time.Time

	mu   sync.Mutex
	cur  *token
	call *tokenCall // the fetch in flight, nil if none
}

type token struct {
	value     string
	refreshAt time.Time // fetch a new one from here on
	expiresAt time.Time // unusable from here on
}

type tokenCall struct {
	done chan struct{}
	tok  *token
	err  error
}

// get returns a usable access token, fetching one when none is cached or
// the cached one is due for refresh.
func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	if t := s.cur; t != nil && s.now().Before(t.refreshAt) {
		s.mu.Unlock()
		return t.value, nil
	}
	call := s.call
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		s.call = call
		// The fetch is shared: one caller giving up must not fail the others.
		go s.fetch(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return "", fmt.Errorf("vcc: POST %s: %w", RouteToken, ctx.Err())
	}
	if call.err == nil {
		return call.tok.value, nil
	}
	// The refresh failed; a token that has not expired yet still serves.
	s.mu.Lock()
	t := s.cur
	s.mu.Unlock()
	if t != nil && s.now().Before(t.expiresAt) {
		return t.value, nil
	}
	return "", call.err
}

// invalidate drops the cached token if it is still tok (VCC refused it).
func (s *tokenSource) invalidate(tok string) {
	s.mu.Lock()
	if s.cur != nil && s.cur.value == tok {
		s.cur = nil
	}
	s.mu.Unlock()
}

// current returns the cached token, "" if none.
func (s *tokenSource) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return ""
	}
	return s.cur.value
}

func (s *tokenSource) fetch(ctx context.Context, call *tokenCall) {
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

// tokenReply is the token endpoint's answer. expires_in is accepted as a
// number or a string.
type tokenReply struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

func (s *tokenSource) request(ctx context.Context) (*token, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.clientID},
		"client_secret": {s.c.secret},
		"scope":         {s.scope},
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
		return nil, s.c.replyError(http.MethodPost, RouteToken, rep)
	}
	var tr tokenReply
	if err := json.Unmarshal(rep.body, &tr); err != nil {
		return nil, fmt.Errorf("vcc: POST %s: decode token reply: %w", RouteToken, err)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("vcc: POST %s: no access_token in the reply", RouteToken)
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("vcc: POST %s: token_type %q: only bearer tokens are supported", RouteToken, tr.TokenType)
	}
	life, err := parseExpiresIn(tr.ExpiresIn)
	if err != nil {
		return nil, fmt.Errorf("vcc: POST %s: expires_in: %w", RouteToken, err)
	}
	margin := min(maxRefreshMargin, life/10)
	return &token{
		value:     tr.AccessToken,
		refreshAt: start.Add(life - margin),
		expiresAt: start.Add(life),
	}, nil
}

func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	s := string(bytes.Trim(bytes.TrimSpace(raw), `"`))
	if s == "" || s == "null" {
		return defaultTokenLifetime, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n > 366*24*3600 {
		return 0, fmt.Errorf("%s: not a positive number of seconds", raw)
	}
	return time.Duration(n * float64(time.Second)), nil
}
