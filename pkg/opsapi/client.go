package opsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
)

// ErrNoAnswer is matched (errors.Is) by the errors of a request nothing
// answered: no worker running, or none in time.
var ErrNoAnswer = errors.New("no answer")

// Error is an error the service answered with.
type Error struct {
	// Code is "400" for a request that names no Salesforce user or a
	// snapshot that fails validation, "500" for a failure of the worker
	// (with HTTP, the response's status code).
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// noAnswer is the error of a request nothing answered.
type noAnswer struct {
	where string // the subject or URL asked
	err   error
}

func (e *noAnswer) Error() string {
	return fmt.Sprintf("no answer on %s: %v (is syncworker running?)", e.where, e.err)
}
func (e *noAnswer) Unwrap() []error { return []error{ErrNoAnswer, e.err} }

// A Client asks the service. Its methods are safe for concurrent use.
type Client struct {
	t transport
	// poll is how often WaitApplied asks.
	poll time.Duration
}

// transport makes one request of an endpoint ("status", "history",
// "plan") and decodes the reply into out.
type transport interface {
	call(ctx context.Context, endpoint string, req any, out any) error
}

// NewClient returns a client that asks over NATS request/reply on nc.
func NewClient(nc *nats.Conn) *Client {
	return &Client{t: natsTransport{nc}, poll: 200 * time.Millisecond}
}

// NewHTTPClient returns a client that asks the worker's HTTP listener at
// baseURL (e.g. http://127.0.0.1:9090) with hc (nil: http.DefaultClient).
// Plan is not served over HTTP.
func NewHTTPClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{t: httpTransport{base: strings.TrimSuffix(baseURL, "/"), hc: hc}, poll: 200 * time.Millisecond}
}

// Status asks what vccsync knows of the user userID.
func (c *Client) Status(ctx context.Context, userID string) (events.UserStatus, error) {
	var st events.UserStatus
	err := c.t.call(ctx, "status", events.StatusRequest{UserID: userID}, &st)
	return st, err
}

// History asks what vccsync did for the user userID, newest first, at most
// limit entries (0: every entry kept).
func (c *Client) History(ctx context.Context, userID string, limit int) ([]events.HistoryItem, error) {
	var h []events.HistoryItem
	err := c.t.call(ctx, "history", events.StatusRequest{UserID: userID, Limit: limit}, &h)
	return h, err
}

// Plan asks what applying the snapshot u would do, writing nothing.
func (c *Client) Plan(ctx context.Context, u events.User) (events.PlanReply, error) {
	var p events.PlanReply
	err := c.t.call(ctx, "plan", events.PlanRequest{User: u}, &p)
	return p, err
}

// WaitApplied waits until the worker has handled eventID, whatever its
// outcome, and returns its history entry: applied (its changes), or
// dead-lettered (the error and its class). It asks for the user's status
// and history until the history has an entry of the event — every command
// and every failed event has one — or the status names it the last event
// applied; an event that changed nothing keeps no entry, and its entry is
// then made from the status. It keeps asking while nothing answers (a
// worker restarting), and gives up when ctx is done or the service
// refuses the request.
func (c *Client) WaitApplied(ctx context.Context, userID, eventID string) (events.HistoryItem, events.UserStatus, error) {
	for {
		st, err := c.Status(ctx, userID)
		if err == nil {
			// The history after the status: an event the status names has
			// its entry there, when it has one.
			if h, herr := c.History(ctx, userID, 20); herr == nil {
				for _, e := range h {
					if e.EventID != eventID {
						continue
					}
					if st.LastEventID != eventID {
						// Applied since the status was read: the status
						// after it.
						if now, err := c.Status(ctx, userID); err == nil {
							st = now
						}
					}
					return e, st, nil
				}
			}
			if st.LastEventID == eventID {
				return events.HistoryItem{EventID: eventID, Outcome: st.LastOutcome, Error: st.LastError}, st, nil
			}
		}
		var refused *Error
		if errors.As(err, &refused) && refused.Code == "400" {
			return events.HistoryItem{}, events.UserStatus{}, err
		}
		select {
		case <-ctx.Done():
			return events.HistoryItem{}, events.UserStatus{}, fmt.Errorf("%s not applied in time: %w", eventID, ctx.Err())
		case <-time.After(c.poll):
		}
	}
}

// what names an endpoint's reply in errors.
var what = map[string]string{"status": "a status", "history": "a history", "plan": "a plan"}

type natsTransport struct{ nc *nats.Conn }

var subjects = map[string]string{"status": events.StatusSubject, "history": events.HistorySubject, "plan": events.PlanSubject}

func (t natsTransport) call(ctx context.Context, endpoint string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	subject := subjects[endpoint]
	msg, err := t.nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return &noAnswer{where: subject, err: err}
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return &Error{Code: code, Message: msg.Header.Get(micro.ErrorHeader)}
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("the answer is not %s: %w", what[endpoint], err)
	}
	return nil
}

type httpTransport struct {
	base string
	hc   *http.Client
}

func (t httpTransport) call(ctx context.Context, endpoint string, req, out any) error {
	r, ok := req.(events.StatusRequest)
	if !ok {
		return fmt.Errorf("%s over HTTP: %w", endpoint, errors.ErrUnsupported)
	}
	u := t.base + "/v1/users/" + url.PathEscape(r.UserID) + "/" + endpoint
	if r.Limit != 0 {
		u += "?limit=" + strconv.Itoa(r.Limit)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(hreq)
	if err != nil {
		return &noAnswer{where: u, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &noAnswer{where: u, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return &Error{Code: strconv.Itoa(resp.StatusCode), Message: e.Error}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the answer is not %s: %w", what[endpoint], err)
	}
	return nil
}

// Result is how an event the worker handled ended, as an operator reads
// it (vccctl cmd --wait).
type Result string

// Results.
const (
	// Applied: the worker applied it and changed something.
	Applied Result = "applied"
	// Unchanged: applied, and everything was in place already.
	Unchanged Result = "unchanged"
	// Refused: dead-lettered as permanent: the target (VCC, Salesforce)
	// or a rule refused it; the entry's Error is the refusal.
	Refused Result = "refused"
	// DeadLettered: dead-lettered as poison (it cannot be decoded) or
	// after its retries ran out (exhausted).
	DeadLettered Result = "dead_lettered"
	// TimedOut: no outcome in the time waited; the event stays queued.
	TimedOut Result = "timed_out"
)

// ResultOf is the result of a history entry.
func ResultOf(h events.HistoryItem) Result {
	switch {
	case h.Error == "" && h.Outcome == "unchanged":
		return Unchanged
	case h.Error == "":
		return Applied
	case h.ErrorClass == events.ClassPermanent:
		return Refused
	}
	return DeadLettered
}
