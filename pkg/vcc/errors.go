package vcc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is matched (errors.Is) by an *Error with status 404.
var ErrNotFound = errors.New("vcc: not found")

// ErrMultipleAccounts is matched (errors.Is) by the error of an archive
// that VCC refused because the user belongs to several VCC accounts, when
// Config.AcceptArchiveInMultipleAccounts is false. The error also holds
// VCC's *Error (errors.As) and is permanent: setting
// AcceptArchiveInMultipleAccounts archives such a user in all its accounts.
var ErrMultipleAccounts = errors.New("vcc: user belongs to several VCC accounts")

// ErrMaybeCreated is matched (errors.Is) by the error of a CreateUser that
// VCC refused (a duplicate username, say) after an earlier try of the
// same call had failed in a way that may hide a processed request (a 5xx,
// a 408, a *TransportError) and the lookup by username had answered 404:
// VCC may have processed that earlier POST late, so the user the refusal
// is about may be the one this call created. The error also holds VCC's
// *Error (errors.As) and is permanent.
var ErrMaybeCreated = errors.New("vcc: an earlier try of the create may have been processed")

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

// RetryAfter is always 0: no server asked for a delay.
func (e *TransportError) RetryAfter() time.Duration { return 0 }

// Both error types classify themselves the same way.
var (
	_ interface {
		error
		Temporary() bool
		RetryAfter() time.Duration
	} = (*Error)(nil)
	_ interface {
		error
		Temporary() bool
		RetryAfter() time.Duration
	} = (*TransportError)(nil)
)

// maxMessage bounds the length of a message taken from a reply body.
const maxMessage = 300

// errorMessage extracts the server's message from an error reply: VCC's
// {"message":…}, else OAuth's {"error":…,"error_description":…}, else an
// excerpt of a non-HTML body, else the status text.
func errorMessage(rep *reply) string {
	body := bytes.TrimSpace(rep.body)
	var eb struct {
		Message          json.RawMessage `json:"message"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription json.RawMessage `json:"error_description"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &eb) == nil {
		if m := jsonText(eb.Message); m != "" {
			return m
		}
		code, desc := jsonText(eb.Error), jsonText(eb.ErrorDescription)
		switch {
		case code != "" && desc != "":
			return excerpt(code + ": " + desc)
		case code != "":
			return code
		case desc != "":
			return desc
		}
	}
	ct := strings.ToLower(rep.header.Get("Content-Type"))
	if len(body) > 0 && !strings.Contains(ct, "html") && !bytes.HasPrefix(body, []byte("<")) {
		return excerpt(string(body))
	}
	if t := http.StatusText(rep.status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", rep.status)
}

// jsonText returns a JSON string's text, or other JSON compacted; "" for
// absent or null.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return excerpt(s)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return excerpt(buf.String())
	}
	return excerpt(string(raw))
}

// excerpt collapses whitespace and cuts s to maxMessage runes.
func excerpt(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	return string(r[:maxMessage]) + "…"
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date. 0 when absent, unparsable or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, maxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter*time.Second)
		}
	}
	return 0
}

// maxRetryAfter caps a Retry-After, in seconds (one day).
const maxRetryAfter = 24 * 60 * 60

// StatusCode is the HTTP status, for callers that label by it without
// importing this package.
func (e *Error) StatusCode() int { return e.Status }

// Unavailable reports whether the error makes VCC unusable for every call,
// not just this one: the token endpoint refused vccsync (bad or revoked
// credentials) or answered with a server error.
func (e *Error) Unavailable() bool {
	return e.Route == RouteToken || e.Status == 401
}

// multipleAccounts reports whether err is VCC's refusal to archive a user
// who belongs to several accounts: a 4xx whose message names
// acceptArchiveInMultipleAccounts or "multiple accounts".
func multipleAccounts(err error) (*Error, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Temporary() {
		return nil, false
	}
	m := strings.ToLower(e.Message)
	return e, strings.Contains(m, "acceptarchiveinmultipleaccounts") || strings.Contains(m, "multiple accounts")
}

// multipleAccountsError is the error of an archive refused for a user of
// several accounts: it matches ErrMultipleAccounts, unwraps to VCC's
// *Error and is permanent.
type multipleAccountsError struct {
	userID string
	err    *Error
}

func (e *multipleAccountsError) Error() string {
	return fmt.Sprintf("vcc: archive user %s: the user belongs to several VCC accounts, and VCC archives such a user "+
		"only in all of them at once; set vcc accept-archive-in-multiple-accounts (flag --vcc-accept-archive-multiple-accounts) "+
		"to archive it in all its accounts (VCC said: %d %s)", e.userID, e.err.Status, e.err.Message)
}

// Unwrap returns ErrMultipleAccounts and VCC's *Error.
func (e *multipleAccountsError) Unwrap() []error { return []error{ErrMultipleAccounts, e.err} }

// Temporary is false: the same archive is refused again until the
// configuration changes.
func (e *multipleAccountsError) Temporary() bool { return false }

// RetryAfter is 0.
func (e *multipleAccountsError) RetryAfter() time.Duration { return 0 }

// duplicatePhrases are what a refusal of a duplicate username, agent ID or
// telephone number says (lower case).
var duplicatePhrases = []string{"already exist", "already in use", "already taken", "already used", "duplicate", "not unique"}

// IsDuplicate reports whether err is VCC's refusal of a value that another
// user already has (username, agentDisplayId, telephone number). VCC does
// not document the status: it may be 409 or 400, so the message decides —
// except that a 409 to a create (POST /users) is always a duplicate.
// Either way the error is a permanent *Error with VCC's message.
func IsDuplicate(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusConflict:
		if e.Method == http.MethodPost && e.Route == RouteUsers {
			return true
		}
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
	default:
		return false
	}
	m := strings.ToLower(e.Message)
	for _, p := range duplicatePhrases {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// maybeCreatedError is the permanent refusal of a create that follows an
// earlier try whose outcome was unknown: it matches ErrMaybeCreated and
// unwraps to the refusal.
type maybeCreatedError struct {
	route   string
	earlier error // the earlier try's failure
	err     error // the refusal
}

func (e *maybeCreatedError) Error() string {
	return fmt.Sprintf("vcc: POST %s: refused after an earlier try that may have been processed (%v): %v", e.route, e.earlier, e.err)
}

// Unwrap returns ErrMaybeCreated and the refusal.
func (e *maybeCreatedError) Unwrap() []error { return []error{ErrMaybeCreated, e.err} }

// Temporary is false, as the refusal's.
func (e *maybeCreatedError) Temporary() bool { return false }

// RetryAfter is 0.
func (e *maybeCreatedError) RetryAfter() time.Duration { return 0 }
