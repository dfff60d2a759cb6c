package bus

import (
	"context"
	"errors"
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
		Subjects:    []string{events.SubjectAll, events.SubjectAccessAll},
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

// ConsumerConfig configures the worker's durable pull consumers on VCCSYNC.
type ConsumerConfig struct {
	// Durable name; default "syncworker". The priority consumer is named
	// after it, with PrioritySuffix.
	Durable string
	// FilterSubject, when set, is the one subject filter of the consumer,
	// and there is no priority consumer (a partition's filter, say). By
	// default the consumer takes changes and commands (events.SubjectAll)
	// and the priority consumer the access changes
	// (events.SubjectAccessAll); with NoPriority the one consumer takes
	// both.
	FilterSubject string
	// NoPriority turns the priority consumer off (and deletes it if an
	// earlier run made it): access changes wait their turn.
	NoPriority bool
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
	var filters []string
	switch {
	case cfg.FilterSubject != "":
	case cfg.NoPriority:
		filters = []string{events.SubjectAll, events.SubjectAccessAll}
	default:
		cfg.FilterSubject = events.SubjectAll
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = DefaultMaxAckPending
	}
	return jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		Description:    "vccsync worker",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     -1,
		FilterSubject:  cfg.FilterSubject,
		FilterSubjects: filters,
		ReplayPolicy:   jetstream.ReplayInstantPolicy,
		MaxAckPending:  cfg.MaxAckPending,
	}
}

// PrioritySuffix names the priority consumer after the main one.
const PrioritySuffix = "-priority"

// HasPriority reports whether cfg gives the worker a priority consumer.
func (cfg ConsumerConfig) HasPriority() bool { return cfg.FilterSubject == "" && !cfg.NoPriority }

// PriorityConsumerConfig is the configuration of the priority consumer:
// like the main one, on events.SubjectAccessAll.
func PriorityConsumerConfig(cfg ConsumerConfig) jetstream.ConsumerConfig {
	cc := PullConsumerConfig(cfg)
	cc.Durable += PrioritySuffix
	cc.Description = "vccsync worker: access changes, ahead of the rest"
	cc.FilterSubject, cc.FilterSubjects = events.SubjectAccessAll, nil
	return cc
}

// EnsureConsumers creates or updates the worker's consumers and returns
// them: the main one and, unless cfg turns it off, the priority one (nil
// otherwise). VCCSYNC is a work queue, whose consumers may not overlap: the
// main consumer is narrowed before the priority one is made, and the
// priority one deleted before the main one widens again.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig) (main, priority jetstream.Consumer, err error) {
	pc := PriorityConsumerConfig(cfg)
	if !cfg.HasPriority() {
		err := js.DeleteConsumer(ctx, events.Stream, pc.Durable)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, nil, fmt.Errorf("delete consumer %s on %s: %w", pc.Durable, events.Stream, err)
		}
	}
	main, err = EnsureConsumer(ctx, js, cfg)
	if err != nil || !cfg.HasPriority() {
		return main, nil, err
	}
	priority, err = js.CreateOrUpdateConsumer(ctx, events.Stream, pc)
	if err != nil {
		return nil, nil, fmt.Errorf("ensure consumer %s on %s: %w", pc.Durable, events.Stream, err)
	}
	return main, priority, nil
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
