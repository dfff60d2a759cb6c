package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

// Pub/Sub API defaults and limits.
const (
	// PubSubDefaultKeepAlive is how long a subscription stays idle before
	// the server sends a keepalive FetchResponse (Salesforce: 270 s).
	PubSubDefaultKeepAlive = 270 * time.Second
	// PubSubDefaultRetention is how long change events are kept (72 h).
	PubSubDefaultRetention = 72 * time.Hour
	// PubSubMaxRequested is the most events one FetchRequest may ask for.
	PubSubMaxRequested = 100
	// PubSubOverflowRecordID is the record ID of an overflow event, which
	// names no record.
	PubSubOverflowRecordID = "000000000000000AAA"
)

// Pub/Sub API error codes, sent in the error-code trailer of a refused
// call.
const (
	// PubSubErrAuth: missing or invalid accesstoken, instanceurl or
	// tenantid (Unauthenticated; PermissionDenied for another org).
	PubSubErrAuth = "sfdc.platform.eventbus.grpc.service.auth.error"
	// PubSubErrUnavailable: the service is unavailable (Unavailable).
	PubSubErrUnavailable = "sfdc.platform.eventbus.grpc.service.unavailable"
	// PubSubErrRequestedInvalid: num_requested not in 1..100
	// (InvalidArgument).
	PubSubErrRequestedInvalid = "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"
	// PubSubErrReplayIDValidation: CUSTOM without a replay_id
	// (InvalidArgument).
	PubSubErrReplayIDValidation = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
	// PubSubErrReplayIDCorrupted: a replay_id that is not one of a retained
	// event, e.g. past the retention window (InvalidArgument).
	PubSubErrReplayIDCorrupted = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
)

// Messages of refused calls.
const (
	psReplayIDCorruptedMessage  = "The Replay ID validation failed: the replay ID is invalid or outside the retention window."
	psReplayIDValidationMessage = "The Replay ID validation failed: a CUSTOM replay_preset needs a replay_id."
	psRequestedInvalidMessage   = "The number of events requested must be between 1 and 100."
	psAuthMessage               = "An authentication exception occurred. Provide valid authentication via metadata headers."
	psUnavailableMessage        = "The Pub/Sub API service is unavailable."
)

const (
	psSetupOrigin       = "" // changeOrigin of a change made outside the API
	psFirstCommitNumber = 1100662300000
	// psFirstPosition is the bus position of the first event. Events take
	// even positions, two apart; the odd position before an event is the
	// marker a subscription that has seen nothing yet stands at.
	psFirstPosition uint64 = 1 << 20
)

// psSetupUserID is the commitUser of changes made outside the API
// ([Salesforce.AddUser], [Salesforce.ModifyUser], membership through Go):
// the org's administrator working in Setup.
var psSetupUserID = mustSFID18("0055e000000Admn")

// PubSubOptions configures a Pub/Sub sandbox. Zero values take the
// defaults.
type PubSubOptions struct {
	// KeepAlive is how long a subscription may go without a FetchResponse
	// before the server sends one with no events (default 270 s).
	KeepAlive time.Duration
	// Retention is how long events, and so their replay IDs, are kept
	// (default 72 h), by Now.
	Retention time.Duration
	// Now is the clock (default: the org's).
	Now func() time.Time
}

// PubSub is the Salesforce Pub/Sub API (gRPC service eventbus.v1.PubSub)
// of an org: topic /data/UserChangeEvent, whose Avro-encoded change events
// it generates from the changes of the org's users, an in-memory event
// bus with replay IDs and retention, and faults for tests. It is safe for
// concurrent use.
type PubSub struct {
	sf          *Salesforce
	opts        PubSubOptions
	unsubscribe func()

	mu           sync.Mutex
	closed       bool
	last         map[string]psValues // user ID → values as last emitted
	origins      map[string][]*psTx  // user ID → REST transactions in flight that name it
	merging      map[string]*psMerge // user ID → the merge it is part of
	log          []psEvent           // retained events, by position
	nextPos      uint64              // position of the next event (even; markers are odd)
	commitNumber int64               // of the last transaction
	wake         chan struct{}       // closed when the log or the faults change
	streams      int                 // subscriptions started and not ended
	failAfter    int                 // < 0: no fault; else streams end after that many events
}

// psEvent is an event on the bus.
type psEvent struct {
	pos     uint64
	at      time.Time // when it was published, for retention
	id      string
	payload []byte
}

// psTx is a transaction: the changes of one REST request, or one change
// made outside the API.
type psTx struct {
	origin       string
	commitUser   string
	key          string
	seq          int32
	commitNumber int64
}

// NewPubSub returns the Pub/Sub API of sf. It learns the org's users as
// they are now (no event for them) and from then on records a change
// event for each change of a user. Changes made through the REST API are
// attributed to it (changeOrigin, commitUser) only when the org is served
// through [PubSub.SalesforceHandler] or [PubSub.StartSalesforce].
func NewPubSub(sf *Salesforce, opts PubSubOptions) *PubSub {
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = PubSubDefaultKeepAlive
	}
	if opts.Retention <= 0 {
		opts.Retention = PubSubDefaultRetention
	}
	if opts.Now == nil {
		opts.Now = sf.now
	}
	p := &PubSub{
		sf:           sf,
		opts:         opts,
		last:         map[string]psValues{},
		origins:      map[string][]*psTx{},
		merging:      map[string]*psMerge{},
		nextPos:      psFirstPosition,
		commitNumber: psFirstCommitNumber,
		wake:         make(chan struct{}),
		failAfter:    -1,
	}
	// p.mu is held from before the listener is registered until the users
	// are known, so that a change in between waits and is an UPDATE. The
	// org's lock is taken only inside subscribeUsers, before any call of
	// p.onChange (which holds it and waits for p.mu) can start.
	p.mu.Lock()
	users, unsubscribe := sf.subscribeUsers(p.onChange)
	for _, u := range users {
		p.last[u.ID] = psNewUserValues(u, psSetupUserID)
	}
	p.unsubscribe = unsubscribe
	p.mu.Unlock()
	return p
}

// Close stops recording the org's changes. Events already recorded stay
// and subscriptions go on.
func (p *PubSub) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.unsubscribe()
}

// SchemaID is the id of the change event schema: a hash of its JSON.
func (p *PubSub) SchemaID() string { return psUserSchema.id }

// SchemaJSON is the change event schema, as GetSchema returns it.
func (p *PubSub) SchemaJSON() string { return psUserSchema.json }

// Events is the number of events retained on the bus.
func (p *PubSub) Events() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.purgeLocked()
	return len(p.log)
}

// Subscribers is the number of Subscribe streams whose first FetchRequest
// was accepted and that have not ended.
func (p *PubSub) Subscribers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streams
}

// ExpireReplayIDs purges every event retained and invalidates every
// replay ID issued so far: a CUSTOM subscription from one of them is
// refused with replayid.corrupted, as for an event past the retention
// window. Open subscriptions go on with the events published next.
func (p *PubSub) ExpireReplayIDs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = nil
	p.nextPos += 2
	p.broadcastLocked()
}

// FailStreamsAfter makes every Subscribe stream, open or opened later,
// end with status Unavailable (error code service.unavailable) once it
// has delivered n events; 0 ends each stream right after its first
// FetchRequest is accepted. A negative n removes the fault.
func (p *PubSub) FailStreamsAfter(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAfter = max(n, -1)
	p.broadcastLocked()
}

// PublishGap publishes a gap event (header only) for users of the org:
// changeType GAP_CREATE, GAP_UPDATE, GAP_DELETE or GAP_UNDELETE.
func (p *PubSub) PublishGap(changeType string, userIDs ...string) error {
	switch changeType {
	case PubSubGapCreate, PubSubGapUpdate, PubSubGapDelete, PubSubGapUndelete:
	default:
		return fmt.Errorf("pubsub: publish gap: change type %q, want GAP_CREATE, GAP_UPDATE, GAP_DELETE or GAP_UNDELETE", changeType)
	}
	ids, err := p.orgUserIDs(userIDs)
	if err != nil {
		return fmt.Errorf("pubsub: publish gap: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.publishHeaderLocked(changeType, ids)
	return nil
}

// PublishOverflow publishes an overflow event (GAP_OVERFLOW, header only,
// recordIds [PubSubOverflowRecordID]): too many changes in one
// transaction to tell.
func (p *PubSub) PublishOverflow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.publishHeaderLocked(PubSubGapOverflow, []string{PubSubOverflowRecordID})
}

// orgUserIDs returns the 18-character IDs of users of the org, at least
// one.
func (p *PubSub) orgUserIDs(raw []string) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("no user IDs")
	}
	var ids []string
	for _, r := range raw {
		u, ok := p.sf.User(r)
		if !ok {
			return nil, fmt.Errorf("%q is not a user of the org", r)
		}
		if !slices.Contains(ids, u.ID) {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

func (p *PubSub) publishHeaderLocked(changeType string, ids []string) {
	tx := p.newTxLocked(psSetupOrigin, psSetupUserID)
	tx.seq = 1
	p.appendLocked(psHeader{
		changeType: changeType, recordIDs: ids, changeOrigin: tx.origin, transactionKey: tx.key,
		sequenceNumber: tx.seq, commitTimestamp: p.opts.Now().UnixMilli(), commitNumber: tx.commitNumber,
		commitUser: tx.commitUser,
	}, nil, func(string) bool { return false })
}

// newTxLocked starts a transaction; the caller holds p.mu.
func (p *PubSub) newTxLocked(origin, commitUser string) *psTx {
	p.commitNumber++
	if commitUser == "" {
		commitUser = psSetupUserID
	}
	return &psTx{origin: origin, commitUser: commitUser, key: psNewUUID(), commitNumber: p.commitNumber}
}

// psModelledPaths are the fields whose values come from the org's users.
var psModelledPaths = []string{
	SFFieldUsername, psPathFirstName, psPathLastName, SFFieldAlias, SFFieldEmail, SFFieldIsActive,
	SFFieldProfileID, SFFieldCallCenterID, SFFieldFederationIdentifier, SFFieldNVMAgentID, SFFieldLastModifiedDate,
}

// psAudit are the fields every change sets: not a change on their own.
var psAudit = map[string]bool{SFFieldLastModifiedDate: true, psPathLastModifiedByID: true}

// onChange is the org's listener: it is called with the org's lock held,
// so it reads the user without taking it, and takes only p.mu.
func (p *PubSub) onChange(userID string) {
	u, ok := p.sf.userLocked(userID)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	merge := p.merging[userID]
	var tx *psTx
	switch stack := p.origins[userID]; {
	case merge != nil:
		tx = merge.tx
	case len(stack) > 0:
		tx = stack[len(stack)-1]
	default:
		tx = p.newTxLocked(psSetupOrigin, psSetupUserID)
	}
	at := u.LastModifiedDate.UnixMilli()
	old, known := p.last[userID]
	if !known {
		vals := psNewUserValues(u, tx.commitUser)
		p.last[userID] = vals
		tx.seq++
		p.appendLocked(psHeader{
			changeType: PubSubCreate, recordIDs: []string{userID}, changeOrigin: tx.origin, transactionKey: tx.key,
			sequenceNumber: tx.seq, commitTimestamp: at, commitNumber: tx.commitNumber, commitUser: tx.commitUser,
		}, vals, func(string) bool { return true })
		return
	}
	vals := old.clone()
	cur := psUserValues(u)
	for _, path := range psModelledPaths {
		if v, ok := cur[path]; ok {
			vals[path] = v
		} else {
			delete(vals, path)
		}
	}
	vals[psPathLastModifiedByID] = tx.commitUser
	var changed []string
	substantive := false
	for _, path := range psAllPaths {
		if old[path] != vals[path] {
			changed = append(changed, path)
			substantive = substantive || !psAudit[path]
		}
	}
	if !substantive {
		return // e.g. a PATCH of the values already there: only LastModifiedDate moved
	}
	p.last[userID] = vals
	c := psChange{userID: userID, vals: vals, changed: changed, at: at}
	if merge != nil {
		merge.changes = append(merge.changes, c)
		return
	}
	tx.seq++
	p.appendChangeLocked(tx, []string{userID}, c)
}

// psChange is an update of one user: the fields that changed (paths in
// schema order) and the values after it.
type psChange struct {
	userID  string
	vals    psValues
	changed []string
	at      int64
}

// appendChangeLocked publishes an UPDATE of the users of a change: the
// changed fields carry their values (a cleared one is null and listed in
// nulledFields too), every other field is null.
func (p *PubSub) appendChangeLocked(tx *psTx, ids []string, c psChange) {
	changedSet, nulledSet := map[string]bool{}, map[string]bool{}
	for _, path := range c.changed {
		changedSet[path] = true
		if parent, _, nested := strings.Cut(path, "."); nested {
			changedSet[parent] = true
		}
		if c.vals[path] == nil {
			nulledSet[path] = true
		}
	}
	p.appendLocked(psHeader{
		changeType: PubSubUpdate, recordIDs: ids, changeOrigin: tx.origin, transactionKey: tx.key,
		sequenceNumber: tx.seq, commitTimestamp: c.at, commitNumber: tx.commitNumber, commitUser: tx.commitUser,
		changed: psBitmaps(changedSet), nulled: psBitmaps(nulledSet),
	}, c.vals, func(path string) bool { return changedSet[path] })
}

// appendLocked encodes an event and adds it to the bus; the caller holds
// p.mu.
func (p *PubSub) appendLocked(h psHeader, v psValues, include func(string) bool) {
	payload, err := psEncode(h, v, include)
	if err != nil {
		// The values come from the schema's own table: a failure is a bug.
		panic(fmt.Sprintf("sandbox: encode %s change event: %v", h.changeType, err))
	}
	p.purgeLocked()
	p.log = append(p.log, psEvent{pos: p.nextPos, at: p.opts.Now(), id: psNewUUID(), payload: payload})
	p.nextPos += 2
	p.broadcastLocked()
}

// purgeLocked drops the events older than the retention period; the
// caller holds p.mu.
func (p *PubSub) purgeLocked() {
	cutoff := p.opts.Now().Add(-p.opts.Retention)
	n := 0
	for n < len(p.log) && !p.log[n].at.After(cutoff) {
		n++
	}
	if n > 0 {
		p.log = slices.Delete(p.log, 0, n)
	}
}

// baseLocked is the position before the oldest retained event: the
// replay ID of "nothing yet", which EARLIEST starts from.
func (p *PubSub) baseLocked() uint64 {
	if len(p.log) > 0 {
		return p.log[0].pos - 1
	}
	return p.nextPos - 1
}

// headLocked is the position of the newest retained event (the base when
// there is none): where LATEST starts.
func (p *PubSub) headLocked() uint64 {
	if len(p.log) > 0 {
		return p.log[len(p.log)-1].pos
	}
	return p.baseLocked()
}

// indexAfterLocked is the index of the first event after pos.
func (p *PubSub) indexAfterLocked(pos uint64) int {
	return sort.Search(len(p.log), func(i int) bool { return p.log[i].pos > pos })
}

func (p *PubSub) broadcastLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func psReplayID(pos uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, pos)
}

// psNewUUID returns a random version 4 UUID.
func psNewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Start serves the API, plaintext gRPC, on addr (e.g. "127.0.0.1:0").
// hostPort is the bound address; stop (safe to call more than once) ends
// every call and closes the listener.
func (p *PubSub) Start(addr string) (hostPort string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("pubsub sandbox listen %s: %w", addr, err)
	}
	srv := grpc.NewServer()
	p.Register(srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), sync.OnceFunc(srv.Stop), nil
}

// Register registers the API's service, eventbus.v1.PubSub, on s.
func (p *PubSub) Register(s *grpc.Server) {
	eventbus.RegisterPubSubServer(s, &psServer{p: p})
}

// psServer implements eventbus.v1.PubSub.
type psServer struct {
	eventbus.UnimplementedPubSubServer
	p *PubSub
}

// psRefusal is a refused call: its status, error code and message.
type psRefusal struct {
	code      codes.Code
	errorCode string
	msg       string
}

// err turns a refusal into the call's status, with the error code and
// the RPC id in the trailer and the RPC id after the message.
func (r *psRefusal) err(setTrailer func(metadata.MD), rpcID string) error {
	md := metadata.Pairs("rpc-id", rpcID)
	if r.errorCode != "" {
		md.Set("error-code", r.errorCode)
	}
	setTrailer(md)
	return status.Errorf(r.code, "%s rpcId: %s", r.msg, rpcID)
}

func psRefuse(code codes.Code, errorCode, format string, args ...any) *psRefusal {
	return &psRefusal{code: code, errorCode: errorCode, msg: fmt.Sprintf(format, args...)}
}

// authorize checks a call's metadata: accesstoken (a live session of the
// org), instanceurl (an http or https URL) and tenantid (the org ID,
// compared on its first 15 characters).
func (p *PubSub) authorize(ctx context.Context) *psRefusal {
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(key string) string {
		if v := md.Get(key); len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	tok, inst, tenant := get("accesstoken"), get("instanceurl"), get("tenantid")
	var missing []string
	for _, kv := range [][2]string{{"accesstoken", tok}, {"instanceurl", inst}, {"tenantid", tenant}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return psRefuse(codes.Unauthenticated, PubSubErrAuth, "%s Missing: %s.", psAuthMessage, strings.Join(missing, ", "))
	}
	if _, ok := p.sf.sessionUser(tok); !ok {
		return psRefuse(codes.Unauthenticated, PubSubErrAuth, "%s The access token is invalid or expired.", psAuthMessage)
	}
	if u, err := url.Parse(inst); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return psRefuse(codes.Unauthenticated, PubSubErrAuth, "%s instanceurl %q is not a URL.", psAuthMessage, inst)
	}
	org := p.sf.OrgID()
	if len(tenant) < 15 || tenant[:15] != org[:15] {
		return psRefuse(codes.PermissionDenied, PubSubErrAuth, "tenantid %q does not name the org of the access token.", tenant)
	}
	return nil
}

// GetTopic describes /data/UserChangeEvent.
func (s *psServer) GetTopic(ctx context.Context, req *eventbus.TopicRequest) (*eventbus.TopicInfo, error) {
	rpcID := psNewUUID()
	trailer := func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
	if r := s.p.authorize(ctx); r != nil {
		return nil, r.err(trailer, rpcID)
	}
	if req.GetTopicName() != PubSubTopicUser {
		return nil, psRefuse(codes.NotFound, "", "Topic %q not found.", req.GetTopicName()).err(trailer, rpcID)
	}
	return &eventbus.TopicInfo{
		TopicName: PubSubTopicUser, TenantGuid: s.p.sf.OrgID(), CanPublish: false, CanSubscribe: true,
		SchemaId: psUserSchema.id, RpcId: rpcID,
	}, nil
}

// GetSchema returns the change event schema by its id.
func (s *psServer) GetSchema(ctx context.Context, req *eventbus.SchemaRequest) (*eventbus.SchemaInfo, error) {
	rpcID := psNewUUID()
	trailer := func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
	if r := s.p.authorize(ctx); r != nil {
		return nil, r.err(trailer, rpcID)
	}
	if req.GetSchemaId() != psUserSchema.id {
		return nil, psRefuse(codes.NotFound, "", "Schema %q not found.", req.GetSchemaId()).err(trailer, rpcID)
	}
	return &eventbus.SchemaInfo{SchemaJson: psUserSchema.json, SchemaId: psUserSchema.id, RpcId: rpcID}, nil
}
