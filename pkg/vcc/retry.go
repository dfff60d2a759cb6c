package vcc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of the retry policy, applied by New to a zero Config field.
const (
	DefaultRetryInitial = 200 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	DefaultMaxTries     = 6
	DefaultRetryBudget  = 30 * time.Second
)

// The backoff between tries grows by retryMultiplier from one wait to the
// next, and each wait is drawn at random within ±retryJitter of it (then
// capped at RetryMax).
const (
	retryMultiplier = 2
	retryJitter     = 0.5
)

type noRetriesKey struct{}

// WithoutRetries returns a context under which every call of a Client is
// tried once, whatever Config.MaxTries says, so that the caller sees VCC's
// first answer (a health probe, for one). As with MaxTries 1, a 401 is
// still sent once more with a fresh token.
func WithoutRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetriesKey{}, true)
}

func retriesOff(ctx context.Context) bool {
	off, _ := ctx.Value(noRetriesKey{}).(bool)
	return off
}

// retryPolicy says which failures of a request may be followed by another
// try. Whatever the policy, a failure to get a token is retried when it is
// temporary (the request itself was not sent), and a permanent failure
// never is.
type retryPolicy int

const (
	// retryIdempotent retries every transient failure: GET, PUT (the
	// replace-all lists), PATCH (setting fields), DELETE and the POSTs that
	// set a state (UnlockUser).
	retryIdempotent retryPolicy = iota
	// retryRateLimited retries only a 429, which VCC sends for a request
	// it did not process: a POST that is not idempotent (ResetPassword
	// sends an email).
	retryRateLimited
	// retryCreate re-sends after a 429 too; after any other transient
	// failure, which may hide a processed request, it sends the request's
	// lookup first and sends the request again only when the lookup answers
	// 404 (CreateUser).
	retryCreate
)

func policyOf(r *request) retryPolicy {
	if r.lookup != nil {
		return retryCreate
	}
	if r.idempotent {
		return retryIdempotent
	}
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return retryIdempotent
	}
	return retryRateLimited
}

// transient reports whether err is a failure that a later try may get
// past: an *Error with Temporary() true (408, 429, 5xx, of the API or of
// the token endpoint) or a *TransportError. The caller's cancellation is
// not.
func transient(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary()
	}
	var te *TransportError
	return errors.As(err, &te)
}

// isAPIError reports whether err is a reply of VCC's (an *Error).
func isAPIError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func hasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func retryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.Retry
	}
	return 0
}

// retrier keeps the tries and the budget of one call.
type retrier struct {
	maxTries int
	maxDelay time.Duration
	deadline time.Time // the budget's end, or the caller's deadline if sooner
	tries    int       // requests sent or attempted, the 401 re-send excepted
	b        *backoff.ExponentialBackOff
}

func (c *Client) newRetrier(ctx context.Context, start time.Time) *retrier {
	rs := &retrier{maxTries: c.maxTries, maxDelay: c.retryMax, deadline: start.Add(c.retryBudget)}
	if retriesOff(ctx) {
		rs.maxTries = 1
	}
	if d, ok := ctx.Deadline(); ok && d.Before(rs.deadline) {
		rs.deadline = d
	}
	if rs.maxTries > 1 {
		rs.b = backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(c.retryInitial),
			backoff.WithMaxInterval(c.retryMax),
			backoff.WithMultiplier(retryMultiplier),
			backoff.WithRandomizationFactor(retryJitter),
			backoff.WithMaxElapsedTime(0), // the budget is kept here, Retry-After included
		)
	}
	return rs
}

// canTry reports whether one more try may start now, with no wait.
func (rs *retrier) canTry() bool {
	return rs.tries < rs.maxTries && time.Now().Before(rs.deadline)
}

// pause waits before the try that follows the failure last: the next
// backoff delay, or the server's Retry-After when longer. It returns nil
// when the next try may go, and otherwise the error the call ends with:
// last itself when the tries are used up or the wait would end past the
// budget (or the caller's deadline), so that its RetryAfter stays
// visible; an error wrapping the context's error when the caller cancels
// during the wait.
func (rs *retrier) pause(ctx context.Context, method, route string, last error) error {
	if rs.tries >= rs.maxTries || rs.b == nil {
		return last
	}
	d := min(rs.b.NextBackOff(), rs.maxDelay)
	d = max(d, retryAfterOf(last))
	if !time.Now().Add(d).Before(rs.deadline) {
		return last
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("vcc: %s %s: cancelled while waiting %s to try again after: %v: %w",
			method, route, d.Round(time.Millisecond), last, ctx.Err())
	}
}

// lookupError is the end of a create whose outcome is unknown: its POST
// failed transiently and the lookup by username failed too. It unwraps to
// the lookup's error, which classifies it.
func lookupError(route string, createErr, err error) error {
	return fmt.Errorf("vcc: POST %s: the user may have been created (%v), and looking it up failed: %w", route, createErr, err)
}
