package main

import (
	"context"
	"fmt"
	"io"
	"net"
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
	h := bridge.Routes("", bridge.NewIngestHandler(in, counts, stdout), nil, metrics)
	err = bridge.Serve(ctx, ln, h, bridge.ServerConfig{Grace: 30 * time.Second})
	fmt.Fprintln(stderr, counts)
	if err != nil {
		return cli.Fail(err)
	}
	return nil
}
