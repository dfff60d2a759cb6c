package pubsub

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

// Subscriber subscribes to a Pub/Sub API topic and hands its events to a
// Sink. Build it with New; Run subscribes until its context ends.
type Subscriber struct {
	cfg     Config
	log     *zap.Logger
	m       *metrics
	schemas map[string]*eventSchema // by schema id; used by one Run at a time
	running atomic.Bool
}

// New checks cfg, fills in its defaults and registers the metrics on
// cfg.Registry. It does not connect.
func New(cfg Config) (*Subscriber, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Subscriber{
		cfg:     cfg,
		log:     cfg.Logger.With(zap.String("topic", cfg.Topic)),
		m:       m,
		schemas: map[string]*eventSchema{},
	}, nil
}

// Run subscribes to the topic and hands every event to the Sink, in order,
// storing each event's replay id once the Sink has published it. It
// resubscribes after every failure, with backoff, and returns nil when ctx
// ends. It returns an error only for a configuration the server will not
// serve: a gRPC target that cannot be used, a topic that does not exist
// or cannot be subscribed to (ErrCannotSubscribe). One Run at a time per
// Subscriber; Run may be called again after it returned.
func (s *Subscriber) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("pubsub: Run is already running on this Subscriber")
	}
	defer s.running.Store(false)

	if s.cfg.Insecure && !isLoopback(s.cfg.Addr) {
		s.log.Warn("pubsub: dialling without TLS a host that is not loopback: the access token travels in clear text", zap.String("addr", s.cfg.Addr))
	}
	var tc credentials.TransportCredentials
	if s.cfg.Insecure {
		tc = insecure.NewCredentials()
	} else {
		tc = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}) // system roots
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseSize)),
	}, s.cfg.DialOptions...)
	conn, err := grpc.NewClient(s.cfg.Addr, opts...)
	if err != nil {
		return fmt.Errorf("pubsub: client for %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()

	r := &runState{Subscriber: s, client: eventbus.NewPubSubClient(conn), preset: s.cfg.StartPreset}
	return r.run(ctx)
}

// runState is the state of one Run.
type runState struct {
	*Subscriber
	client eventbus.PubSubClient

	creds   Credentials
	refresh bool // the server refused creds: ask Login for new ones

	loaded   bool                  // the stored replay id was read
	position []byte                // the stored replay id; nil: none
	preset   eventbus.ReplayPreset // where to start without a position

	topicChecked bool
}

// outcome is how a subscription attempt ended.
type outcome struct {
	reason  string // Reason*
	err     error
	healthy bool  // it made progress: the backoff starts over
	fatal   error // a configuration error: Run returns it
}

// session is the state of one Subscribe stream.
type session struct {
	started     time.Time
	preset      eventbus.ReplayPreset
	outstanding int         // events requested and not yet received
	unsaved     int         // events received since the last stored position
	progress    bool        // a position was stored
	idle        atomic.Bool // the idle timer cancelled the stream
}

func (r *runState) run(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.cfg.RetryInitial),
		backoff.WithMaxInterval(r.cfg.RetryMax),
		backoff.WithMaxElapsedTime(0),
	)
	for {
		o := r.attempt(ctx)
		if ctx.Err() != nil {
			r.log.Info("pubsub: stopped", zap.String("replay_id", hex.EncodeToString(r.position)))
			return nil
		}
		if o.fatal != nil {
			r.log.Error("pubsub: cannot subscribe", zap.Error(o.fatal))
			return o.fatal
		}
		if o.healthy {
			bo.Reset()
		}
		delay := bo.NextBackOff()
		r.m.reconnects.WithLabelValues(o.reason).Inc()
		r.log.Warn("pubsub: subscription ended, subscribing again",
			zap.String("reason", o.reason), zap.Error(o.err), zap.Duration("backoff", delay),
			zap.String("resume_after", hex.EncodeToString(r.position)))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			r.log.Info("pubsub: stopped", zap.String("replay_id", hex.EncodeToString(r.position)))
			return nil
		case <-t.C:
		}
	}
}

// attempt gets credentials, the stored position and the topic as needed,
// then subscribes until the stream ends.
func (r *runState) attempt(ctx context.Context) outcome {
	c, err := r.cfg.Login.Credentials(ctx, r.refresh)
	if err != nil {
		return outcome{reason: ReasonLogin, err: fmt.Errorf("login (refresh %v): %w", r.refresh, err)}
	}
	if missing := c.missing(); missing != "" {
		return outcome{reason: ReasonLogin, err: fmt.Errorf("login (refresh %v): no %s in the credentials", r.refresh, missing)}
	}
	r.creds, r.refresh = c, false

	if !r.loaded {
		id, err := r.cfg.Store.Load(ctx, r.cfg.Topic)
		if err != nil {
			return outcome{reason: ReasonStore, err: fmt.Errorf("load the stored replay id: %w", err)}
		}
		r.loaded = true
		if len(id) > 0 {
			r.position = bytes.Clone(id)
			r.log.Info("pubsub: resuming after the stored replay id", zap.String("replay_id", hex.EncodeToString(id)))
		} else {
			r.log.Info("pubsub: no replay id stored", zap.Stringer("start", r.preset))
		}
	}

	if !r.topicChecked {
		if o, ok := r.checkTopic(ctx); !ok {
			return o
		}
		r.topicChecked = true
	}
	return r.subscribe(ctx)
}

func (c Credentials) missing() string {
	var m []string
	if c.AccessToken == "" {
		m = append(m, "access token")
	}
	if c.InstanceURL == "" {
		m = append(m, "instance URL")
	}
	if c.TenantID == "" {
		m = append(m, "tenant (org) ID")
	}
	return strings.Join(m, ", ")
}

// authCtx is ctx with the credentials as gRPC metadata.
func (r *runState) authCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx,
		"accesstoken", r.creds.AccessToken,
		"instanceurl", r.creds.InstanceURL,
		"tenantid", r.creds.TenantID)
}

// checkTopic reads the topic and refuses one that cannot be subscribed to.
func (r *runState) checkTopic(ctx context.Context) (outcome, bool) {
	cctx, cancel := context.WithTimeout(r.authCtx(ctx), r.cfg.RPCTimeout)
	defer cancel()
	info, err := r.client.GetTopic(cctx, &eventbus.TopicRequest{TopicName: r.cfg.Topic})
	if err != nil {
		err = fmt.Errorf("GetTopic %s: %w", r.cfg.Topic, err)
		switch status.Code(err) {
		case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument:
			return outcome{fatal: fmt.Errorf("pubsub: %w", err)}, false
		}
		return r.rpcFailed(ReasonTopic, err), false
	}
	if !info.GetCanSubscribe() {
		return outcome{fatal: fmt.Errorf("pubsub: topic %s: %w (the user needs access to it: View All Users for User change events)", r.cfg.Topic, ErrCannotSubscribe)}, false
	}
	r.log.Info("pubsub: topic", zap.String("schema_id", info.GetSchemaId()), zap.String("rpc_id", info.GetRpcId()))
	return outcome{}, true
}

// rpcFailed is the outcome of a failed call: Unauthenticated asks for new
// credentials, anything else is reason.
func (r *runState) rpcFailed(reason string, err error) outcome {
	if status.Code(err) == codes.Unauthenticated {
		r.refresh = true
		return outcome{reason: ReasonUnauthenticated, err: err}
	}
	return outcome{reason: reason, err: err}
}

// subscribe runs one Subscribe stream: the first FetchRequest from the
// stored position (or the preset), then events handed to the Sink one at
// a time, and further FetchRequests as they are handled.
func (r *runState) subscribe(ctx context.Context) outcome {
	sctx, cancel := context.WithCancel(r.authCtx(ctx))
	defer cancel()
	sess := &session{started: time.Now()}
	batch := r.cfg.BatchSize

	req := &eventbus.FetchRequest{TopicName: r.cfg.Topic, NumRequested: int32(batch)}
	if len(r.position) > 0 {
		req.ReplayPreset, req.ReplayId = eventbus.ReplayPreset_CUSTOM, r.position
	} else {
		req.ReplayPreset = r.preset
	}
	sess.preset = req.ReplayPreset

	st, err := r.client.Subscribe(sctx)
	if err != nil {
		return r.streamFailed(ctx, sess, nil, err)
	}
	if err := st.Send(req); err != nil {
		return r.sendFailed(ctx, sess, st, err)
	}
	sess.outstanding = batch
	r.log.Info("pubsub: subscribing", zap.Stringer("preset", req.ReplayPreset),
		zap.String("replay_id", hex.EncodeToString(req.ReplayId)), zap.Int("batch", batch))

	for {
		resp, err := r.recv(sess, st, cancel)
		if err != nil {
			return r.streamFailed(ctx, sess, st, err)
		}
		if len(resp.GetEvents()) == 0 {
			r.keepalive(ctx, sess, resp)
			continue
		}
		for _, ce := range resp.GetEvents() {
			if o, ok := r.event(ctx, sess, ce); !ok {
				return r.finish(ctx, sess, o)
			}
		}
		// Flow control: top the request up to BatchSize once half of it
		// has been received and handled. The server never holds more
		// than BatchSize requests, and has more to send before it runs
		// out.
		if sess.outstanding <= batch/2 {
			n := batch - sess.outstanding
			if err := st.Send(&eventbus.FetchRequest{TopicName: r.cfg.Topic, NumRequested: int32(n)}); err != nil {
				return r.sendFailed(ctx, sess, st, err)
			}
			sess.outstanding = batch
			r.log.Debug("pubsub: requested more events", zap.Int("requested", n), zap.Int32("server_pending", resp.GetPendingNumRequested()))
		}
	}
}

// recv receives the next response; the stream is cancelled if none comes
// within IdleTimeout.
func (r *runState) recv(sess *session, st grpc.BidiStreamingClient[eventbus.FetchRequest, eventbus.FetchResponse], cancel context.CancelFunc) (*eventbus.FetchResponse, error) {
	t := time.AfterFunc(r.cfg.IdleTimeout, func() {
		sess.idle.Store(true)
		cancel()
	})
	defer t.Stop()
	return st.Recv()
}

// keepalive takes a response without events. Its latest replay id is
// stored as the position when the server said it still had requests
// pending: it had nothing more to send, so every event up to that id has
// been received (and, events being handled before the next response is
// read, stored). This keeps the stored id from expiring while the topic
// is quiet, and gives a subscription from LATEST a position before its
// first event.
func (r *runState) keepalive(ctx context.Context, sess *session, resp *eventbus.FetchResponse) {
	latest := resp.GetLatestReplayId()
	r.log.Debug("pubsub: keepalive", zap.String("latest_replay_id", hex.EncodeToString(latest)),
		zap.Int32("server_pending", resp.GetPendingNumRequested()))
	if len(latest) == 0 || resp.GetPendingNumRequested() <= 0 || sess.unsaved > 0 || bytes.Equal(latest, r.position) {
		return
	}
	if err := r.cfg.Store.Save(ctx, r.cfg.Topic, latest); err != nil {
		r.log.Warn("pubsub: storing the keepalive's replay id failed", zap.String("replay_id", hex.EncodeToString(latest)), zap.Error(err))
		return
	}
	r.position = bytes.Clone(latest)
	sess.progress = true
	r.m.positionTime.Set(float64(time.Now().UnixMilli()) / 1000)
}

// event decodes one event, hands it to the Sink and stores its replay id.
func (r *runState) event(ctx context.Context, sess *session, ce *eventbus.ConsumerEvent) (outcome, bool) {
	sess.outstanding = max(sess.outstanding-1, 0)
	sess.unsaved++
	r.m.received.Inc()

	pe := ce.GetEvent()
	replayID := bytes.Clone(ce.GetReplayId())
	if pe == nil {
		return outcome{reason: ReasonDecode, err: fmt.Errorf("event with replay id %x: no event in it", replayID)}, false
	}
	if len(replayID) == 0 {
		return outcome{reason: ReasonDecode, err: fmt.Errorf("event %s: no replay id", pe.GetId())}, false
	}
	sch, err := r.schema(ctx, pe.GetSchemaId())
	if err != nil {
		return r.rpcFailed(ReasonSchema, fmt.Errorf("event %s: %w", pe.GetId(), err)), false
	}
	v, err := decodePayload(sch.avro, pe.GetPayload())
	if err != nil {
		return outcome{reason: ReasonDecode, err: fmt.Errorf("event %s (schema %s): decode the Avro payload: %w", pe.GetId(), sch.id, err)}, false
	}
	payload, err := avroJSON(sch.avro, v)
	if err != nil {
		return outcome{reason: ReasonDecode, err: fmt.Errorf("event %s (schema %s): write the payload as JSON: %w", pe.GetId(), sch.id, err)}, false
	}
	ts, hasTS := commitTimestamp(payload)
	if hasTS {
		r.m.lag.Set(time.Since(time.UnixMilli(ts)).Seconds())
	}

	ev := Event{
		Topic: r.cfg.Topic, EventID: pe.GetId(), SchemaID: sch.id, SchemaJSON: sch.json,
		Payload: payload, ReplayID: bytes.Clone(replayID),
	}
	if err := r.cfg.Sink.Handle(ctx, ev); err != nil {
		return outcome{reason: ReasonSink, err: fmt.Errorf("event %s (replay id %x): handle: %w", pe.GetId(), replayID, err)}, false
	}
	r.m.published.Inc()
	if err := r.cfg.Store.Save(ctx, r.cfg.Topic, replayID); err != nil {
		return outcome{reason: ReasonStore, err: fmt.Errorf("event %s published, but storing its replay id %x failed: %w", pe.GetId(), replayID, err)}, false
	}
	r.position = replayID
	sess.unsaved = 0
	sess.progress = true
	if hasTS {
		r.m.positionTime.Set(float64(ts) / 1000)
	}
	r.log.Debug("pubsub: event published", zap.String("event_id", pe.GetId()), zap.String("replay_id", hex.EncodeToString(replayID)))
	return outcome{}, true
}

// sendFailed finds why a Send failed: io.EOF means the server ended the
// stream, and its status is what Recv returns.
func (r *runState) sendFailed(ctx context.Context, sess *session, st grpc.BidiStreamingClient[eventbus.FetchRequest, eventbus.FetchResponse], err error) outcome {
	if errors.Is(err, io.EOF) {
		for {
			if _, rerr := st.Recv(); rerr != nil {
				err = rerr
				break
			}
		}
	}
	return r.streamFailed(ctx, sess, st, err)
}

// streamFailed classifies the end of a stream.
func (r *runState) streamFailed(ctx context.Context, sess *session, st grpc.BidiStreamingClient[eventbus.FetchRequest, eventbus.FetchResponse], err error) outcome {
	if sess.idle.Load() && ctx.Err() == nil {
		return r.finish(ctx, sess, outcome{reason: ReasonIdle, err: fmt.Errorf("subscribe: nothing received for %v", r.cfg.IdleTimeout)})
	}
	if errors.Is(err, io.EOF) {
		return r.finish(ctx, sess, outcome{reason: ReasonStream, err: errors.New("subscribe: the server ended the stream")})
	}
	var trailer metadata.MD
	if st != nil {
		trailer = st.Trailer()
	}
	err = fmt.Errorf("subscribe: %w", err)
	if sess.preset == eventbus.ReplayPreset_CUSTOM && replayRefused(err, trailer) {
		return r.replayLost(ctx, sess, err, trailer)
	}
	return r.finish(ctx, sess, r.rpcFailed(ReasonStream, err))
}

// finish completes the outcome of a stream: whether it was healthy, and
// whether events were lost with it. Events received from a LATEST
// subscription before any position was stored come again only with
// EARLIEST: when the next subscription is from LATEST, they are lost.
func (r *runState) finish(ctx context.Context, sess *session, o outcome) outcome {
	o.healthy = sess.progress || time.Since(sess.started) >= r.cfg.RetryMax
	if sess.unsaved > 0 && len(r.position) == 0 && r.preset == eventbus.ReplayPreset_LATEST {
		r.log.Error("pubsub: events were received but not published, and no replay id is stored to receive them again: events may have been missed; subscribing from LATEST and asking for a reconcile",
			zap.Int("events", sess.unsaved), zap.Error(o.err))
		r.lose(ctx)
	}
	return o
}

// replayLost handles a stored replay id the server refused.
func (r *runState) replayLost(ctx context.Context, sess *session, err error, trailer metadata.MD) outcome {
	r.log.Error("pubsub: the server refused the stored replay id (invalid, or older than the 72-hour retention): events may have been missed; clearing it, subscribing from LATEST and asking for a reconcile",
		zap.String("replay_id", hex.EncodeToString(r.position)),
		zap.Strings("error_code", trailer.Get(errorCodeKey)), zap.Error(err))
	r.lose(ctx)
	return outcome{reason: ReasonReplayLost, err: err, healthy: sess.progress}
}

// lose gives up the replay position: it clears the stored id, starts the
// next subscription from LATEST and calls OnReplayLost.
func (r *runState) lose(ctx context.Context) {
	r.m.replayLost.Inc()
	if err := r.cfg.Store.Save(ctx, r.cfg.Topic, nil); err != nil {
		r.log.Error("pubsub: clearing the stored replay id failed", zap.Error(err))
	}
	r.position = nil
	r.preset = eventbus.ReplayPreset_LATEST
	if r.cfg.OnReplayLost != nil {
		r.cfg.OnReplayLost()
	}
}

// errorCodeKey is the trailer in which Salesforce names an error.
const errorCodeKey = "error-code"

// Salesforce's error codes for a replay id it will not resume from
// (sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted and
// ….validation.failed), matched by their ends.
var replayErrorCodes = []string{"fetch.replayid.corrupted", "fetch.replayid.validation.failed"}

// replayRefused reports whether a stream error says the replay id of a
// CUSTOM subscription is invalid or expired: InvalidArgument with one of
// replayErrorCodes in the error-code trailer, or, without that trailer,
// a status message about the replay id.
func replayRefused(err error, trailer metadata.MD) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return false
	}
	if codesSent := trailer.Get(errorCodeKey); len(codesSent) > 0 {
		for _, c := range codesSent {
			for _, want := range replayErrorCodes {
				if strings.HasSuffix(strings.TrimSpace(c), want) {
					return true
				}
			}
		}
		return false
	}
	msg := strings.ToLower(st.Message())
	for _, want := range replayErrorCodes {
		if strings.Contains(msg, want) {
			return true
		}
	}
	if !strings.Contains(msg, "replay") {
		return false
	}
	for _, w := range []string{"corrupt", "invalid", "validation", "expired", "retention", "not valid"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}
