package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// OutboundSourcePrefix starts the source of every event the outbound
// handler publishes; the 15-character organization ID follows.
const OutboundSourcePrefix = "salesforce/outbound-message/"

// maxLoggedError bounds an error message in a log line, in runes.
const maxLoggedError = 300

// Results of an outbound-message request: the outcome field of its log
// line and the result label of vccsync_outbound_requests_total.
const (
	ResultAcked            = "acked"
	ResultRejected         = "rejected"
	ResultUnauthorized     = "unauthorized"
	ResultForbidden        = "forbidden"
	ResultTooLarge         = "too_large"
	ResultMethodNotAllowed = "method_not_allowed"
	ResultUnsupportedType  = "unsupported_media_type"
	ResultFailed           = "failed"
)

var results = []string{ResultAcked, ResultRejected, ResultUnauthorized, ResultForbidden, ResultTooLarge, ResultMethodNotAllowed, ResultFailed}

// Auth is the credentials the outbound handler accepts: a shared token
// (Authorization: Bearer TOKEN, or ?token=TOKEN in the endpoint URL), basic
// auth (user:password), or both. It keeps only their SHA-256 and compares
// in constant time. The zero Auth accepts nothing.
type Auth struct {
	token []byte // SHA-256 of the shared token; nil: not accepted
	basic []byte // SHA-256 of "user:password"; nil: not accepted
}

// NewAuth accepts token and basic ("user:password"); an empty string
// leaves that method out. Checking the secrets' strength is the caller's.
func NewAuth(token, basic string) Auth {
	var a Auth
	if token != "" {
		h := sha256.Sum256([]byte(token))
		a.token = h[:]
	}
	if basic != "" {
		h := sha256.Sum256([]byte(basic))
		a.basic = h[:]
	}
	return a
}

// Methods names the accepted methods ("token", "basic"), for a start-up
// log line.
func (a Auth) Methods() []string {
	var m []string
	if a.token != nil {
		m = append(m, "token")
	}
	if a.basic != nil {
		m = append(m, "basic")
	}
	return m
}

// ok reports whether r carries an accepted credential.
func (a Auth) ok(r *http.Request) bool {
	if a.token != nil {
		if scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") &&
			authMatch(a.token, strings.TrimSpace(cred)) {
			return true
		}
		for _, t := range r.URL.Query()["token"] {
			if authMatch(a.token, t) {
				return true
			}
		}
	}
	if a.basic != nil {
		if user, pass, found := r.BasicAuth(); found && authMatch(a.basic, user+":"+pass) {
			return true
		}
	}
	return false
}

// challenge sets WWW-Authenticate for each accepted method.
func (a Auth) challenge(h http.Header) {
	if a.token != nil {
		h.Add("WWW-Authenticate", `Bearer realm="vccsync"`)
	}
	if a.basic != nil {
		h.Add("WWW-Authenticate", `Basic realm="vccsync", charset="UTF-8"`)
	}
}

func authMatch(want []byte, got string) bool {
	h := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(want, h[:]) == 1
}

// OutboundConfig configures the outbound-message handler.
type OutboundConfig struct {
	// OrgIDs are the organizations whose messages are accepted (00D…, 15
	// or 18 characters; compared on the first 15). At least one.
	OrgIDs []string
	// Auth is the credentials accepted; at least one method.
	Auth Auth
	// MaxBody is the largest body accepted, in bytes; positive.
	MaxBody int64
	// Timeout bounds each request, from reading it to the acknowledgement
	// of its last publish; positive, and below Salesforce's 60s wait.
	Timeout time.Duration
	// Publisher publishes the events (JetStream(js)).
	Publisher Publisher
	// Logger gets one line per message; nil logs nothing.
	Logger *zap.Logger
	// Metrics records; nil records nothing.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Outbound is the http.Handler of Salesforce outbound messages on User: it
// checks each POST (method, credentials, size, SOAP, organization, object
// type), publishes its notifications in order and answers with the SOAP
// Ack only once the stream has acknowledged every one of them; anything
// else is answered with a SOAP Fault. It serves whatever path it is
// mounted on; routing, /healthz and TLS are the server's.
type Outbound struct {
	orgs      map[string]bool // first 15 characters of the allowed organization IDs
	auth      Auth
	maxBody   int64
	timeout   time.Duration
	publisher Publisher
	log       *zap.Logger
	metrics   *Metrics
	now       func() time.Time
}

var _ http.Handler = (*Outbound)(nil)

// NewOutbound checks cfg and returns the handler.
func NewOutbound(cfg OutboundConfig) (*Outbound, error) {
	h := &Outbound{
		orgs: map[string]bool{}, auth: cfg.Auth, maxBody: cfg.MaxBody, timeout: cfg.Timeout,
		publisher: cfg.Publisher, log: cfg.Logger, metrics: orUnregistered(cfg.Metrics), now: cfg.Now,
	}
	var problems []error
	for _, id := range cfg.OrgIDs {
		if _, err := events.NormalizeID(id); err != nil {
			problems = append(problems, fmt.Errorf("organization ID %q: %w", id, err))
		} else if !strings.HasPrefix(id, "00D") {
			problems = append(problems, fmt.Errorf("organization ID %q: not an organization ID (00D…)", id))
		} else {
			h.orgs[id[:15]] = true
		}
	}
	if len(cfg.OrgIDs) == 0 {
		problems = append(problems, errors.New("no organization ID: messages of every organization would be refused"))
	}
	if cfg.Auth.token == nil && cfg.Auth.basic == nil {
		problems = append(problems, errors.New("no credentials: every request would be refused"))
	}
	if cfg.MaxBody <= 0 {
		problems = append(problems, fmt.Errorf("max body %d: must be positive", cfg.MaxBody))
	}
	if cfg.Timeout <= 0 {
		problems = append(problems, fmt.Errorf("timeout %s: must be positive", cfg.Timeout))
	}
	if cfg.Publisher == nil {
		problems = append(problems, errors.New("no publisher"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("bridge: outbound handler: %w", err)
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// outboundRecord is what happened to one message: its log line.
type outboundRecord struct {
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

// ServeHTTP answers one outbound message, then logs it and counts it.
func (h *Outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &outboundRecord{receivedAt: h.now(), remote: r.RemoteAddr}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		rec.remote = host
	}
	h.handle(w, r, rec)
	h.logRecord(rec)
	h.count(rec)
}

// handle answers one request and fills rec.
func (h *Outbound) handle(w http.ResponseWriter, r *http.Request, rec *outboundRecord) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fault(w, rec, http.StatusMethodNotAllowed, ResultMethodNotAllowed, salesforce.FaultClient,
			fmt.Errorf("method %s: Salesforce POSTs outbound messages", r.Method))
		return
	}
	if !h.auth.ok(r) {
		h.auth.challenge(w.Header())
		h.fault(w, rec, http.StatusUnauthorized, ResultUnauthorized, salesforce.FaultClient,
			errors.New("unauthorized: missing or wrong credentials (a token in Authorization: Bearer or ?token=, or basic auth)"))
		return
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		h.fault(w, rec, http.StatusUnsupportedMediaType, ResultUnsupportedType, salesforce.FaultClient, err)
		return
	}
	body, status, err := h.readBody(w, r)
	if err != nil {
		result := ResultRejected
		if status == http.StatusRequestEntityTooLarge {
			result = ResultTooLarge
		}
		h.fault(w, rec, status, result, salesforce.FaultClient, err)
		return
	}

	m, err := salesforce.DecodeOutbound(bytes.NewReader(body))
	if err != nil {
		h.fault(w, rec, http.StatusBadRequest, ResultRejected, salesforce.FaultClient, err)
		return
	}
	org := m.OrganizationID[:15]
	rec.org, rec.action, rec.count = org, m.ActionID, len(m.Notifications)
	if !h.orgs[org] {
		h.fault(w, rec, http.StatusForbidden, ResultForbidden, salesforce.FaultClient,
			fmt.Errorf("OrganizationId %s: not an organization this listener accepts messages from (--org-id)", m.OrganizationID))
		return
	}
	for i, n := range m.Notifications {
		if n.ObjectType != "User" {
			h.fault(w, rec, http.StatusBadRequest, ResultRejected, salesforce.FaultClient,
				fmt.Errorf("Notification[%d]: sObject: object type %s, want User", i+1, n.ObjectType))
			return
		}
	}

	if err := h.publish(ctx, m, rec); err != nil {
		h.fault(w, rec, http.StatusInternalServerError, ResultFailed, salesforce.FaultServer,
			fmt.Errorf("%w; not acknowledged: Salesforce will send the whole message again", err))
		return
	}
	rec.outcome, rec.status = ResultAcked, http.StatusOK
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = salesforce.EncodeAck(w)
}

// readBody reads the body up to the limit; on an error it returns the
// status to answer with.
func (h *Outbound) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	tooLarge := fmt.Errorf("body larger than %s, the most this listener accepts (--max-body)", formatSize(h.maxBody))
	if r.ContentLength > h.maxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	return body, 0, nil
}

// publish publishes every notification of m in order, each after the
// previous one's acknowledgement, and stops at the first failure.
func (h *Outbound) publish(ctx context.Context, m *salesforce.OutboundMessage, rec *outboundRecord) error {
	source := OutboundSourcePrefix + m.OrganizationID[:15]
	at := rec.receivedAt.UTC().Truncate(time.Millisecond)
	for i, n := range m.Notifications {
		label := fmt.Sprintf("Notification[%d] (Id %s)", i+1, n.ID)
		if n.Deleted {
			rec.deleted = append(rec.deleted, n.ID)
			continue
		}
		env, err := outboundEnvelope(n, source, at)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if problem := contractError(env); problem != nil {
			rec.invalid = append(rec.invalid, label+": "+problem.Error())
		}
		res, err := publishTimed(ctx, h.publisher, h.metrics, SourceOutbound, env)
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

// outboundEnvelope is the salesforce.user.changed event of a notification,
// its subject the user ID in its 18-character form.
func outboundEnvelope(n salesforce.Notification, source string, at time.Time) (events.Envelope, error) {
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

// fault answers with a SOAP Fault and records the outcome.
func (h *Outbound) fault(w http.ResponseWriter, rec *outboundRecord, status int, outcome, code string, err error) {
	rec.outcome, rec.status, rec.err = outcome, status, err
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = salesforce.EncodeFault(w, code, err.Error())
}

// count records the message in the metrics.
func (h *Outbound) count(rec *outboundRecord) {
	h.metrics.OutboundRequests.WithLabelValues(rec.outcome).Inc()
	h.metrics.OutboundNotifications.WithLabelValues(EventPublished).Add(float64(rec.published))
	h.metrics.OutboundNotifications.WithLabelValues(EventDuplicate).Add(float64(rec.duplicate))
	h.metrics.OutboundNotifications.WithLabelValues(NotificationDeleted).Add(float64(len(rec.deleted)))
}

// logRecord writes the message's one log line. It names the organization,
// the notification IDs and the outcome; never user data.
func (h *Outbound) logRecord(rec *outboundRecord) {
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
		fields = append(fields, zap.Strings("dead_letter_expected", shortenAll(rec.invalid)))
	}
	level := zapcore.InfoLevel
	if rec.err != nil {
		fields = append(fields, zap.String("error", shorten(rec.err.Error())))
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

func shortenAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = shorten(s)
	}
	return out
}

// shorten makes s valid UTF-8 and cuts it at maxLoggedError runes.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if r := []rune(s); len(r) > maxLoggedError {
		return string(r[:maxLoggedError]) + "…"
	}
	return s
}

// checkContentType accepts the media type of SOAP 1.1, text/xml, which is
// what Salesforce sends (Content-Type: text/xml; charset=utf-8). Anything
// else is not an outbound message: SOAP 1.2 (application/soap+xml), a
// form, JSON, or no type at all.
func checkContentType(v string) error {
	if v == "" {
		return errors.New("no Content-Type: Salesforce sends outbound messages as text/xml (SOAP 1.1)")
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %v; want text/xml (SOAP 1.1)", v, err)
	}
	if mt != "text/xml" {
		return fmt.Errorf("Content-Type %s: want text/xml, the SOAP 1.1 type Salesforce sends outbound messages with", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("Content-Type charset %s: want utf-8", cs)
	}
	return nil
}
