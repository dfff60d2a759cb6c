package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// serveSourcePrefix starts the source of every event serve publishes; the
// 15-character organization ID follows.
const serveSourcePrefix = "salesforce/outbound-message/"

// serveMaxLoggedError bounds an error message in a log line.
const serveMaxLoggedError = 300

// serveAuth holds the SHA-256 of each accepted credential; nil when that
// method is not configured. Credentials are compared in constant time.
type serveAuth struct {
	token []byte // the shared token
	basic []byte // "user:password"
}

// ok reports whether r carries an accepted credential.
func (a serveAuth) ok(r *http.Request) bool {
	if a.token != nil {
		if scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") &&
			serveMatch(a.token, strings.TrimSpace(cred)) {
			return true
		}
		for _, t := range r.URL.Query()["token"] {
			if serveMatch(a.token, t) {
				return true
			}
		}
	}
	if a.basic != nil {
		if user, pass, found := r.BasicAuth(); found && serveMatch(a.basic, user+":"+pass) {
			return true
		}
	}
	return false
}

// challenge sets WWW-Authenticate for each configured method.
func (a serveAuth) challenge(h http.Header) {
	if a.token != nil {
		h.Add("WWW-Authenticate", `Bearer realm="vccsync"`)
	}
	if a.basic != nil {
		h.Add("WWW-Authenticate", `Basic realm="vccsync", charset="UTF-8"`)
	}
}

// methods names the configured methods, for the start-up log line.
func (a serveAuth) methods(clientCert bool) []string {
	var m []string
	if a.token != nil {
		m = append(m, "token")
	}
	if a.basic != nil {
		m = append(m, "basic")
	}
	if clientCert {
		m = append(m, "client-certificate")
	}
	return m
}

func serveMatch(want []byte, got string) bool {
	h := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(want, h[:]) == 1
}

// serveHandler receives Salesforce outbound messages: it checks each
// POST, publishes its notifications and answers with the SOAP Ack only
// once the stream has acknowledged every one of them.
type serveHandler struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	path    string
	orgs    map[string]bool // first 15 characters of the allowed organization IDs
	auth    serveAuth
	maxBody int64
	timeout time.Duration
	log     *zap.Logger
	now     func() time.Time
}

// serveRecord is what happened to one message: its log line.
type serveRecord struct {
	outcome    string
	status     int
	org        string
	action     string
	count      int
	published  int
	duplicate  int
	deleted    []string
	invalid    []string
	err        error
	remote     string
	receivedAt time.Time
}

// Outcomes in the log line.
const (
	serveAcked        = "acked"
	serveRejected     = "rejected"
	serveUnauthorized = "unauthorized"
	serveForbidden    = "forbidden"
	serveTooLarge     = "too_large"
	serveBadMethod    = "method_not_allowed"
	serveFailed       = "failed"
)

func (h *serveHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && r.URL.Path != h.path && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.health(w)
		return
	}
	if r.URL.Path != h.path {
		http.NotFound(w, r)
		return
	}
	rec := &serveRecord{receivedAt: h.now(), remote: r.RemoteAddr}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		rec.remote = host
	}
	h.handle(w, r, rec)
	h.logRecord(rec)
}

// handle answers one request and fills rec.
func (h *serveHandler) handle(w http.ResponseWriter, r *http.Request, rec *serveRecord) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fault(w, rec, http.StatusMethodNotAllowed, serveBadMethod, salesforce.FaultClient,
			fmt.Errorf("method %s: Salesforce POSTs outbound messages", r.Method))
		return
	}
	if !h.auth.ok(r) {
		h.auth.challenge(w.Header())
		h.fault(w, rec, http.StatusUnauthorized, serveUnauthorized, salesforce.FaultClient,
			errors.New("unauthorized: missing or wrong credentials (a token in Authorization: Bearer or ?token=, or basic auth)"))
		return
	}
	tooLarge := fmt.Errorf("body larger than %s, the most this listener accepts (--max-body)", serveByteSize(h.maxBody))
	if r.ContentLength > h.maxBody {
		h.fault(w, rec, http.StatusRequestEntityTooLarge, serveTooLarge, salesforce.FaultClient, tooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		h.fault(w, rec, http.StatusRequestEntityTooLarge, serveTooLarge, salesforce.FaultClient, tooLarge)
		return
	case err != nil:
		h.fault(w, rec, http.StatusBadRequest, serveRejected, salesforce.FaultClient, fmt.Errorf("body: %w", err))
		return
	}

	m, err := salesforce.DecodeOutbound(bytes.NewReader(body))
	if err != nil {
		h.fault(w, rec, http.StatusBadRequest, serveRejected, salesforce.FaultClient, err)
		return
	}
	org := m.OrganizationID[:15]
	rec.org, rec.action, rec.count = org, m.ActionID, len(m.Notifications)
	if !h.orgs[org] {
		h.fault(w, rec, http.StatusForbidden, serveForbidden, salesforce.FaultClient,
			fmt.Errorf("OrganizationId %s: not an organization this listener accepts messages from (--org-id)", m.OrganizationID))
		return
	}
	for i, n := range m.Notifications {
		if n.ObjectType != "User" {
			h.fault(w, rec, http.StatusBadRequest, serveRejected, salesforce.FaultClient,
				fmt.Errorf("Notification[%d]: sObject: object type %s, want User", i+1, n.ObjectType))
			return
		}
	}

	if err := h.publish(ctx, m, rec); err != nil {
		h.fault(w, rec, http.StatusInternalServerError, serveFailed, salesforce.FaultServer,
			fmt.Errorf("%w; not acknowledged: Salesforce will send the whole message again", err))
		return
	}
	rec.outcome, rec.status = serveAcked, http.StatusOK
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = salesforce.EncodeAck(w)
}

// publish publishes every notification of m in order, each after the
// previous one's acknowledgement, and stops at the first failure.
func (h *serveHandler) publish(ctx context.Context, m *salesforce.OutboundMessage, rec *serveRecord) error {
	source := serveSourcePrefix + m.OrganizationID[:15]
	at := rec.receivedAt.UTC().Truncate(time.Millisecond)
	for i, n := range m.Notifications {
		label := fmt.Sprintf("Notification[%d] (Id %s)", i+1, n.ID)
		if n.Deleted {
			rec.deleted = append(rec.deleted, n.ID)
			continue
		}
		env, err := serveEnvelope(n, source, at)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if problem := serveContractProblem(env); problem != nil {
			rec.invalid = append(rec.invalid, label+": "+problem.Error())
		}
		res, err := bus.Publish(ctx, h.js, env)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if res.Duplicate {
			rec.duplicate++
		} else {
			rec.published++
		}
	}
	return nil
}

// serveEnvelope is the salesforce.user.changed event of a notification,
// its subject the user ID in its 18-character form.
func serveEnvelope(n salesforce.Notification, source string, at time.Time) (events.Envelope, error) {
	key, err := events.UserKey(n.User.ID)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("sObject: Id: %w", err)
	}
	env, err := events.NewUserChanged(n.ID, source, at, n.User)
	if err != nil {
		return events.Envelope{}, err
	}
	env.Subject = key
	return env, nil
}

// serveContractProblem is what syncworker will object to in env (it
// dead-letters the event with that reason), or nil.
func serveContractProblem(env events.Envelope) error {
	body, err := env.Marshal()
	if err != nil {
		return err
	}
	_, _, err = validate(body)
	return err
}

// fault answers with a SOAP Fault and records the outcome.
func (h *serveHandler) fault(w http.ResponseWriter, rec *serveRecord, status int, outcome, code string, err error) {
	rec.outcome, rec.status, rec.err = outcome, status, err
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = salesforce.EncodeFault(w, code, err.Error())
}

// health answers GET /healthz: ok while NATS is connected.
func (h *serveHandler) health(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s := h.nc.Status(); s != nats.CONNECTED {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "nats: %s\n", s)
		return
	}
	fmt.Fprintln(w, "ok")
}

// logRecord writes the message's one log line. It names the organization,
// the notification IDs and the outcome; never user data.
func (h *serveHandler) logRecord(rec *serveRecord) {
	fields := []zap.Field{
		zap.String("outcome", rec.outcome),
		zap.Int("status", rec.status),
		zap.String("remote", rec.remote),
		zap.Int64("ms", h.now().Sub(rec.receivedAt).Milliseconds()),
	}
	if rec.org != "" {
		fields = append(fields, zap.String("org", rec.org), zap.String("action", rec.action),
			zap.Int("notifications", rec.count), zap.Int("published", rec.published),
			zap.Int("duplicate", rec.duplicate), zap.Int("deleted", len(rec.deleted)))
	}
	if len(rec.deleted) > 0 {
		fields = append(fields, zap.Strings("skipped_deleted", rec.deleted))
	}
	if len(rec.invalid) > 0 {
		fields = append(fields, zap.Strings("dead_letter_expected", serveShorten(rec.invalid)))
	}
	level := zapcore.InfoLevel
	if rec.err != nil {
		fields = append(fields, zap.String("error", serveShortenOne(rec.err.Error())))
		level = zapcore.WarnLevel
		if rec.status >= 500 {
			level = zapcore.ErrorLevel
		}
	}
	if len(rec.invalid) > 0 {
		level = max(level, zapcore.WarnLevel)
	}
	h.log.Log(level, "outbound message", fields...)
}

func serveShorten(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = serveShortenOne(s)
	}
	return out
}

func serveShortenOne(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if r := []rune(s); len(r) > serveMaxLoggedError {
		return string(r[:serveMaxLoggedError]) + "…"
	}
	return s
}
