package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
	"github.com/vccsync/vccsync/pkg/pubsub"
	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
	"github.com/vccsync/vccsync/pkg/salesforce"
	"github.com/vccsync/vccsync/pkg/store"
)

// subscribeOptions are the flags of cdc --subscribe.
type subscribeOptions struct {
	on          bool
	topic       string
	addr        string
	plaintext   bool
	replayFile  string
	start       string
	metricsAddr string
}

// sessionLogin gives the Pub/Sub subscriber the REST client's session.
type sessionLogin struct{ c *salesforce.Client }

func (l sessionLogin) Credentials(ctx context.Context, refresh bool) (pubsub.Credentials, error) {
	s, err := l.c.Session(ctx, refresh)
	return pubsub.Credentials{AccessToken: s.AccessToken, InstanceURL: s.InstanceURL, TenantID: s.OrgID}, err
}

// subscribedSink hands the subscription's events to the bridge.
type subscribedSink struct{ s *bridge.Subscribed }

func (k subscribedSink) Handle(ctx context.Context, ev pubsub.Event) error {
	return k.s.Handle(ctx, ev.SchemaID, ev.SchemaJSON, ev.EventID, ev.ReplayID, ev.Payload)
}

// runSubscribe is cdc --subscribe: a Pub/Sub API subscription whose events
// go through the bridge to JetStream, its replay position in a bbolt file,
// until ctx ends.
//
//	Pub/Sub API ──Subscribe──▶ pubsub.Subscriber ──Event──▶ bridge.Subscribed ──▶ VCCSYNC
//	                                   └──after the PubAck──▶ replay id in --replay-file
//	replay id refused (expired) ──▶ from LATEST, and every user read over REST and published
func runSubscribe(ctx context.Context, a *cli.App, o cdcOptions, cfg bridge.IngesterConfig, sf *salesforce.Client) error {
	start := eventbus.ReplayPreset_LATEST
	switch o.sub.start {
	case "latest":
	case "earliest":
		start = eventbus.ReplayPreset_EARLIEST
	default:
		return cli.Usagef("--start %q: want latest or earliest", o.sub.start)
	}
	log := cli.Logger("auto", a.Stderr)
	defer func() { _ = log.Sync() }()
	replay, err := store.OpenReplayStore(o.sub.replayFile)
	if err != nil {
		return cli.Fail(err)
	}
	defer replay.Close()
	nc, js, err := a.NATS.Stream(ctx, a.Stderr, o.timeout)
	if err != nil {
		return cli.Fail(err)
	}
	defer nc.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Metrics, err = bridge.NewMetrics(reg); err != nil {
		return cli.Fail(err)
	}
	cfg.Publisher, cfg.Users = bridge.JetStream(js), sf
	events, err := bridge.NewSubscribed(cfg, log.Named("cdc"))
	if err != nil {
		return cli.Fail(err)
	}
	resync := make(chan struct{}, 1)
	sub, err := pubsub.New(pubsub.Config{
		Addr: o.sub.addr, Insecure: o.sub.plaintext, Topic: o.sub.topic, StartPreset: start,
		Login: sessionLogin{sf}, Store: replay, Sink: subscribedSink{events},
		OnReplayLost: func() {
			select {
			case resync <- struct{}{}:
			default: // one is pending already
			}
		},
		Logger: log.Named("pubsub"), Registry: reg,
	})
	if err != nil {
		return cli.Usage(err)
	}
	log.Info("subscribing to Salesforce change events", zap.String("topic", o.sub.topic), zap.String("addr", o.sub.addr),
		zap.String("replay_file", replay.Path()))

	gctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 3)
	running := 0
	goRun := func(f func() error) {
		running++
		go func() { err := f(); stop(); done <- err }()
	}
	goRun(func() error { return sub.Run(gctx) })
	goRun(func() error { return resyncOnLoss(gctx, events, resync, log) })
	if o.sub.metricsAddr != "" {
		serve, err := metricsServer(o.sub.metricsAddr, reg, nc, log)
		if err != nil {
			return cli.Usagef("--metrics-listen: %v", err)
		}
		goRun(func() error { return serve(gctx) })
	}
	var first error
	for range running {
		if err := <-done; err != nil && first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	if first != nil {
		log.Error("publisher cdc --subscribe stopped", zap.Error(first))
		return cli.Exit(cli.ExitFail)
	}
	log.Info("stopped")
	return nil
}

// resyncOnLoss reads every user over REST and publishes their snapshots
// each time the replay position is lost, so that the changes the gap may
// hide reach the worker; a failed resync is tried again on the next loss
// and logged loudly.
func resyncOnLoss(ctx context.Context, s *bridge.Subscribed, resync <-chan struct{}, log *zap.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
		}
		log.Error("replay position lost: changes since the last stored event may be missed; reading every user from Salesforce and publishing their snapshots")
		o := s.Resync(ctx)
		if o.Status == bridge.StatusFailed {
			log.Error("resynchronisation after the lost replay position failed: run vccctl reconcile", zap.Error(o.Err))
			continue
		}
		log.Warn("resynchronised after the lost replay position", zap.Int("users_read", o.Read), zap.Int("published", o.Published), zap.Int("duplicate", o.Duplicate))
	}
}

// metricsServer listens on addr and returns the server of /metrics and
// /healthz (ok while NATS is connected), to run until its context ends.
func metricsServer(addr string, reg *prometheus.Registry, nc *nats.Conn, log *zap.Logger) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	health := func() error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats: %s", s)
		}
		return nil
	}
	h := bridge.Routes("/", http.NotFoundHandler(), health, promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	return func(ctx context.Context) error { return bridge.Serve(ctx, ln, h, bridge.ServerConfig{Log: log}) }, nil
}
