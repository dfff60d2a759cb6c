package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// The access watch subscribes, reads the floor, and asks a run to read
// the stream only for a user with an access change published.
func TestAccessWatch(t *testing.T) {
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := bus.Connect(bus.ConnectConfig{URL: srv.ClientURL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	// Run's context has no deadline.
	run, stop := context.WithCancel(context.Background())
	defer stop()
	a := newAccessWatch(run, nc, stream, zap.NewNop())
	if !a.live {
		t.Fatal("the watch did not subscribe: every run would read the stream")
	}
	const leaver, other = "0055e000001AbcdAAC", "0055e000001JaneAAC"
	deadline := time.Now().Add(5 * time.Second)
	for {
		check, _ := a.mayHave(other, 1)
		if !check {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("with no access change in the stream, a run is still asked to read it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := js.Publish(ctx, events.UserPrioritySubject(leaver), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for {
		check, _ := a.mayHave(leaver, 1)
		if check {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an access change published did not mark its user")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if check, _ := a.mayHave(other, 1); check {
		t.Error("another user, below the floor, is asked to read the stream")
	}
}
