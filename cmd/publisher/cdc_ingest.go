package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/salesforce"
)

// userReader reads users' current state from Salesforce, for gap and
// overflow events. *salesforce.Client is one.
type userReader interface {
	// QueryUsers returns the users of ids that exist.
	QueryUsers(ctx context.Context, ids []string) ([]events.User, error)
	// ForEachUser calls fn with every user.
	ForEachUser(ctx context.Context, fn func(events.User) error) error
}

var _ userReader = (*salesforce.Client)(nil)

// errNoUserReader is the failure of a gap or overflow event when no
// Salesforce REST access is configured.
var errNoUserReader = errors.New("reading users needs Salesforce REST access: give --sf-url (or --sf-token-url), --sf-client-id and the client secret")

// Outcomes of one CDC message, in the order the summary lists them.
const (
	cdcPublished = "published"
	cdcDuplicate = "duplicate"
	cdcIgnored   = "ignored"
	cdcGap       = "gap"
	cdcOverflow  = "overflow"
	cdcRejected  = "rejected"
	cdcFailed    = "failed"
)

var cdcStatuses = []string{cdcPublished, cdcDuplicate, cdcIgnored, cdcGap, cdcOverflow, cdcRejected, cdcFailed}

// cdcOutcome is what happened to one message.
type cdcOutcome struct {
	status    string
	change    string
	published int
	duplicate int
	reading   bool     // users were to be read over REST (gap, overflow)
	read      int      // users read
	missing   []string // gap users Salesforce does not have
	ids       []string // event ids (CDC events only)
	reason    string   // ignored: why
	err       error    // rejected, failed
}

// line is the outcome's output line; label says which message it is
// (line=3, or msg=2).
func (o cdcOutcome) line(label string) string {
	var b strings.Builder
	b.WriteString(o.status + " " + label)
	if o.change != "" {
		b.WriteString(" change=" + value(o.change))
	}
	switch o.status {
	case cdcIgnored:
		b.WriteString(": " + o.reason)
		return b.String()
	case cdcRejected:
		b.WriteString(": " + o.err.Error())
		return b.String()
	}
	if o.reading {
		fmt.Fprintf(&b, " read=%d", o.read)
	}
	if o.status != cdcFailed || o.published+o.duplicate > 0 {
		fmt.Fprintf(&b, " published=%d duplicate=%d", o.published, o.duplicate)
	}
	if len(o.missing) > 0 {
		b.WriteString(" missing=" + strings.Join(o.missing, ","))
	}
	if len(o.ids) > 0 {
		b.WriteString(" ids=" + value(strings.Join(o.ids, ",")))
	}
	if o.err != nil {
		b.WriteString(": " + o.err.Error())
	}
	return b.String()
}

// cdcCounts are the outcomes of a run: messages per status, and events.
type cdcCounts struct {
	mu        sync.Mutex
	messages  map[string]int
	published int
	duplicate int
}

func (c *cdcCounts) add(o cdcOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.messages == nil {
		c.messages = map[string]int{}
	}
	c.messages[o.status]++
	c.published += o.published
	c.duplicate += o.duplicate
}

func (c *cdcCounts) count(status string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.messages[status]
}

func (c *cdcCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := make([]string, len(cdcStatuses))
	for i, s := range cdcStatuses {
		parts[i] = fmt.Sprintf("%d %s", c.messages[s], s)
	}
	return fmt.Sprintf("messages: %s; events: %d published, %d duplicate", strings.Join(parts, ", "), c.published, c.duplicate)
}

// cdcIngester decodes CDC messages and publishes what they ask for.
type cdcIngester struct {
	js      jetstream.JetStream
	dec     *salesforce.CDCDecoder
	users   userReader // nil: gap and overflow events fail
	timeout time.Duration
	orgID   string
}

// ingest handles one message: decode, then publish its events, or read
// and publish the users of a gap or overflow. It returns once every
// publish is acknowledged (or one failed).
func (in *cdcIngester) ingest(ctx context.Context, msg []byte) cdcOutcome {
	res, err := in.dec.Decode(msg)
	o := cdcOutcome{change: res.Header.ChangeType}
	switch {
	case err != nil:
		o.status, o.err = cdcRejected, err
		return o
	case res.Ignored != "":
		o.status, o.reason = cdcIgnored, res.Ignored
		return o
	case res.Overflow:
		o.status, o.reading = cdcOverflow, true
		in.resyncAll(ctx, &o)
		return o
	case len(res.GapIDs) > 0:
		o.status, o.reading = cdcGap, true
		in.readGap(ctx, res.GapIDs, &o)
		return o
	}

	// Check every event as syncworker will decode it before publishing
	// any: a message is published whole or rejected.
	for _, env := range res.Events {
		body, err := env.Marshal()
		if err == nil {
			_, _, err = validate(body)
		}
		if err != nil {
			o.status, o.err = cdcRejected, err
			return o
		}
		o.ids = append(o.ids, env.ID)
	}
	for _, env := range res.Events {
		if err := in.publish(ctx, env, &o); err != nil {
			o.status, o.err = cdcFailed, err
			return o
		}
	}
	o.status = cdcPublished
	if o.published == 0 {
		o.status = cdcDuplicate
	}
	return o
}

// publish publishes env and counts the stream's answer.
func (in *cdcIngester) publish(ctx context.Context, env events.Envelope, o *cdcOutcome) error {
	pctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	res, err := bus.Publish(pctx, in.js, env)
	if err != nil {
		return err
	}
	if res.Duplicate {
		o.duplicate++
	} else {
		o.published++
	}
	return nil
}

// readGap reads the users of a gap event and publishes their snapshots.
func (in *cdcIngester) readGap(ctx context.Context, ids []string, o *cdcOutcome) {
	if in.users == nil {
		o.status, o.err = cdcFailed, errNoUserReader
		return
	}
	users, err := in.users.QueryUsers(ctx, ids)
	if err != nil {
		o.status, o.err = cdcFailed, fmt.Errorf("read %d users: %w", len(ids), err)
		return
	}
	found := map[string]bool{}
	for _, u := range users {
		o.read++
		if k, err := events.UserKey(u.ID); err == nil {
			found[k] = true
		}
		if err := in.publishSnapshot(ctx, u, o); err != nil {
			o.status, o.err = cdcFailed, err
			return
		}
	}
	for _, id := range ids {
		if !found[id] {
			o.missing = append(o.missing, id)
		}
	}
}

// resyncAll reads every user and publishes their snapshots.
func (in *cdcIngester) resyncAll(ctx context.Context, o *cdcOutcome) {
	if in.users == nil {
		o.status, o.err = cdcFailed, errNoUserReader
		return
	}
	err := in.users.ForEachUser(ctx, func(u events.User) error {
		o.read++
		return in.publishSnapshot(ctx, u, o)
	})
	if err != nil {
		o.status, o.err = cdcFailed, fmt.Errorf("resynchronise all users: %w", err)
	}
}

// publishSnapshot publishes a user's current state as read over REST.
func (in *cdcIngester) publishSnapshot(ctx context.Context, u events.User, o *cdcOutcome) error {
	env, err := snapshotEnvelope(in.orgID, u)
	if err != nil {
		return err
	}
	body, err := env.Marshal()
	if err == nil {
		_, _, err = validate(body)
	}
	if err != nil {
		return fmt.Errorf("user %s: %w", u.ID, err)
	}
	return in.publish(ctx, env, o)
}

// snapshotEnvelope is the salesforce.user.changed event of a user read over
// REST. Its id, sf-snapshot-<user ID>-<SystemModstamp in ms>, names the
// state read: reading the same state again gives the same id, a duplicate.
func snapshotEnvelope(orgID string, u events.User) (events.Envelope, error) {
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
