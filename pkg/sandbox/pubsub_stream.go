package sandbox

import (
	"encoding/binary"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

// Subscribe streams the events of /data/UserChangeEvent. The first
// FetchRequest names the topic and where to start; it and every later
// one add num_requested (1 to 100) to the events the client awaits. The
// server sends events in bus order, never more than awaited; each
// FetchResponse carries latest_replay_id (the replay ID of the last event
// the subscription has reached) and pending_num_requested (awaited, not
// yet sent). After KeepAlive with nothing sent it sends a FetchResponse
// with no events.
func (s *psServer) Subscribe(stream eventbus.PubSub_SubscribeServer) error {
	p := s.p
	ctx := stream.Context()
	rpcID := psNewUUID()
	fail := func(r *psRefusal) error { return r.err(stream.SetTrailer, rpcID) }
	if r := p.authorize(ctx); r != nil {
		return fail(r)
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	if first.GetTopicName() != PubSubTopicUser {
		return fail(psRefuse(codes.NotFound, "", "Topic %q not found.", first.GetTopicName()))
	}
	if r := psCheckRequested(first.GetNumRequested()); r != nil {
		return fail(r)
	}
	cursor, r := p.startSubscription(first)
	if r != nil {
		return fail(r)
	}
	defer func() {
		p.mu.Lock()
		p.streams--
		p.mu.Unlock()
	}()

	more := make(chan int32)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case more <- req.GetNumRequested():
			case <-ctx.Done():
				return
			}
		}
	}()

	awaited := int(first.GetNumRequested())
	delivered := 0
	keepAlive := time.NewTimer(p.opts.KeepAlive)
	defer keepAlive.Stop()
	for {
		batch, latest, wake, failNow := p.fetch(&cursor, awaited, delivered)
		if failNow {
			return fail(psRefuse(codes.Unavailable, PubSubErrUnavailable, "%s", psUnavailableMessage))
		}
		if len(batch) > 0 {
			awaited -= len(batch)
			delivered += len(batch)
			if err := stream.Send(&eventbus.FetchResponse{
				Events: batch, LatestReplayId: latest, RpcId: rpcID, PendingNumRequested: int32(awaited),
			}); err != nil {
				return err
			}
			keepAlive.Reset(p.opts.KeepAlive)
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case n := <-more:
			if r := psCheckRequested(n); r != nil {
				return fail(r)
			}
			awaited += int(n)
		case err := <-recvErr:
			if !errors.Is(err, io.EOF) {
				return err
			}
			recvErr = nil // the client sends no more requests; what it asked for still comes
		case <-keepAlive.C:
			if err := stream.Send(&eventbus.FetchResponse{
				LatestReplayId: latest, RpcId: rpcID, PendingNumRequested: int32(awaited),
			}); err != nil {
				return err
			}
			keepAlive.Reset(p.opts.KeepAlive)
		}
	}
}

func psCheckRequested(n int32) *psRefusal {
	if n < 1 || n > PubSubMaxRequested {
		return psRefuse(codes.InvalidArgument, PubSubErrRequestedInvalid, "%s Got %d.", psRequestedInvalidMessage, n)
	}
	return nil
}

// startSubscription finds where a subscription starts (the position
// after which it delivers) and counts it.
func (p *PubSub) startSubscription(req *eventbus.FetchRequest) (uint64, *psRefusal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.purgeLocked()
	var cursor uint64
	switch req.GetReplayPreset() {
	case eventbus.ReplayPreset_LATEST:
		cursor = p.headLocked()
	case eventbus.ReplayPreset_EARLIEST:
		cursor = p.baseLocked()
	case eventbus.ReplayPreset_CUSTOM:
		raw := req.GetReplayId()
		if len(raw) == 0 {
			return 0, psRefuse(codes.InvalidArgument, PubSubErrReplayIDValidation, "%s", psReplayIDValidationMessage)
		}
		pos, ok := p.replayPositionLocked(raw)
		if !ok {
			return 0, psRefuse(codes.InvalidArgument, PubSubErrReplayIDCorrupted, "%s", psReplayIDCorruptedMessage)
		}
		cursor = pos
	default:
		return 0, psRefuse(codes.InvalidArgument, "", "replay_preset %d is not LATEST, EARLIEST or CUSTOM.", req.GetReplayPreset())
	}
	p.streams++
	return cursor, nil
}

// replayPositionLocked reads a replay ID: valid are the IDs of retained
// events and the base (the ID of "nothing yet" while it is current).
func (p *PubSub) replayPositionLocked(raw []byte) (uint64, bool) {
	if len(raw) != 8 {
		return 0, false
	}
	pos := binary.BigEndian.Uint64(raw)
	if pos == p.baseLocked() {
		return pos, true
	}
	i := p.indexAfterLocked(pos - 1)
	return pos, i < len(p.log) && p.log[i].pos == pos
}

// fetch takes the events after *cursor that a subscription may send now,
// moving the cursor past them. latest is the replay ID of the cursor;
// wake is closed when there may be more; failNow says the injected fault
// ends the stream.
func (p *PubSub) fetch(cursor *uint64, awaited, delivered int) (batch []*eventbus.ConsumerEvent, latest []byte, wake <-chan struct{}, failNow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.purgeLocked()
	if base := p.baseLocked(); *cursor < base {
		*cursor = base // the events it had not reached are gone
	}
	limit := min(awaited, PubSubMaxRequested)
	if p.failAfter >= 0 {
		if delivered >= p.failAfter {
			return nil, nil, nil, true
		}
		limit = min(limit, p.failAfter-delivered)
	}
	for i := p.indexAfterLocked(*cursor); i < len(p.log) && len(batch) < limit; i++ {
		e := p.log[i]
		batch = append(batch, &eventbus.ConsumerEvent{
			Event:    &eventbus.ProducerEvent{Id: e.id, SchemaId: psUserSchema.id, Payload: e.payload},
			ReplayId: psReplayID(e.pos),
		})
		*cursor = e.pos
	}
	return batch, psReplayID(*cursor), p.wake, false
}
