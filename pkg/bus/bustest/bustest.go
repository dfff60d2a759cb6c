// Package bustest starts what tests of vccsync need of NATS: a real
// embedded JetStream server in a temporary directory, a connection, and
// the streams syncworker creates. NATS is never mocked; this is the one
// place tests get it from.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/bus"
)

// Start starts an embedded JetStream server for the test, with the
// streams syncworker creates when withStreams, and returns a client and
// the server; both stop when the test ends.
func Start(t testing.TB, withStreams bool) (jetstream.JetStream, *bus.Embedded) {
	t.Helper()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := bus.Connect(bus.ConnectConfig{URL: srv.ClientURL(), Name: t.Name()})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	if withStreams {
		if err := bus.EnsureStreams(Context(t), js, bus.StreamsConfig{}); err != nil {
			t.Fatalf("EnsureStreams: %v", err)
		}
	}
	return js, srv
}

// Context is the test's context, bounded to 10 seconds.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
