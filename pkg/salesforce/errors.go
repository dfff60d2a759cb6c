package salesforce

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

// ErrNotFound is matched (errors.Is) by an *Error with status 404: an
// unknown user, query locator or contact center.
var ErrNotFound = errors.New("salesforce: not found")

// ErrInvalidAlias is wrapped by the error SetAlias returns, without calling
// Salesforce, for an alias that is not 1 to 8 characters of [A-Za-z0-9_.-]
// (the characters a contact center's telephony username allows).
var ErrInvalidAlias = errors.New("salesforce: invalid alias (want 1 to 8 characters of [A-Za-z0-9_.-])")

// Error codes the client gives a meaning to.
const (
	// CodeInvalidSession is the 401 of an expired or revoked session; the
	// client fetches a new token once and retries.
	CodeInvalidSession = "INVALID_SESSION_ID"
	// CodeRequestLimitExceeded is the 403 of an exhausted org API limit:
	// temporary, back off.
	CodeRequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
	// CodeUnableToLockRow is a record-lock contention: temporary.
	CodeUnableToLockRow = "UNABLE_TO_LOCK_ROW"
	// CodeNoResult is set in an AddResult when the reply had no result for
	// that user: the outcome is unknown, read the members to find out.
	CodeNoResult = "NO_RESULT"
)

// Error is a non-2xx reply of Salesforce: a data REST call, whose
// body is Salesforce's error array [{"message","errorCode","fields"}], or
// the OAuth token endpoint, whose {"error","error_description"} become Code
// and Message. It classifies itself: Temporary for 408, 429, 5xx,
// REQUEST_LIMIT_EXCEEDED and UNABLE_TO_LOCK_ROW; permanent otherwise.
type Error struct {
	Method string
	Route  string // the route template, e.g. RouteUser
	Status int
	// Code is Salesforce's errorCode (of the first error when there are
	// several), e.g. FIELD_INTEGRITY_EXCEPTION, or the OAuth error.
	Code string
	// Message is Salesforce's own message; further errors of the array are
	// appended as "CODE: message", separated by "; ".
	Message string
	// Fields are the fields the errors name, in order, without repeats.
	Fields []string
	// Retry is the Retry-After the server sent, 0 if none.
	Retry time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "salesforce: %s %s: %d %s", e.Method, e.Route, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " (fields %s)", strings.Join(e.Fields, ", "))
	}
	return b.String()
}

// Temporary reports whether retrying later may succeed.
func (e *Error) Temporary() bool {
	switch {
	case e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout, e.Status >= 500:
		return true
	case e.Code == CodeRequestLimitExceeded, e.Code == CodeUnableToLockRow:
		return true
	}
	return false
}

// RetryAfter is the delay the server asked for, 0 if none.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

// StatusCode is the HTTP status, for callers that label by it without
// importing this package.
func (e *Error) StatusCode() int { return e.Status }

// Is makes errors.Is(err, ErrNotFound) true for 404s.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// TransportError is a failure to reach Salesforce (connection, timeout,
// truncated reply). Always temporary.
type TransportError struct {
	Method string
	Route  string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("salesforce: %s %s: %v", e.Method, e.Route, e.Err)
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

// restMaxMessage bounds the length of a message taken from a reply body.
const restMaxMessage = 300

// restMaxRetryAfter caps a Retry-After, in seconds (one day).
const restMaxRetryAfter = 24 * 60 * 60

// restErrorItem is one element of Salesforce's error array.
type restErrorItem struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// restReplyError maps a non-2xx reply to *Error: Salesforce's error array,
// a single error object, OAuth's error, else an excerpt of a non-HTML body,
// else the status text.
func restReplyError(method, route string, rep *restReply, now time.Time) *Error {
	e := &Error{
		Method: method,
		Route:  route,
		Status: rep.status,
		Retry:  restParseRetryAfter(rep.header.Get("Retry-After"), now),
	}
	body := bytes.TrimSpace(rep.body)
	var items []restErrorItem
	if len(body) > 0 && body[0] == '[' && json.Unmarshal(body, &items) == nil {
		if len(items) > 0 {
			restFillFromItems(e, items)
		} else {
			e.Message = restStatusText(rep.status)
		}
		return e
	}
	if len(body) > 0 && body[0] == '{' {
		var obj struct {
			restErrorItem
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(body, &obj) == nil {
			switch {
			case obj.ErrorCode != "" || obj.Message != "":
				restFillFromItems(e, []restErrorItem{obj.restErrorItem})
				return e
			case obj.Error != "" || obj.ErrorDescription != "":
				e.Code = restExcerpt(obj.Error)
				e.Message = restExcerpt(obj.ErrorDescription)
				return e
			}
		}
	}
	ct := strings.ToLower(rep.header.Get("Content-Type"))
	if len(body) > 0 && !strings.Contains(ct, "html") && !bytes.HasPrefix(body, []byte("<")) {
		e.Message = restExcerpt(string(body))
		return e
	}
	e.Message = restStatusText(rep.status)
	return e
}

func restStatusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

func restFillFromItems(e *Error, items []restErrorItem) {
	e.Code = restExcerpt(items[0].ErrorCode)
	msgs := []string{items[0].Message}
	seen := map[string]bool{}
	for i, it := range items {
		if i > 0 {
			switch {
			case it.ErrorCode != "" && it.Message != "":
				msgs = append(msgs, it.ErrorCode+": "+it.Message)
			case it.ErrorCode != "":
				msgs = append(msgs, it.ErrorCode)
			case it.Message != "":
				msgs = append(msgs, it.Message)
			}
		}
		for _, f := range it.Fields {
			if f != "" && !seen[f] {
				seen[f] = true
				e.Fields = append(e.Fields, f)
			}
		}
	}
	e.Message = restExcerpt(strings.Join(msgs, "; "))
}

// restExcerpt collapses whitespace and cuts s to restMaxMessage runes.
func restExcerpt(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) <= restMaxMessage {
		return s
	}
	r := []rune(s)
	return string(r[:restMaxMessage]) + "…"
}

// restParseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date. 0 when absent, unparsable or in the past.
func restParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, restMaxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, restMaxRetryAfter*time.Second)
		}
	}
	return 0
}

// Unavailable reports whether the error makes Salesforce unusable for
// every call, not just this one: the token endpoint refused vccsync (it
// answers invalid_client and invalid_grant with 400) or the session was
// refused.
func (e *Error) Unavailable() bool {
	return e.Route == RouteToken || e.Status == 401
}
