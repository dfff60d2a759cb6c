package worker

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// classify says whether err is worth retrying and what delay the target
// asked for. Errors that say Temporary() false are permanent; everything
// else (Temporary() true, timeouts, network errors, cancellations and
// errors nobody classified) is retried, and dead-lettered as exhausted
// after MaxAttempts.
func classify(err error) (transient bool, retryAfter time.Duration) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		retryAfter = ra.RetryAfter()
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		return t.Temporary(), retryAfter
	}
	return true, retryAfter
}

// retryReason is the metrics label for a retried error.
func retryReason(err error) string {
	var sc interface{ StatusCode() int }
	var ne net.Error
	switch {
	case errors.As(err, new(*quarantinedError)):
		return "quarantine"
	case errors.As(err, &sc) && sc.StatusCode() == 429:
		return "429"
	case errors.As(err, &sc) && sc.StatusCode() >= 500:
		return "5xx"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, new(*heldError)):
		return "order"
	case errors.Is(err, context.Canceled):
		return "shutdown"
	case errors.As(err, &ne), strings.Contains(err.Error(), "connection refused"):
		return "network"
	}
	return "other"
}

// retryDelay is the backoff after the n-th failure (n from 1): exponential,
// with jitter, capped at RetryMax.
func (w *Worker[S]) retryDelay(n int) time.Duration {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.cfg.RetryInitial),
		backoff.WithMaxInterval(w.cfg.RetryMax),
		backoff.WithMaxElapsedTime(0),
	)
	d := b.NextBackOff()
	for i := 1; i < n; i++ {
		d = b.NextBackOff()
	}
	return d
}
