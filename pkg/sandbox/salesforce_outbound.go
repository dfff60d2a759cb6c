package sandbox

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outbound message constants.
const (
	SOAPEnvelopeNS        = "http://schemas.xmlsoap.org/soap/envelope/"
	SFOutboundNS          = "http://soap.sforce.com/2005/09/outbound"
	SFEnterpriseSObjectNS = "urn:sobject.enterprise.soap.sforce.com"
	// SFMaxNotificationsPerMessage is the most notifications one outbound
	// message carries.
	SFMaxNotificationsPerMessage = 100
)

// SFDefaultOutboundBackoff is the default retry schedule: growing
// intervals, at most two hours apart.
var SFDefaultOutboundBackoff = []time.Duration{
	15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
	16 * time.Minute, 32 * time.Minute, 64 * time.Minute, 2 * time.Hour,
}

// OutboundOptions configures an [OutboundSender]. Zero values take the
// defaults.
type OutboundOptions struct {
	// URL is the listener's endpoint (required).
	URL string
	// Fields are the User fields selected in the outbound message
	// definition (default: all of SFUserFields). Id is always sent.
	Fields []string
	// BatchSize is the most notifications per message, 1 to 100 (default 100).
	BatchSize int
	// Backoff is the delay before each retry of a message that was not
	// acknowledged: the n-th failure waits Backoff[n-1], the last entry
	// repeating (default SFDefaultOutboundBackoff). Entries must be positive.
	Backoff []time.Duration
	// MaxAge is how long a notification is retried before it is dropped
	// (default 24h).
	MaxAge time.Duration
	// Timeout is how long a delivery waits for the listener's answer
	// (default 60s).
	Timeout time.Duration
	// DuplicateRate is the probability (0..1) that an acknowledged message
	// is delivered once more.
	DuplicateRate float64
	// ActionID is the outbound message definition's ID (default DemoSFActionID).
	ActionID string
	// EnterpriseURL and PartnerURL default to the org's instance URL plus
	// /services/Soap/c/61.0/<org> and /services/Soap/u/61.0/<org>.
	EnterpriseURL, PartnerURL string
	// HTTPClient sends the messages (default: a client with Timeout).
	HTTPClient *http.Client
	// PollInterval is how often Run looks for due work when not woken by a
	// change (default 50ms).
	PollInterval time.Duration
	// DeliveryLogLimit is how many deliveries [OutboundSender.Deliveries]
	// keeps (default 10000).
	DeliveryLogLimit int
	// Now is the sender's clock for retries and ages (default time.Now).
	Now func() time.Time
}

// OutboundStats counts an [OutboundSender]'s work.
type OutboundStats struct {
	Queued       int // notifications queued (one per user change)
	Messages     int // messages formed from queued notifications
	Attempts     int // deliveries attempted (retries, duplicates and late deliveries included)
	Acknowledged int // deliveries acknowledged (duplicates included)
	Failed       int // deliveries not acknowledged
	Duplicates   int // deliveries of already acknowledged messages
	Late         int // deliveries held back and sent after a later message (DelayNext)
	Dropped      int // notifications dropped after MaxAge
	// Pending is the number of notifications not yet acknowledged: queued,
	// waiting for a retry or held back.
	Pending int
	// PendingMessages is the number of messages not yet acknowledged.
	PendingMessages int
	Held            int // messages held back by DelayNext
}

// OutboundDelivery is one delivery attempt.
type OutboundDelivery struct {
	Message         int // the message's sequence number (a duplicate has its original's)
	Attempt         int // 1 for a message's first delivery
	NotificationIDs []string
	UserIDs         []string
	Duplicate       bool // a re-send of an acknowledged message
	Late            bool // rendered earlier and sent after a later message
	Status          int  // the listener's HTTP status; 0 when there was no answer
	Acked           bool
	Err             string // why the delivery was not acknowledged
	At              time.Time
}

// OutboundSender sends Salesforce outbound messages to a listener the way
// Salesforce does: a notification per user change, 1 to 100 per SOAP
// message, each carrying the record's data at send time, retried as a
// whole until acknowledged with <Ack>true</Ack> in a 200 reply. It can
// also deliver a message again after its ack and deliver out of order.
type OutboundSender struct {
	sf          *Salesforce
	opts        OutboundOptions
	client      *http.Client
	unsubscribe func()
	wake        chan struct{}
	runMu       sync.Mutex // one delivery pass at a time

	mu        sync.Mutex
	queue     []outboundNote
	msgs      []*outboundMessage
	msgSeq    int
	paused    bool
	closed    bool
	dupNext   int
	delayNext int
	stats     OutboundStats
	log       []OutboundDelivery
}

type outboundNote struct {
	id, userID string
	queued     time.Time
}

type outboundMessage struct {
	seq      int
	notes    []outboundNote
	created  time.Time // when the oldest notification was queued
	attempts int
	next     time.Time
	dup      bool
	held     bool   // held back by DelayNext until a later message is acknowledged
	heldBody []byte // rendered when held
	late     bool   // released: its next delivery is late
}

// NewOutboundSender returns a sender that queues a notification for every
// change of a user of sf from now on. Nothing is sent until Run, Drain or
// DeliverDue is called.
func NewOutboundSender(sf *Salesforce, opts OutboundOptions) (*OutboundSender, error) {
	if opts.URL == "" {
		return nil, errors.New("outbound sender: URL is required")
	}
	fields := []string{SFFieldID}
	if opts.Fields == nil {
		opts.Fields = SFUserFields
	}
	for _, f := range opts.Fields {
		name, ok := sfFieldByLower[strings.ToLower(f)]
		if !ok {
			return nil, fmt.Errorf("outbound sender: unknown User field %q", f)
		}
		if !slices.Contains(fields, name) {
			fields = append(fields, name)
		}
	}
	slices.SortFunc(fields[1:], func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	opts.Fields = fields
	switch {
	case opts.BatchSize == 0:
		opts.BatchSize = SFMaxNotificationsPerMessage
	case opts.BatchSize < 0 || opts.BatchSize > SFMaxNotificationsPerMessage:
		return nil, fmt.Errorf("outbound sender: batch size %d, want 1 to %d", opts.BatchSize, SFMaxNotificationsPerMessage)
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = SFDefaultOutboundBackoff
	}
	for _, d := range opts.Backoff {
		if d <= 0 {
			return nil, fmt.Errorf("outbound sender: backoff %v, want positive delays", d)
		}
	}
	opts.Backoff = slices.Clone(opts.Backoff)
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.DuplicateRate < 0 || opts.DuplicateRate > 1 {
		return nil, fmt.Errorf("outbound sender: duplicate rate %v, want 0 to 1", opts.DuplicateRate)
	}
	if opts.ActionID == "" {
		opts.ActionID = DemoSFActionID
	}
	id, ok := sfNormalizeID(opts.ActionID, SFPrefixAction)
	if !ok {
		return nil, fmt.Errorf("outbound sender: action ID %q is not 04k…", opts.ActionID)
	}
	opts.ActionID = id
	if opts.PollInterval <= 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if opts.DeliveryLogLimit == 0 {
		opts.DeliveryLogLimit = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o := &OutboundSender{sf: sf, opts: opts, client: opts.HTTPClient, wake: make(chan struct{}, 1)}
	if o.client == nil {
		o.client = &http.Client{Timeout: opts.Timeout}
	}
	o.unsubscribe = sf.subscribe(o.enqueue)
	return o, nil
}

// enqueue queues a notification for a user; it is called with the org's
// lock held and takes only the sender's.
func (o *OutboundSender) enqueue(userID string) {
	id := sfMakeID(SFPrefixNotification, o.sf.idSeq.Add(1))
	now := o.opts.Now()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.queue = append(o.queue, outboundNote{id: id, userID: userID, queued: now})
	o.stats.Queued++
	o.mu.Unlock()
	o.poke()
}

// Enqueue queues a notification for a user without changing it, as if the
// user had changed.
func (o *OutboundSender) Enqueue(userID string) error {
	u, ok := o.sf.User(userID)
	if !ok {
		return fmt.Errorf("outbound sender: user %s not found", userID)
	}
	o.enqueue(u.ID)
	return nil
}

func (o *OutboundSender) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close stops queueing notifications for changes. Messages already queued
// are still delivered by Run, Drain and DeliverDue.
func (o *OutboundSender) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.mu.Unlock()
	o.unsubscribe()
}

// Pause stops deliveries (notifications keep being queued) until Resume.
func (o *OutboundSender) Pause() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paused = true
}

// Resume ends a Pause.
func (o *OutboundSender) Resume() {
	o.mu.Lock()
	o.paused = false
	o.mu.Unlock()
	o.poke()
}

// DuplicateNext makes the next n acknowledged messages be delivered once
// more right after their ack (same notification IDs, the records' data at
// that time), as Salesforce sometimes does.
func (o *OutboundSender) DuplicateNext(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dupNext = max(n, 0)
}

// DelayNext holds back the next n messages that fall due: each is
// rendered then, with the records' data of that moment, and delivered
// only after a later message has been acknowledged, so the listener gets
// it out of order with older data. A held message waits until a later
// message is acknowledged.
func (o *OutboundSender) DelayNext(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delayNext = max(n, 0)
}

// Stats returns the counters.
func (o *OutboundSender) Stats() OutboundStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.stats
	st.Pending = len(o.queue)
	for _, m := range o.msgs {
		if m.dup {
			continue
		}
		st.Pending += len(m.notes)
		st.PendingMessages++
		if m.held {
			st.Held++
		}
	}
	if len(o.queue) > 0 {
		st.PendingMessages += (len(o.queue) + o.opts.BatchSize - 1) / o.opts.BatchSize
	}
	return st
}

// Deliveries returns copies of the latest delivery attempts, oldest first.
func (o *OutboundSender) Deliveries() []OutboundDelivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.log)
	for i := range out {
		out[i].NotificationIDs = slices.Clone(out[i].NotificationIDs)
		out[i].UserIDs = slices.Clone(out[i].UserIDs)
	}
	return out
}

// Run delivers messages as they fall due until ctx is done; it returns nil
// then.
func (o *OutboundSender) Run(ctx context.Context) error {
	for {
		o.DeliverDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(o.untilDue())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain delivers until nothing is pending (every notification acknowledged
// or dropped, every duplicate sent), waiting out the retry delays; it
// returns ctx's error if ctx ends first.
func (o *OutboundSender) Drain(ctx context.Context) error {
	for {
		o.DeliverDue(ctx)
		o.mu.Lock()
		idle := len(o.queue) == 0 && len(o.msgs) == 0
		o.mu.Unlock()
		if idle {
			return nil
		}
		t := time.NewTimer(o.untilDue())
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// untilDue is how long to wait for the next due message, at most
// PollInterval.
func (o *OutboundSender) untilDue() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	wait := o.opts.PollInterval
	if o.paused {
		return wait
	}
	if len(o.queue) > 0 {
		return 0
	}
	now := o.opts.Now()
	for _, m := range o.msgs {
		if !m.held {
			wait = min(wait, max(m.next.Sub(now), 0))
		}
	}
	return wait
}

// DeliverDue makes one pass: it forms messages from the queued
// notifications and delivers every message due now (at most once each,
// released late messages and duplicates included). It returns the number
// of deliveries attempted.
func (o *OutboundSender) DeliverDue(ctx context.Context) int {
	o.runMu.Lock()
	defer o.runMu.Unlock()
	tried := map[*outboundMessage]bool{}
	n := 0
	for ctx.Err() == nil {
		m, hold := o.nextDue(tried)
		if m == nil {
			break
		}
		if hold {
			body := o.render(m)
			o.mu.Lock()
			m.heldBody = body
			o.mu.Unlock()
			continue
		}
		tried[m] = true
		o.deliver(ctx, m)
		n++
	}
	return n
}

// nextDue forms messages, drops expired ones and returns the first due
// message not tried in this pass; hold reports that it is to be held back.
func (o *OutboundSender) nextDue(tried map[*outboundMessage]bool) (*outboundMessage, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.paused {
		return nil, false
	}
	now := o.opts.Now()
	for len(o.queue) > 0 {
		n := min(len(o.queue), o.opts.BatchSize)
		o.msgSeq++
		o.msgs = append(o.msgs, &outboundMessage{seq: o.msgSeq, notes: slices.Clone(o.queue[:n]), created: o.queue[0].queued, next: now})
		o.queue = o.queue[n:]
		o.stats.Messages++
	}
	o.msgs = slices.DeleteFunc(o.msgs, func(m *outboundMessage) bool {
		if !m.dup && now.Sub(m.created) > o.opts.MaxAge {
			o.stats.Dropped += len(m.notes)
			return true
		}
		return false
	})
	for _, m := range o.msgs {
		if tried[m] || m.held || m.next.After(now) {
			continue
		}
		if !m.dup && !m.late && o.delayNext > 0 {
			o.delayNext--
			m.held = true
			return m, true
		}
		return m, false
	}
	return nil, false
}

// deliver sends one message and records the outcome.
func (o *OutboundSender) deliver(ctx context.Context, m *outboundMessage) {
	o.mu.Lock()
	body, late := m.heldBody, m.late
	m.heldBody, m.late = nil, false
	o.mu.Unlock()
	if body == nil {
		body = o.render(m)
	}
	status, acked, why := o.post(ctx, body)

	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	m.attempts++
	d := OutboundDelivery{Message: m.seq, Attempt: m.attempts, Duplicate: m.dup, Late: late, Status: status, Acked: acked, Err: why, At: now}
	for _, n := range m.notes {
		d.NotificationIDs = append(d.NotificationIDs, n.id)
		d.UserIDs = append(d.UserIDs, n.userID)
	}
	if limit := o.opts.DeliveryLogLimit; limit > 0 {
		if len(o.log) >= 2*limit {
			o.log = slices.Clone(o.log[len(o.log)-limit:])
		}
		o.log = append(o.log, d)
	}
	o.stats.Attempts++
	if m.dup {
		o.stats.Duplicates++
	}
	if late {
		o.stats.Late++
	}
	if !acked {
		o.stats.Failed++
		if m.dup {
			o.remove(m)
			return
		}
		m.next = now.Add(o.opts.Backoff[min(m.attempts, len(o.opts.Backoff))-1])
		return
	}
	o.stats.Acknowledged++
	o.remove(m)
	if m.dup {
		return
	}
	for _, h := range o.msgs {
		if h.held && h.seq < m.seq {
			h.held, h.late, h.next = false, true, now
		}
	}
	if o.dupNext > 0 || o.opts.DuplicateRate > 0 && mrand.Float64() < o.opts.DuplicateRate {
		o.dupNext = max(o.dupNext-1, 0)
		o.msgs = append(o.msgs, &outboundMessage{seq: m.seq, notes: m.notes, created: m.created, next: now, dup: true, attempts: m.attempts})
	}
}

// remove drops m from the pending messages; the caller holds o.mu.
func (o *OutboundSender) remove(m *outboundMessage) {
	o.msgs = slices.DeleteFunc(o.msgs, func(x *outboundMessage) bool { return x == m })
}

// post sends a message body and reports the status and whether the
// listener acknowledged it.
func (o *OutboundSender) post(ctx context.Context, body []byte) (status int, acked bool, why string) {
	ctx, cancel := context.WithTimeout(ctx, o.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, err.Error()
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	req.Header.Set("Accept", "text/xml")
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, false, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, false, "reading the reply: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if _, fault := parseOutboundAck(b); strings.HasPrefix(fault, "SOAP Fault") {
			msg += ": " + fault
		}
		return resp.StatusCode, false, msg
	}
	ok, why := parseOutboundAck(b)
	return resp.StatusCode, ok, why
}

type outboundAckEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Fault *struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		Response *struct {
			Ack *string `xml:"Ack"`
		} `xml:"notificationsResponse"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// parseOutboundAck reports whether a listener's reply acknowledges the
// message, and why not.
func parseOutboundAck(b []byte) (bool, string) {
	var env outboundAckEnvelope
	if err := xml.Unmarshal(b, &env); err != nil {
		return false, "not a SOAP 1.1 envelope: " + err.Error()
	}
	switch r := env.Body.Response; {
	case env.Body.Fault != nil:
		return false, fmt.Sprintf("SOAP Fault %s: %s", strings.TrimSpace(env.Body.Fault.Code), strings.TrimSpace(env.Body.Fault.String))
	case r == nil:
		return false, "no notificationsResponse in the SOAP body"
	case r.Ack == nil:
		return false, "no Ack in notificationsResponse"
	case strings.TrimSpace(*r.Ack) == "true" || strings.TrimSpace(*r.Ack) == "1":
		return true, ""
	default:
		return false, fmt.Sprintf("Ack %q", strings.TrimSpace(*r.Ack))
	}
}

// render builds the SOAP message of m with the records' current data.
func (o *OutboundSender) render(m *outboundMessage) []byte {
	org := o.sf.OrgID()
	base := o.sf.instanceURL(nil)
	version := strings.TrimPrefix(SFAPIVersion, "v")
	enterprise, partner := o.opts.EnterpriseURL, o.opts.PartnerURL
	if enterprise == "" {
		enterprise = base + "/services/Soap/c/" + version + "/" + org[:15]
	}
	if partner == "" {
		partner = base + "/services/Soap/u/" + version + "/" + org[:15]
	}
	var b bytes.Buffer
	elem := func(indent, name, value string) {
		b.WriteString(indent + "<" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">\n")
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + SOAPEnvelopeNS + `" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n")
	b.WriteString(" <soapenv:Body>\n")
	b.WriteString(`  <notifications xmlns="` + SFOutboundNS + `">` + "\n")
	elem("   ", "OrganizationId", org)
	elem("   ", "ActionId", o.opts.ActionID)
	b.WriteString(`   <SessionId xsi:nil="true"/>` + "\n")
	elem("   ", "EnterpriseUrl", enterprise)
	elem("   ", "PartnerUrl", partner)
	for _, n := range m.notes {
		b.WriteString("   <Notification>\n")
		elem("    ", "Id", n.id)
		open := `    <sObject xsi:type="sf:User" xmlns:sf="` + SFEnterpriseSObjectNS + `"`
		u, ok := o.sf.User(n.userID)
		if !ok {
			b.WriteString(open + "/>\n")
		} else {
			b.WriteString(open + ">\n")
			for _, f := range o.opts.Fields {
				switch v := u.field(f, true).(type) {
				case string:
					elem("     ", "sf:"+f, v)
				case bool:
					elem("     ", "sf:"+f, fmt.Sprint(v))
				}
			}
			b.WriteString("    </sObject>\n")
		}
		b.WriteString("   </Notification>\n")
	}
	b.WriteString("  </notifications>\n")
	b.WriteString(" </soapenv:Body>\n")
	b.WriteString("</soapenv:Envelope>\n")
	return b.Bytes()
}
