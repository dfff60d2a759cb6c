package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
)

// deadLetter publishes the message to the DLQ with the reason headers
// (events.Header*, the dead-letter format pkg/dlq reads), waits for the
// PubAck, then acks the original so it leaves the work queue. If the DLQ
// publish fails, the item turns into a retry so the original is
// redelivered: nothing is lost.
func (w *Worker[S]) deadLetter(ctx context.Context, it *item[S]) {
	m := it.msg
	var seq uint64
	if it.meta != nil {
		seq = it.meta.Sequence.Stream
	}
	h := nats.Header{}
	for k, v := range m.Headers() {
		// Expectations were for the original stream; in the DLQ they would
		// make the publish fail every time.
		if strings.HasPrefix(k, "Nats-Expected-") {
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	// A replayed message failing again keeps the errors of its earlier
	// failures.
	if prev := h.Get(events.HeaderError); prev != "" {
		h.Add(events.HeaderPreviousError, h.Get(events.HeaderErrorClass)+": "+prev)
	}
	orig := h.Get(events.HeaderMsgID)
	if orig != "" {
		h.Set(events.HeaderOriginalMsgID, orig)
	}
	h.Set(events.HeaderMsgID, "dlq:"+strconv.FormatUint(seq, 10)+":"+orig)
	h.Set(events.HeaderError, it.dlqErr.Error())
	h.Set(events.HeaderErrorClass, it.dlqClass)
	h.Set(events.HeaderOriginalSubject, m.Subject())
	h.Set(events.HeaderOriginalSequence, strconv.FormatUint(seq, 10))
	h.Set(events.HeaderDeliveries, strconv.FormatUint(it.deliveries(), 10))
	h.Set(events.HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	dm := &nats.Msg{Subject: events.DLQSubject(m.Subject()), Header: h, Data: m.Data()}

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	fields := []zap.Field{zap.String("subject", m.Subject()), zap.Uint64("seq", seq), zap.String("class", it.dlqClass), zap.Error(it.dlqErr)}
	if it.ev != nil {
		fields = append(fields, zap.String("event_id", it.ev.ID), zap.String("user", it.ev.UserKey))
	}
	if _, err := w.pub.PublishMsg(pctx, dm, jetstream.WithExpectStream(events.DLQStream)); err != nil {
		w.log.Error("dead-letter publish failed; message will be redelivered", append(fields, zap.NamedError("publish_error", err))...)
		it.retry, it.retryErr = w.cfg.RetryInitial, fmt.Errorf("dead-letter publish (%s: %v): %w", it.dlqClass, it.dlqErr, err)
		it.dlqErr, it.dlqClass, it.hasState = nil, "", false
		return
	}
	if err := m.Ack(); err != nil {
		w.log.Warn("ack of dead-lettered message failed", append(fields, zap.NamedError("ack_error", err))...)
	}
	if w.m != nil {
		w.m.DLQMessages.WithLabelValues(it.dlqClass).Inc()
	}
	w.log.Warn("message dead-lettered", fields...)
}
