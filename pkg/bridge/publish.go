package bridge

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// Publisher publishes an event with Nats-Msg-Id = its id and returns once
// the stream has acknowledged it (or the context ends): the bridge
// acknowledges to Salesforce only after that. JetStream returns the one
// publisher uses; PublisherFunc adapts a function.
type Publisher interface {
	Publish(ctx context.Context, env events.Envelope) (bus.PublishResult, error)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, env events.Envelope) (bus.PublishResult, error)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, env events.Envelope) (bus.PublishResult, error) {
	return f(ctx, env)
}

var _ Publisher = PublisherFunc(nil)

// JetStream returns the Publisher that publishes to js with bus.Publish:
// on the event's subject, Nats-Msg-Id = the event id, waiting for the
// PubAck. It does not create the stream.
func JetStream(js jetstream.JetStream) Publisher {
	return PublisherFunc(func(ctx context.Context, env events.Envelope) (bus.PublishResult, error) {
		return bus.Publish(ctx, js, env)
	})
}

// publishTimed publishes env and records the time it took under source.
func publishTimed(ctx context.Context, p Publisher, m *Metrics, source string, env events.Envelope) (bus.PublishResult, error) {
	start := time.Now()
	res, err := p.Publish(ctx, env)
	m.PublishDuration.WithLabelValues(source).Observe(time.Since(start).Seconds())
	return res, err
}

// contractError is what syncworker will object to in env when it decodes
// it from the stream (it dead-letters the event with that reason), or nil:
// CheckEvent on env.
func contractError(env events.Envelope) error {
	body, err := env.Marshal()
	if err != nil {
		return err
	}
	_, _, err = CheckEvent(body)
	return err
}

// formatSize writes a size in bytes, KiB or MiB, as publisher's flags do.
func formatSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// quote formats a value for a key=value output line: as is when it is a
// plain token, quoted when it holds spaces, quotes, '=' or control
// characters, so that every line splits the same way (publisher's output
// lines quote alike).
func quote(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}
