package main

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// watermillConsume times Watermill's NATS JetStream subscriber
// (watermill-nats/v2 pkg/jetstream) taking the messages of wmStream
// through a router whose handler does nothing and returns nil, so the
// router acks each. The subscriber runs with its defaults (an ephemeral
// consumer on the stream named like the topic, synchronous acks:
// DoubleAck) but a silent logger: its default logger writes a line per
// message.
func watermillConsume(ctx context.Context, url string, js jetstream.JetStream) (time.Duration, error) {
	const stream = wmStream
	before, _, err := consumersState(ctx, js, stream)
	if err != nil {
		return 0, err
	}
	nc, err := nats.Connect(url, nats.Name("bench-watermill"))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	logger := watermill.NopLogger{}
	sub, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{Conn: nc, Logger: logger})
	if err != nil {
		return 0, err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return 0, err
	}
	router.AddConsumerHandler("noop", stream, sub, func(*message.Message) error { return nil })
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runErr error
	stopped := make(chan struct{})
	go func() { runErr = router.Run(rctx); close(stopped) }()
	defer func() {
		_ = router.Close()
		<-stopped
		// The subscriber deletes its consumer on a connection it has
		// already drained, which can fail; a work queue takes only one
		// unfiltered consumer, and the next round makes another.
		if s, err := js.Stream(ctx, stream); err == nil {
			names := s.ConsumerNames(ctx)
			for n := range names.Name() {
				_ = s.DeleteConsumer(ctx, n)
			}
		}
	}()
	select {
	case <-router.Running():
	case <-stopped:
		return 0, errors.Join(errors.New("watermill router stopped"), runErr)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	d, err := timeDrain(ctx, js, stream, before, 10*time.Minute, nil)
	if err != nil {
		return 0, err
	}
	return d.elapsed(), nil
}
