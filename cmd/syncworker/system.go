package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/internal/buildinfo"
	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/engine"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/metrics"
	"github.com/vccsync/vccsync/pkg/preflight"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/vcc"
	"github.com/vccsync/vccsync/pkg/worker"
)

// newSystem opens the resources and builds the components; the caller
// runs the worker and the HTTP server and calls close.
func newSystem(o *options, mapping *handlers.Mapping, log *zap.Logger, observe func(worker.Outcome)) (_ *system, err error) {
	sys := &system{}
	defer func() {
		if err != nil {
			sys.close()
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildinfo.Read().Collector("syncworker"))
	if sys.metrics, err = metrics.New(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if sys.db, err = store.Open(filepath.Join(o.dataDir, "vccsync.db"), store.Options{}); err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	db := sys.db
	sys.closers = append(sys.closers, func() { _ = db.Close() })
	nc, cons, prio, err := sys.openNATS(o, log)
	if err != nil {
		return nil, err
	}
	// VCC and Salesforce: real endpoints, or the sandboxes. Every VCC
	// request feeds the metrics and the health the probe judges by.
	vccHealth := worker.NewRequestHealth("VCC")
	m := sys.metrics
	tg, err := newTargets(o, mapping, log, vcc.ObserverFunc(func(method, route string, status int, d time.Duration) {
		m.ObserveRequest(method, route, status, d)
		vccHealth.ObserveRequest(method, route, status, d)
	}), m.VCCRateLimit.Set)
	if err != nil {
		return nil, err
	}
	sys.closers = append(sys.closers, tg.close)
	sys.targets, sys.checks = tg, tg.checks()
	h, err := handlers.New(tg.vcc, engine.Durable{DB: db}, tg.mapping)
	if err != nil {
		return nil, err
	}
	h.SetCaches(handlers.CacheOptions{UserIndexMaxAge: o.vccIndexMaxAge, TemplateMaxAge: o.vccTemplateAge})
	if tg.sf != nil {
		// A partial change event of a user never seen in full is completed
		// by reading the user.
		h.ReadSalesforce(tg.sf)
	}
	if tg.mapping.ManagesContactCenters() {
		if err := h.EnableContactCenters(sfContactCenters{tg.sf}); err != nil {
			return nil, err
		}
	}
	wcfg := worker.Config{BatchSize: o.batchSize, Concurrency: o.concurrency, MaxAttempts: o.attempts,
		AckWait: o.ackWait, RetryInitial: o.retryInitial, RetryMax: o.retryMax, Observe: observe,
		Probe: tg.probe(), Health: vccHealth, Priority: prio}
	sys.worker = worker.New[handlers.State](wcfg, cons, sys.js, engine.Handler{Users: h}, engine.Store{DB: db}, m, log.Named("worker"))
	if err := sys.serveHTTP(o, log, reg, nc); err != nil {
		return nil, err
	}
	return sys, nil
}

// openNATS starts the embedded JetStream server unless --nats-url names
// one, connects, and makes sure the streams and the consumers exist (the
// priority one unless --leavers-first=false).
func (sys *system) openNATS(o *options, log *zap.Logger) (*nats.Conn, jetstream.Consumer, jetstream.Consumer, error) {
	natsURL := o.natsURL
	if natsURL == "" {
		host, port, err := splitHostPort(o.natsListen)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--nats-listen: %w", err)
		}
		sync, err := parseSync(o.natsSync)
		if err != nil {
			return nil, nil, nil, err
		}
		if sync > 0 {
			log.Warn("the embedded JetStream server syncs to disk only every --nats-sync interval: an OS crash or power loss can lose events already acknowledged to Salesforce", zap.Duration("nats_sync", sync))
		}
		dir := filepath.Join(o.dataDir, "jetstream")
		srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: dir, Host: host, Port: port, Logger: log.Named("nats"), SyncInterval: sync})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded NATS: %w", err)
		}
		sys.closers = append(sys.closers, srv.Shutdown)
		natsURL = srv.ClientURL()
		log.Info("embedded JetStream server started", zap.String("url", natsURL), zap.String("store", dir))
	}
	nc, err := bus.Connect(bus.ConnectConfig{URL: natsURL, Name: "vccsync-syncworker", CredsFile: o.natsCreds,
		CACert: o.natsCA, ClientCert: o.natsCert, ClientKey: o.natsKey, Logger: log.Named("nats")})
	if err != nil {
		return nil, nil, nil, err
	}
	sys.closers = append(sys.closers, nc.Close)
	sys.natsURL = natsURL
	if sys.js, err = jetstream.New(nc); err != nil {
		return nil, nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, sys.js, bus.StreamsConfig{DuplicateWindow: o.dupWindow, Replicas: o.streamReplicas}); err != nil {
		return nil, nil, nil, err
	}
	cons, prio, err := bus.EnsureConsumers(ctx, sys.js, bus.ConsumerConfig{AckWait: o.ackWait, MaxAckPending: 4 * o.batchSize, NoPriority: !o.leaversFirst})
	return nc, cons, prio, err
}

// probe is the cheapest call that proves the targets answer: the worker's
// quarantine asks it while paused, and before dead-lettering when VCC's
// recent failure rate cannot tell. A missing template quarantines the
// worker (handlers.ConfigError): the probe keeps it there until the
// template exists.
func (t *targets) probe() func(context.Context) error {
	templates := t.mapping.TemplateUsernames()
	cc := t.mapping.DefaultContactCenter
	for _, id := range t.mapping.ContactCenters {
		if cc == "" {
			cc = id
		}
	}
	return func(ctx context.Context) error {
		if _, err := t.vcc.ListUsers(ctx, vcc.IncludeActive, 1, 1); err != nil {
			return err
		}
		if err := preflight.TemplatesExist(ctx, t.vcc, templates); err != nil {
			return err
		}
		if cc == "" || t.sf == nil {
			return nil
		}
		_, err := t.sf.ContactCenter(ctx, cc)
		return err
	}
}

// serveHTTP builds the HTTP listener of /metrics, /healthz, /readyz (with
// the start-up checks), the status views and, with --pprof, the profiler,
// and the NATS micro service of the status views.
func (sys *system) serveHTTP(o *options, log *zap.Logger, reg *prometheus.Registry, nc *nats.Conn) error {
	ln, err := net.Listen("tcp", o.httpListen)
	if err != nil {
		return fmt.Errorf("--http-listen: %w", err)
	}
	sys.httpLn = ln
	sys.closers = append(sys.closers, func() { _ = ln.Close() })
	mux := http.NewServeMux()
	views := statusView{db: sys.db, w: sys.worker, plan: newPlanner(sys.targets.vcc, sys.db, sys.targets.mapping)}
	views.routes(mux)
	svc, err := views.serveNATS(nc)
	if err != nil {
		return err
	}
	sys.closers = append(sys.closers, func() { _ = svc.Stop() })
	sys.http = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: mux}
	mux.Handle("/", metrics.NewHandler(reg, sys.readiness(nc)...))
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		log.Warn("serving Go's profiler at /debug/pprof/ (--pprof): keep --http-listen private")
	}
	log.Info("serving /metrics /healthz /readyz and /v1/users/{id}/status|history", zap.String("addr", ln.Addr().String()))
	return nil
}

// readiness are the checks of /readyz: JetStream, bbolt, the worker loop,
// and every start-up check.
func (sys *system) readiness(nc *nats.Conn) []metrics.Check {
	js, db, w := sys.js, sys.db, sys.worker
	ready := []metrics.Check{
		{Name: "nats", Fn: func(ctx context.Context) error {
			if s := nc.Status(); s != nats.CONNECTED {
				return fmt.Errorf("connection %s", s)
			}
			_, err := js.Stream(ctx, events.Stream)
			return err
		}},
		{Name: "store", Fn: func(context.Context) error { return db.Check() }},
		{Name: "worker", Fn: func(context.Context) error {
			if !w.Running() {
				return errors.New("not consuming")
			}
			if on, reason, since := w.Quarantined(); on {
				return fmt.Errorf("quarantined since %s: %s", since.UTC().Format(time.RFC3339), reason)
			}
			return nil
		}},
	}
	for _, name := range sys.checks.Names() {
		ready = append(ready, metrics.Check{Name: name, Fn: func(context.Context) error { return sys.checks.Err(name) }})
	}
	return ready
}
