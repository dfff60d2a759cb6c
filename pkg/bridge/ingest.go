package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// UserReader reads users' current state from Salesforce, for gap and
// overflow events. *salesforce.Client is one.
type UserReader interface {
	// QueryUsers returns the users of ids that exist.
	QueryUsers(ctx context.Context, ids []string) ([]events.User, error)
	// ForEachUser calls fn with every user.
	ForEachUser(ctx context.Context, fn func(events.User) error) error
}

var _ UserReader = (*salesforce.Client)(nil)

// ErrNoUserReader is the error of a gap or overflow event when the
// Ingester has no UserReader. Its text names publisher cdc's flags.
var ErrNoUserReader = errors.New("reading users needs Salesforce REST access: give --sf-url (or --sf-token-url), --sf-client-id and the client secret")

// Statuses of one change-event message (Outcome.Status), in the order a
// summary lists them; also the outcome label of vccsync_cdc_messages_total.
const (
	StatusPublished = "published" // every event published, at least one new
	StatusDuplicate = "duplicate" // every event published, the stream had them all
	StatusIgnored   = "ignored"   // nothing to publish (a DELETE, an own change, a CometD meta message)
	StatusGap       = "gap"       // the users of a gap event read over REST and published
	StatusOverflow  = "overflow"  // every user read over REST and published
	StatusRejected  = "rejected"  // the message cannot be decoded or breaks the contract: nothing published
	StatusFailed    = "failed"    // a publish or a Salesforce read failed: ingest it again
)

var statuses = []string{StatusPublished, StatusDuplicate, StatusIgnored, StatusGap, StatusOverflow, StatusRejected, StatusFailed}

// Outcome is what happened to one change-event message.
type Outcome struct {
	Status    string   // Status*
	Change    string   // the change type (CREATE, UPDATE, GAP_…), when the header was read
	Published int      // events the stream stored
	Duplicate int      // events the stream already had
	Reading   bool     // users were to be read over REST (gap, overflow)
	Read      int      // users read
	Missing   []string // gap users Salesforce does not have
	IDs       []string // event ids (changes only; snapshots are not listed)
	Reason    string   // ignored: why
	Err       error    // rejected, failed: why
}

// Line is the outcome as one output line; label says which message it is
// (line=3, msg=2):
//
//	published line=2 change=UPDATE published=1 duplicate=0 ids=ID
//	ignored line=4 change=DELETE: REASON
//	gap line=5 change=GAP_UPDATE read=2 published=2 duplicate=0 missing=ID
//	rejected line=7: ERROR
func (o Outcome) Line(label string) string {
	var b strings.Builder
	b.WriteString(o.Status + " " + label)
	if o.Change != "" {
		b.WriteString(" change=" + quote(o.Change))
	}
	switch o.Status {
	case StatusIgnored:
		b.WriteString(": " + o.Reason)
		return b.String()
	case StatusRejected:
		b.WriteString(": " + o.Err.Error())
		return b.String()
	}
	if o.Reading {
		fmt.Fprintf(&b, " read=%d", o.Read)
	}
	if o.Status != StatusFailed || o.Published+o.Duplicate > 0 {
		fmt.Fprintf(&b, " published=%d duplicate=%d", o.Published, o.Duplicate)
	}
	if len(o.Missing) > 0 {
		b.WriteString(" missing=" + strings.Join(o.Missing, ","))
	}
	if len(o.IDs) > 0 {
		b.WriteString(" ids=" + quote(strings.Join(o.IDs, ",")))
	}
	if o.Err != nil {
		b.WriteString(": " + o.Err.Error())
	}
	return b.String()
}

// Counts sums the outcomes of a run: messages per status, and events. It
// is safe for concurrent use; the zero value is ready.
type Counts struct {
	mu        sync.Mutex
	messages  map[string]int
	published int
	duplicate int
}

// Add counts o.
func (c *Counts) Add(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.messages == nil {
		c.messages = map[string]int{}
	}
	c.messages[o.Status]++
	c.published += o.Published
	c.duplicate += o.Duplicate
}

// Messages returns the number of messages with status.
func (c *Counts) Messages(status string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.messages[status]
}

// String is the summary line:
//
//	messages: 3 published, 1 duplicate, …, 0 failed; events: 4 published, 1 duplicate
func (c *Counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = fmt.Sprintf("%d %s", c.messages[s], s)
	}
	return fmt.Sprintf("messages: %s; events: %d published, %d duplicate", strings.Join(parts, ", "), c.published, c.duplicate)
}

// IngesterConfig configures the change-event ingester.
type IngesterConfig struct {
	// Decoder decodes the messages; its OrgID is also the organization of
	// the snapshots of users read over REST. Required.
	Decoder *salesforce.CDCDecoder
	// Users reads users for gap and overflow events; nil: those fail with
	// ErrNoUserReader.
	Users UserReader
	// Publisher publishes the events (JetStream(js)). Required.
	Publisher Publisher
	// Timeout bounds each publish, until the stream's acknowledgement;
	// positive.
	Timeout time.Duration
	// Metrics records; nil records nothing.
	Metrics *Metrics
}

// Ingester decodes Salesforce change-event messages (UserChangeEvent) and
// publishes what they ask for, each event with its derived id as
// Nats-Msg-Id, so that ingesting a message again publishes duplicates:
//
//	cdc-<user ID>-<transactionKey>-<sequenceNumber>   a change
//	sf-snapshot-<user ID>-<SystemModstamp in ms>      a user read over REST
//
// It is safe for concurrent use.
type Ingester struct {
	dec       *salesforce.CDCDecoder
	users     UserReader
	publisher Publisher
	timeout   time.Duration
	orgID     string
	metrics   *Metrics
}

// NewIngester checks cfg and returns the ingester.
func NewIngester(cfg IngesterConfig) (*Ingester, error) {
	var problems []error
	if cfg.Decoder == nil {
		problems = append(problems, errors.New("no decoder"))
	}
	if cfg.Publisher == nil {
		problems = append(problems, errors.New("no publisher"))
	}
	if cfg.Timeout <= 0 {
		problems = append(problems, fmt.Errorf("timeout %s: must be positive", cfg.Timeout))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("bridge: change-event ingester: %w", err)
	}
	return &Ingester{
		dec: cfg.Decoder, users: cfg.Users, publisher: cfg.Publisher, timeout: cfg.Timeout,
		orgID: cfg.Decoder.OrgID, metrics: orUnregistered(cfg.Metrics),
	}, nil
}

// Ingest handles one message: decode, then publish its events, or read
// and publish the users of a gap or overflow. It returns once every
// publish is acknowledged (or one failed). A message's events are checked
// against the wire contract before any is published: a message is
// published whole or rejected.
func (in *Ingester) Ingest(ctx context.Context, msg []byte) Outcome {
	o := in.ingest(ctx, msg)
	in.count(o)
	return o
}

// Reject records a message that could not even be read (say, a line over
// the input's limit) as rejected with err, and returns its outcome.
func (in *Ingester) Reject(err error) Outcome {
	o := Outcome{Status: StatusRejected, Err: err}
	in.count(o)
	return o
}

func (in *Ingester) count(o Outcome) {
	in.metrics.CDCMessages.WithLabelValues(o.Status).Inc()
	in.metrics.CDCEvents.WithLabelValues(EventPublished).Add(float64(o.Published))
	in.metrics.CDCEvents.WithLabelValues(EventDuplicate).Add(float64(o.Duplicate))
	in.metrics.CDCUsersRead.Add(float64(o.Read))
}

func (in *Ingester) ingest(ctx context.Context, msg []byte) Outcome {
	res, err := in.dec.Decode(msg)
	o := Outcome{Change: res.Header.ChangeType}
	switch {
	case err != nil:
		o.Status, o.Err = StatusRejected, err
		return o
	case res.Ignored != "":
		o.Status, o.Reason = StatusIgnored, res.Ignored
		return o
	case res.Overflow:
		o.Status, o.Reading = StatusOverflow, true
		in.resyncAll(ctx, &o)
		return o
	case len(res.GapIDs) > 0:
		o.Status, o.Reading = StatusGap, true
		in.readGap(ctx, res.GapIDs, &o)
		return o
	}

	// Check every event as syncworker will decode it before publishing
	// any: a message is published whole or rejected.
	for _, env := range res.Events {
		if err := contractError(env); err != nil {
			o.Status, o.Err = StatusRejected, err
			return o
		}
		o.IDs = append(o.IDs, env.ID)
	}
	for _, env := range res.Events {
		if err := in.publish(ctx, env, &o); err != nil {
			o.Status, o.Err = StatusFailed, err
			return o
		}
	}
	o.Status = StatusPublished
	if o.Published == 0 {
		o.Status = StatusDuplicate
	}
	return o
}

// publish publishes env and counts the stream's answer.
func (in *Ingester) publish(ctx context.Context, env events.Envelope, o *Outcome) error {
	pctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	res, err := publishTimed(pctx, in.publisher, in.metrics, SourceCDC, env)
	if err != nil {
		return err
	}
	if res.Duplicate {
		o.Duplicate++
	} else {
		o.Published++
	}
	return nil
}

// readGap reads the users of a gap event and publishes their snapshots.
func (in *Ingester) readGap(ctx context.Context, ids []string, o *Outcome) {
	if in.users == nil {
		o.Status, o.Err = StatusFailed, ErrNoUserReader
		return
	}
	users, err := in.users.QueryUsers(ctx, ids)
	if err != nil {
		o.Status, o.Err = StatusFailed, fmt.Errorf("read %d users: %w", len(ids), err)
		return
	}
	found := map[string]bool{}
	for _, u := range users {
		o.Read++
		if k, err := events.UserKey(u.ID); err == nil {
			found[k] = true
		}
		if err := in.publishSnapshot(ctx, u, o); err != nil {
			o.Status, o.Err = StatusFailed, err
			return
		}
	}
	for _, id := range ids {
		if !found[id] {
			o.Missing = append(o.Missing, id)
		}
	}
}

// resyncAll reads every user and publishes their snapshots.
func (in *Ingester) resyncAll(ctx context.Context, o *Outcome) {
	if in.users == nil {
		o.Status, o.Err = StatusFailed, ErrNoUserReader
		return
	}
	err := in.users.ForEachUser(ctx, func(u events.User) error {
		o.Read++
		return in.publishSnapshot(ctx, u, o)
	})
	if err != nil {
		o.Status, o.Err = StatusFailed, fmt.Errorf("resynchronise all users: %w", err)
	}
}

// publishSnapshot publishes a user's current state as read over REST.
func (in *Ingester) publishSnapshot(ctx context.Context, u events.User, o *Outcome) error {
	env, err := SnapshotEnvelope(in.orgID, u)
	if err != nil {
		return err
	}
	if err := contractError(env); err != nil {
		return fmt.Errorf("user %s: %w", u.ID, err)
	}
	return in.publish(ctx, env, o)
}

// SnapshotEnvelope is the salesforce.user.changed event of a user read
// over REST, from source salesforce/rest/<orgID>. Its id,
// sf-snapshot-<user ID>-<SystemModstamp in ms>, names the state read:
// reading the same state again gives the same id, a duplicate. Its time is
// that stamp; ChangedFields is dropped (a snapshot is every field).
func SnapshotEnvelope(orgID string, u events.User) (events.Envelope, error) {
	key, err := events.UserKey(u.ID)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("user read from Salesforce: Id: %w", err)
	}
	u.ID = key
	stamp := u.Modstamp()
	if stamp.IsZero() {
		return events.Envelope{}, fmt.Errorf("user %s read from Salesforce has no SystemModstamp or LastModifiedDate: its state cannot be named", key)
	}
	u.ChangedFields = nil
	id := "sf-snapshot-" + key + "-" + strconv.FormatInt(stamp.UnixMilli(), 10)
	return events.NewUserChanged(id, "salesforce/rest/"+orgID, stamp, u)
}
