package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
)

// StreamGetter looks a stream up by name. jetstream.JetStream implements
// it; when the Publisher given to New does too, a starting worker finds the
// messages a worker before it left unacknowledged (see adoptOrphans).
type StreamGetter interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// adoptOrphans makes per-user order survive a crash. Messages a worker had
// fetched and not acked when it died come back only after their AckWait
// (or their NakWithDelay), while the user's later messages are delivered
// at once. The consumer's state says which stream sequences may be such
// orphans: delivered, above the ack floor. Of those, the ones still in the
// stream are unacknowledged (VCCSYNC is a work queue: an acked message is
// removed), so each is recorded as pending for its user, exactly as if
// this worker had naked it: the user's later messages wait for it.
//
// It reads the consumer's info and, for every orphan, one message of the
// stream (skipping acked ones with a subject-filtered lookup), so the cost
// is bounded by the consumer's MaxAckPending.
func (w *Worker[S]) adoptOrphans(ctx context.Context, info *jetstream.ConsumerInfo) error {
	floor, top := info.AckFloor.Stream, info.Delivered.Stream
	if top <= floor {
		return nil
	}
	sg, ok := w.pub.(StreamGetter)
	if !ok {
		w.log.Warn("cannot read the stream (the publisher is not a worker.StreamGetter): messages left unacknowledged by a worker that died may be applied after a later message of the same user",
			zap.Uint64("ack_floor", floor), zap.Uint64("delivered", top))
		return nil
	}
	stream, err := sg.Stream(ctx, info.Stream)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", info.Stream, err)
	}
	filter := info.Config.FilterSubject
	if filter == "" {
		filter = events.SubjectAll
	}
	due := time.Now().Add(w.cfg.AckWait)
	adopted, users := 0, map[string]bool{}
	for seq := floor + 1; seq <= top; {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("read stream %s at sequence %d: %w", info.Stream, seq, err)
		}
		if msg.Sequence > top {
			break
		}
		seq = msg.Sequence + 1
		key, ok := userKeyOf(msg.Subject)
		if !ok {
			continue // poison: it holds nobody back
		}
		w.holdMu.Lock()
		w.pend(key, msg.Sequence, time.Until(due))
		w.holdMu.Unlock()
		adopted++
		users[key] = true
	}
	if adopted > 0 {
		w.log.Info("messages left unacknowledged by an earlier worker: each user's later messages wait for them",
			zap.Int("messages", adopted), zap.Int("users", len(users)), zap.Uint64("ack_floor", floor), zap.Uint64("delivered", top))
	}
	return nil
}

// userKeyOf is the user key of a user subject, as events.Decode gives it.
func userKeyOf(subject string) (string, bool) {
	p, err := events.ParseSubject(subject)
	if err != nil {
		return "", false
	}
	key, err := events.UserKey(p.UserID)
	return key, err == nil
}
