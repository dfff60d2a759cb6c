package vcc

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNotFound is matched (errors.Is) by an *Error with status 404.
var ErrNotFound = errors.New("vcc: not found")

// Error is a non-2xx reply of the VCC API (or a token endpoint failure).
// It classifies itself: Temporary for 408, 429 and 5xx; permanent otherwise.
type Error struct {
	Method string
	Route  string // the route template, e.g. /users/{userId}
	Status int
	// Message is VCC's own message ("message" of the error body, or the
	// OAuth "error"/"error_description").
	Message string
	// Retry is the Retry-After the server sent, 0 if none.
	Retry time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("vcc: %s %s: %d %s: %s", e.Method, e.Route, e.Status, http.StatusText(e.Status), e.Message)
}

// Temporary reports whether retrying later may succeed.
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// RetryAfter is the delay the server asked for, 0 if none.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

// Is makes errors.Is(err, ErrNotFound) true for 404s.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// TransportError is a failure to reach VCC (connection, timeout). Always temporary.
type TransportError struct {
	Method string
	Route  string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("vcc: %s %s: %v", e.Method, e.Route, e.Err)
}

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// Temporary is always true: the network may come back.
func (e *TransportError) Temporary() bool { return true }
