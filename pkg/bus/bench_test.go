package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
)

// BenchmarkEmbeddedSync measures what syncing every write costs the
// embedded server, with the default "always" against NATS's own default
// interval of two minutes, in the same run: synchronous publishes (each
// waits for its PubAck, as publisher serve does before acking Salesforce)
// per second, and messages consumed and acked per second (an ack removes
// the message from the work queue, a write that is synced too).
func BenchmarkEmbeddedSync(b *testing.B) {
	const msgs = 2000
	rate := func(interval time.Duration) (pub, ack float64) {
		srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: b.TempDir(), Port: -1, SyncInterval: interval})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		nc, err := bus.Connect(bus.ConnectConfig{URL: srv.ClientURL(), Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
			b.Fatal(err)
		}
		body := make([]byte, 600) // about an outbound-message event
		start := time.Now()
		for i := range msgs {
			if _, err := js.Publish(ctx, "vccsync.user.0055e000001JaneAAC.changed", body, jetstream.WithMsgID(fmt.Sprint(i))); err != nil {
				b.Fatal(err)
			}
		}
		pub = msgs / time.Since(start).Seconds()

		// Each ack removes a message from the work queue: a write too.
		cons, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(512))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		start = time.Now()
		for range msgs {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		return pub, msgs / time.Since(start).Seconds()
	}
	var pubAlways, pubInterval, ackAlways, ackInterval float64
	for range b.N {
		p, a := rate(0)
		pubAlways, ackAlways = pubAlways+p, ackAlways+a
		p, a = rate(2 * time.Minute)
		pubInterval, ackInterval = pubInterval+p, ackInterval+a
	}
	n := float64(b.N)
	b.ReportMetric(pubAlways/n, "always_publishes/s")
	b.ReportMetric(pubInterval/n, "2m_publishes/s")
	b.ReportMetric(pubAlways/pubInterval, "publish_always/2m")
	b.ReportMetric(ackAlways/n, "always_consume+acks/s")
	b.ReportMetric(ackInterval/n, "2m_consume+acks/s")
	b.ReportMetric(ackAlways/ackInterval, "ack_always/2m")
}
