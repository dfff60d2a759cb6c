package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// Defaults of StreamsConfig and ConsumerConfig.
const (
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultDLQMaxAge       = 30 * 24 * time.Hour
	DefaultDurable         = "syncworker"
	DefaultAckWait         = 30 * time.Second
	DefaultMaxAckPending   = 1000
)

// StreamsConfig configures VCCSYNC and VCCSYNC_DLQ.
type StreamsConfig struct {
	// Replicas of both streams; default 1 (3 on a three-node cluster).
	Replicas int
	// DuplicateWindow of VCCSYNC; default 2m.
	DuplicateWindow time.Duration
	// MaxAge of VCCSYNC; default 0, no limit (messages leave when acked).
	MaxAge time.Duration
	// DLQMaxAge of VCCSYNC_DLQ; default 30 days.
	DLQMaxAge time.Duration
	// Storage of both streams; default file. The zero value of
	// jetstream.StorageType is file storage.
	Storage jetstream.StorageType
}

func (c StreamsConfig) withDefaults() StreamsConfig {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.MaxAge < 0 {
		c.MaxAge = 0
	}
	if c.DLQMaxAge <= 0 {
		c.DLQMaxAge = DefaultDLQMaxAge
	}
	return c
}

// MainStreamConfig is the configuration EnsureStreams gives VCCSYNC.
func MainStreamConfig(cfg StreamsConfig) jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	return jetstream.StreamConfig{
		Name:        events.Stream,
		Description: "vccsync: Salesforce user events and admin commands",
		Subjects:    []string{events.SubjectAll},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		Storage:     cfg.Storage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
	}
}

// DLQStreamConfig is the configuration EnsureStreams gives VCCSYNC_DLQ.
func DLQStreamConfig(cfg StreamsConfig) jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	return jetstream.StreamConfig{
		Name:        events.DLQStream,
		Description: "vccsync: dead-lettered messages",
		Subjects:    []string{events.DLQSubjectAll},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.DLQMaxAge,
		Storage:     cfg.Storage,
		Replicas:    cfg.Replicas,
	}
}

// EnsureStreams creates VCCSYNC and VCCSYNC_DLQ, or updates them to cfg.
// It is idempotent: with an unchanged cfg a second call changes nothing.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamsConfig) error {
	for _, sc := range []jetstream.StreamConfig{MainStreamConfig(cfg), DLQStreamConfig(cfg)} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// ConsumerConfig configures the worker's durable pull consumer on VCCSYNC.
type ConsumerConfig struct {
	// Durable name; default "syncworker".
	Durable string
	// FilterSubject; default events.SubjectAll.
	FilterSubject string
	// AckWait before an unacked message is redelivered; default 30s.
	AckWait time.Duration
	// MaxAckPending bounds the messages delivered and not yet acked;
	// default 1000.
	MaxAckPending int
}

// PullConsumerConfig is the configuration EnsureConsumer gives the consumer.
func PullConsumerConfig(cfg ConsumerConfig) jetstream.ConsumerConfig {
	if cfg.Durable == "" {
		cfg.Durable = DefaultDurable
	}
	if cfg.FilterSubject == "" {
		cfg.FilterSubject = events.SubjectAll
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = DefaultMaxAckPending
	}
	return jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "vccsync worker",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		FilterSubject: cfg.FilterSubject,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		MaxAckPending: cfg.MaxAckPending,
	}
}

// EnsureConsumer creates the durable pull consumer on VCCSYNC, or updates it
// to cfg, and returns it. MaxDeliver is -1: the worker dead-letters a message
// itself when its retries are exhausted (see the package documentation).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig) (jetstream.Consumer, error) {
	cc := PullConsumerConfig(cfg)
	c, err := js.CreateOrUpdateConsumer(ctx, events.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, events.Stream, err)
	}
	return c, nil
}
