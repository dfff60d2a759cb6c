package worker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/worker"
)

// noopHandler applies every event without calling anything.
type noopHandler struct{}

func (noopHandler) Handle(_ context.Context, ev *events.Event, prev State) (worker.Result[State], error) {
	prev.Key, prev.LastEventID = ev.UserKey, ev.ID
	prev.Applied++
	return worker.Result[State]{State: prev, Outcome: metrics.OutcomeApplied}, nil
}

const (
	benchEvents = 20000
	benchUsers  = 2000
)

// publishBench publishes benchEvents events of benchUsers users, ids
// prefixed with prefix, and waits for every PubAck.
func publishBench(b *testing.B, h *harness, users []string, prefix string) {
	b.Helper()
	for i := range benchEvents {
		id := fmt.Sprintf("%s%d", prefix, i)
		env := userChanged(b, users[i%len(users)], id)
		body, err := env.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		subject, err := env.NATSSubject()
		if err != nil {
			b.Fatal(err)
		}
		msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
		msg.Header.Set(events.HeaderMsgID, id)
		if _, err := h.js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 {
			// The server syncs every write: keep the acks in flight
			// below the client's limit.
			<-h.js.PublishAsyncComplete()
		}
	}
	select {
	case <-h.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}
	if n := h.streamMsgs(b, events.Stream); n != benchEvents {
		b.Fatalf("%s holds %d messages, want %d", events.Stream, n, benchEvents)
	}
}

// BenchmarkWorkerThroughput measures events applied per second end to end
// (JetStream → worker → no-op handler → bbolt commit → ack) against the
// raw ceiling of the same machine: a plain consumer that takes and acks
// the same number of messages.
func BenchmarkWorkerThroughput(b *testing.B) {
	h := newHarness(b, 30*time.Second)
	users := make([]string, benchUsers)
	for i := range users {
		users[i] = nthUser(b, i)
	}
	var workerTime, rawTime time.Duration
	b.StopTimer()
	for round := range b.N {
		publishBench(b, h, users, fmt.Sprintf("w%d-", round))
		var applied atomic.Int64
		done := make(chan struct{})
		cfg := h.config()
		cfg.Observe = func(o worker.Outcome) {
			if o.Outcome == metrics.OutcomeApplied && applied.Add(1) == benchEvents {
				close(done)
			}
		}
		w := worker.New[State](cfg, h.cons, h.js, noopHandler{}, h.store, h.m, zap.NewNop())
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { stopped <- w.Run(ctx) }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("worker applied %d of %d events", applied.Load(), benchEvents)
		}
		workerTime += time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-stopped; err != nil {
			b.Fatal(err)
		}
		h.waitWorkQueueEmpty(b)

		publishBench(b, h, users, fmt.Sprintf("r%d-", round))
		start = time.Now()
		it, err := h.cons.Messages(jetstream.PullMaxMessages(2 * 256))
		if err != nil {
			b.Fatal(err)
		}
		for range benchEvents {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		rawTime += time.Since(start)
		it.Stop()
		h.waitWorkQueueEmpty(b)
	}
	total := float64(benchEvents * b.N)
	workerRate, rawRate := total/workerTime.Seconds(), total/rawTime.Seconds()
	b.ReportMetric(workerRate, "worker_events/s")
	b.ReportMetric(rawRate, "raw_events/s")
	b.ReportMetric(workerRate/rawRate, "worker/raw")
}

// BenchmarkCommitWhatIsDone measures how long applied events wait for
// their ack while one user's event is stuck in a slow target call: the
// longest time from the worker's start to the ack (the Observe after the
// commit) of any of 255 other users' events, against the time to the slow
// event's own ack, measured in the same run: how long a batch barrier
// kept them all unacknowledged.
func BenchmarkCommitWhatIsDone(b *testing.B) {
	const slow = 2 * time.Second
	var waits, barrier time.Duration
	for round := range b.N {
		h := newHarness(b, 30*time.Second)
		slowID := fmt.Sprintf("slow-%d", round)
		h.h.on(slowID, sleep(slow))
		h.publish(b, nthUser(b, 0), slowID)
		const fast = 255
		for i := 1; i <= fast; i++ {
			h.publish(b, nthUser(b, i), fmt.Sprintf("fast-%d-%d", round, i))
		}
		var mu sync.Mutex
		var longest time.Duration
		acked := 0
		done := make(chan struct{})
		cfg := h.config()
		start := time.Now()
		var slowAcked time.Duration
		cfg.Observe = func(o worker.Outcome) {
			if o.Outcome != metrics.OutcomeApplied {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if o.EventID == slowID {
				slowAcked = time.Since(start)
			} else {
				longest = max(longest, time.Since(start))
				acked++
			}
			if acked == fast && slowAcked > 0 {
				close(done)
			}
		}
		b.StartTimer()
		h.run(b, cfg, nil)
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d fast events acked", acked, fast)
		}
		b.StopTimer()
		mu.Lock()
		waits += longest
		barrier += slowAcked // what a batch barrier held them all for
		mu.Unlock()
	}
	b.ReportMetric(waits.Seconds()/float64(b.N), "ack-wait-s")
	b.ReportMetric(barrier.Seconds()/float64(b.N), "barrier-ack-wait-s")
	b.ReportMetric(waits.Seconds()/barrier.Seconds(), "ack-wait/barrier")
}
