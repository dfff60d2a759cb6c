package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/pkg/bridge"
)

// cdcListen serves cdc --listen: POSTs to bridge.IngestHandler (any
// path), GET /healthz and /metrics beside it, until ctx is done. It prints
// the summary on stderr; the error is a failure to listen or serve.
func cdcListen(ctx context.Context, addr string, cfg bridge.IngesterConfig, counts *bridge.Counts, stdout, stderr io.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := bridge.NewMetrics(reg)
	if err != nil {
		return cli.Fail(err)
	}
	cfg.Metrics = m
	in, err := bridge.NewIngester(cfg)
	if err != nil {
		return cli.Fail(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return cli.Failf("--listen: %v", err)
	}
	fmt.Fprintf(stderr, "publisher cdc: listening on http://%s\n", ln.Addr())
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	err = serveCDC(ctx, ln, cdcRoutes(bridge.NewIngestHandler(in, counts, stdout), metrics), 30*time.Second)
	fmt.Fprintln(stderr, counts)
	if err != nil {
		return cli.Failf("serve: %v", err)
	}
	return nil
}

// cdcRoutes answers GET (and HEAD) /healthz with ok and /metrics with
// metrics, and sends everything else to h.
func cdcRoutes(h, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case "/healthz":
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				fmt.Fprintln(w, "ok")
				return
			case "/metrics":
				metrics.ServeHTTP(w, r)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// serveCDC serves h on ln until ctx is done, then lets the requests in
// flight finish (up to grace).
func serveCDC(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	return err
}
