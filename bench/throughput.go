package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// throughputResult is what the throughput scenario measured.
type throughputResult struct {
	Events, Users int
	Kind          string             // unchanged or inactive
	Worker        float64            // events a second, end to end
	Raw           float64            // raw Consume()+Ack, events a second
	Watermill     float64            // Watermill's JetStream subscriber, events a second
	Writes        int                // VCC writes the sandbox answered during the timed worker run
	Requests      int                // VCC requests during the timed worker run
	Outcomes      map[string]float64 // vccsync_events_total by outcome, timed run
	WorkerMetrics map[string]float64 // histograms' _sum and _count of the worker's batches, commits and handler, timed run
}

// The consumer of the worker's baseline: the worker's MaxAckPending is
// 4 × --batch-size (256 by default).
const workerMaxAckPending = 4 * 256

// scenarioThroughput measures the real worker consuming events that need no
// VCC write, and a raw consumer and Watermill's subscriber consuming the
// same number of the same messages, on the same JetStream server. With
// memDir set, the JetStream store and the worker's data directory are
// there, on a memory file system where a sync to disk costs nothing: the
// rows say so and carry no goal (the product's figure is the disk's).
func scenarioThroughput(ctx context.Context, e *env, o *options, memDir string) ([]Row, *throughputResult, error) {
	res := &throughputResult{Events: o.events, Users: o.users, Kind: o.eventKind}
	dir, err := e.mkdir("throughput")
	if err != nil {
		return nil, nil, err
	}
	if memDir != "" {
		if dir, err = os.MkdirTemp(memDir, "vccsync-bench-throughput-"); err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
	}
	srv, err := startNATS(filepath.Join(dir, "nats"), true)
	if err != nil {
		return nil, nil, err
	}
	defer stopNATS(srv)
	nc, js, err := connect(srv.ClientURL(), "bench")
	if err != nil {
		return nil, nil, err
	}
	defer nc.Close()
	sb, err := e.startSandbox(ctx, dir, 0)
	if err != nil {
		return nil, nil, err
	}
	defer sb.stop()
	tp, err := startTap(sb.url)
	if err != nil {
		return nil, nil, err
	}
	defer tp.close()

	users, err := makeUsers("tp", 1_000_000, o.users)
	if err != nil {
		return nil, nil, err
	}
	const source = "bench/throughput"
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	spec := workerSpec{name: "syncworker", dir: dir, dataDir: filepath.Join(dir, "data"), natsURL: srv.ClientURL(),
		vccURL: tp.url, vccRate: 0, agentIDs: 50000}

	// Set-up run: the worker creates its streams and consumer and, for
	// unchanged events, links every user to the VCC user made for it
	// (one read each, no write: nothing differs).
	if o.eventKind == "unchanged" {
		e.log.printf("throughput: %d VCC users seeded in the sandbox", len(users))
		vs := make([]vccUser, len(users))
		for i, u := range users {
			vs[i] = u.vcc(10000 + i)
		}
		if _, err := sb.createUsers(ctx, vs); err != nil {
			return nil, nil, err
		}
	}
	w, err := e.startWorker(ctx, spec, true)
	if err != nil {
		return nil, nil, err
	}
	defer func() { w.stop() }()
	if o.eventKind == "unchanged" {
		e.log.printf("throughput: set-up run links the %d users", len(users))
		err := publishAll(ctx, js, len(users), func(i int) (outMsg, error) {
			return userMessage(fmt.Sprintf("tp-link-%06d", i), source, users[i].snapshot(true, t0))
		})
		if err != nil {
			return nil, nil, err
		}
		if _, err := timeDrain(ctx, js, events.Stream, nil, 5*time.Minute, w.alive); err != nil {
			return nil, nil, err
		}
		out, err := w.waitOutcome(ctx, "linked", len(users))
		if err != nil {
			return nil, nil, err
		}
		if int(out["linked"]) != len(users) {
			return nil, nil, fmt.Errorf("set-up run: %d of %d users linked (outcomes %s)", int(out["linked"]), len(users), outcomeString(out))
		}
	}
	w.stop()
	for _, b := range []struct{ stream, prefix string }{{rawStream, rawPrefix}, {wmStream, wmPrefix}} {
		if _, err := js.CreateOrUpdateStream(ctx, likeVCCSYNC(b.stream, b.prefix)); err != nil {
			return nil, nil, err
		}
	}

	want := "unchanged"
	if o.eventKind == "inactive" {
		want = "not_provisioned"
	}
	gen := func(i int) (outMsg, error) {
		u, k := users[i%len(users)], i/len(users)+1
		at := t0.Add(time.Duration(k) * time.Second) // newer each time: never stale
		return userMessage(fmt.Sprintf("tp-%07d", i), source, u.snapshot(o.eventKind == "unchanged", at))
	}
	// Rounds of worker, raw, Watermill: a drift of the machine (the
	// disk's sync rate varies) falls on all three alike.
	var workerTime, rawTime, wmTime time.Duration
	res.Outcomes, res.WorkerMetrics = map[string]float64{}, map[string]float64{}
	for r := range o.rounds {
		lo, hi := r*o.events/o.rounds, (r+1)*o.events/o.rounds
		n := hi - lo
		// The events, published while no worker runs, and the same
		// messages for each baseline on a stream of its own configured
		// like VCCSYNC: the three sets at once (the server syncs each
		// write; syncs of different streams overlap).
		e.log.printf("throughput: round %d of %d: publishing %d %s events of %d users, and as many for each baseline", r+1, o.rounds, n, o.eventKind, len(users))
		if err := publishSets(ctx, srv.ClientURL(), lo, hi, gen); err != nil {
			return nil, nil, err
		}
		for _, stream := range []string{events.Stream, rawStream, wmStream} {
			if m, _, err := streamState(ctx, js, stream); err != nil || m != uint64(n) {
				return nil, nil, fmt.Errorf("%s holds %d messages, want %d (%v)", stream, m, n, err)
			}
		}

		// The worker: from its consumers' first delivery to the last ack.
		before, _, err := consumersState(ctx, js, events.Stream)
		if err != nil {
			return nil, nil, err
		}
		calls := tp.counts()
		if w, err = e.startWorker(ctx, spec, false); err != nil {
			return nil, nil, err
		}
		d, err := timeDrain(ctx, js, events.Stream, before, 10*time.Minute, w.alive)
		if err != nil {
			return nil, nil, err
		}
		got := tp.counts().minus(calls)
		res.Writes, res.Requests = res.Writes+got.writes, res.Requests+got.requests
		out, err := w.waitOutcome(ctx, want, n)
		if err != nil {
			return nil, nil, err
		}
		if m, err := w.metrics(ctx); err == nil {
			for k, v := range m.sums("vccsync_batch_size", "vccsync_batch_commit_duration_seconds", "vccsync_handler_duration_seconds") {
				res.WorkerMetrics[k] += v
			}
			for _, s := range m {
				if s.name == "process_cpu_seconds_total" {
					res.WorkerMetrics[s.name] += s.value
					res.WorkerMetrics["events"] += float64(n)
				}
			}
		}
		w.stop()
		for k, v := range out {
			res.Outcomes[k] += v
		}
		if int(out[want]) != n {
			return nil, nil, fmt.Errorf("round %d: %d of %d events %s (outcomes %s)", r+1, int(out[want]), n, want, outcomeString(out))
		}
		workerTime += d.elapsed()
		e.log.printf("throughput: syncworker %s in %s (%s); at the sandbox: %d VCC writes, %d requests",
			rate(float64(n)/d.elapsed().Seconds()), d.elapsed().Round(time.Millisecond), outcomeString(out), got.writes, got.requests)

		raw, err := rawConsume(ctx, srv.ClientURL(), js)
		if err != nil {
			return nil, nil, fmt.Errorf("raw consume: %w", err)
		}
		rawTime += raw
		e.log.printf("throughput: raw Consume()+Ack %s in %s", rate(float64(n)/raw.Seconds()), raw.Round(time.Millisecond))
		wm, err := watermillConsume(ctx, srv.ClientURL(), js)
		if err != nil {
			return nil, nil, fmt.Errorf("watermill: %w", err)
		}
		wmTime += wm
		e.log.printf("throughput: Watermill %s in %s", rate(float64(n)/wm.Seconds()), wm.Round(time.Millisecond))
	}
	res.Worker = float64(o.events) / workerTime.Seconds()
	res.Raw = float64(o.events) / rawTime.Seconds()
	res.Watermill = float64(o.events) / wmTime.Seconds()

	kind := "a linked user's snapshot with nothing vccsync syncs changed (outcome unchanged)"
	if o.eventKind == "inactive" {
		kind = "an inactive user never synced (outcome not_provisioned)"
	}
	writes := fmt.Sprintf("%d VCC writes", res.Writes)
	if res.Writes != 0 {
		writes = "✗ " + writes
	}
	note := fmt.Sprintf("%s events of %s users, each %s, through the real syncworker (default flags, --vcc-rate 0) "+
		"against the standalone vcc-sandbox; the sandbox answered %s and %d requests in all during the timed runs. "+
		"In %d rounds of worker, raw, Watermill, each round's messages published beforehand; each timed from its consumers' first delivery "+
		"to an empty work queue with nothing unacked (polled every 10 ms). "+
		"One JetStream server in the bench process (file storage, sync always, like the product's default), each consumer on its own stream configured like %s; "+
		"raw: nats.go jetstream Consume() with default options, Ack() each, MaxAckPending %d like the worker's; "+
		"Watermill: watermill-nats/v2 pkg/jetstream subscriber (default consumer and acks: DoubleAck) and a router handler returning nil. "+
		"The worker's /metrics during its runs: %s.",
		group(int64(o.events)), group(int64(o.users)), kind, writes, res.Requests, o.rounds, events.Stream, workerMaxAckPending,
		workerView(res.WorkerMetrics))
	rRaw, vRaw := ratio(res.Worker, res.Raw)
	rWm, vWm := ratio(res.Worker, res.Watermill)
	gRaw, gWm := ratioAtLeast(0.5, "raw"), ratioAtLeast(1, "Watermill")
	rows := []Row{
		{Figure: "no-write events end to end (events/s)", Goal: gRaw.text, Measured: rate(res.Worker),
			Baseline: "raw Consume()+Ack " + rate(res.Raw), Ratio: rRaw, Met: gRaw.judge(res.Worker, res.Raw, vRaw), Note: note},
		{Figure: "no-write events vs Watermill (events/s)", Goal: gWm.text, Measured: rate(res.Worker),
			Baseline: "Watermill JetStream " + rate(res.Watermill), Ratio: rWm, Met: gWm.judge(res.Worker, res.Watermill, vWm)},
	}
	if memDir != "" {
		rows[0].Note = fmt.Sprintf("As the row above, with JetStream's store and the worker's bbolt file on tmpfs (%s), where a sync costs nothing: "+
			"what bounds the worker there is its own CPU, not the disk. The worker's /metrics during its runs: %s.", memDir, workerView(res.WorkerMetrics))
		for i := range rows {
			rows[i].Figure = strings.Replace(rows[i].Figure, "(events/s)", "on tmpfs (events/s)", 1)
			rows[i].Goal, rows[i].Met = "—", 0
		}
	}
	return rows, res, nil
}

// The baselines' streams, configured like VCCSYNC.
const (
	rawStream, rawPrefix = "BENCH_RAW", "benchraw"
	wmStream, wmPrefix   = "BENCH_WATERMILL", "benchwm"
)

// publishSets publishes the messages lo to hi-1 of gen to VCCSYNC, and
// under the baselines' prefixes to theirs, the three at once, each on a
// connection of its own.
func publishSets(ctx context.Context, url string, lo, hi int, gen func(int) (outMsg, error)) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, prefix := range []string{"", rawPrefix, wmPrefix} {
		wg.Go(func() {
			nc, js, err := connect(url, "bench-publish")
			if err != nil {
				errs[i] = err
				return
			}
			defer nc.Close()
			g := func(j int) (outMsg, error) { return gen(lo + j) }
			if prefix != "" {
				g = resubjected(g, prefix)
			}
			errs[i] = publishAll(ctx, js, hi-lo, g)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rawConsume times a plain nats.go jetstream consumer, on a connection of
// its own, taking and acking the messages of rawStream, its consumer
// configured like the worker's.
func rawConsume(ctx context.Context, url string, js jetstream.JetStream) (time.Duration, error) {
	const durable = "raw"
	cc := bus.PullConsumerConfig(bus.ConsumerConfig{Durable: durable, FilterSubject: rawPrefix + ".user.>", MaxAckPending: workerMaxAckPending})
	before, _, err := consumersState(ctx, js, rawStream)
	if err != nil {
		return 0, err
	}
	nc, cjs, err := connect(url, "bench-raw")
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	cons, err := cjs.CreateOrUpdateConsumer(ctx, rawStream, cc)
	if err != nil {
		return 0, err
	}
	consuming, err := cons.Consume(func(m jetstream.Msg) { _ = m.Ack() })
	if err != nil {
		return 0, err
	}
	defer consuming.Stop()
	d, err := timeDrain(ctx, js, rawStream, before, 10*time.Minute, nil)
	if err != nil {
		return 0, err
	}
	return d.elapsed(), nil
}

func resubjected(gen func(int) (outMsg, error), prefix string) func(int) (outMsg, error) {
	return func(i int) (outMsg, error) {
		m, err := gen(i)
		m.subject = resubject(m.subject, prefix)
		return m, err
	}
}

// workerView renders the worker's batch, commit and handler histograms.
func workerView(m map[string]float64) string {
	mean := func(name string) float64 { return m[name+"_sum"] / m[name+"_count"] }
	if m["vccsync_batch_size_count"] == 0 {
		return "no batch metrics"
	}
	cpu := ""
	if m["events"] > 0 {
		cpu = fmt.Sprintf("; the process's CPU (process_cpu_seconds_total, start-up included) %.0f µs an event",
			1e6*m["process_cpu_seconds_total"]/m["events"])
	}
	return fmt.Sprintf("%s bbolt commits of %.1f messages on average, %.1f ms each; handler %.0f µs an event%s",
		group(int64(m["vccsync_batch_size_count"])), mean("vccsync_batch_size"),
		1000*mean("vccsync_batch_commit_duration_seconds"), 1e6*mean("vccsync_handler_duration_seconds"), cpu)
}

// outcomeString renders outcome counts: "unchanged 50000, stale 2".
func outcomeString(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, group(int64(m[k]))))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
