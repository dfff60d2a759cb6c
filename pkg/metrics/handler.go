package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CheckTimeout bounds each /readyz check (less if the request's own context
// ends sooner). A check still running after it counts as failed.
const CheckTimeout = 2 * time.Second

// Check is one readiness condition: Fn returns nil when the condition holds.
// Fn gets a context that ends after CheckTimeout and should return by then.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// CheckResult is one check's line in the /readyz body.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ReadyReport is the JSON body of /readyz.
type ReadyReport struct {
	Status string        `json:"status"` // "ready" or "not ready"
	Checks []CheckResult `json:"checks"`
}

// NewHandler serves
//
//	/metrics  the metrics gathered from g (Prometheus text or OpenMetrics)
//	/healthz  200 "ok" while the process serves HTTP
//	/readyz   200 when every check passes within CheckTimeout, else 503;
//	          the JSON body (ReadyReport) names each check and the error of
//	          each failing one
//
// The checks run concurrently on every /readyz request.
func NewHandler(g prometheus.Gatherer, checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = fmt.Fprintln(w, "ok")
	})
	cs := append([]Check(nil), checks...)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rep := runChecks(r.Context(), cs)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if rep.Status != "ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
	return mux
}

func runChecks(ctx context.Context, checks []Check) ReadyReport {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()

	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCheck(ctx, c)
		}()
	}
	wg.Wait()

	rep := ReadyReport{Status: "ready", Checks: results}
	for _, r := range results {
		if !r.OK {
			rep.Status = "not ready"
		}
	}
	return rep
}

// runCheck runs one check and gives up on it when ctx ends, leaving a check
// that ignores its context to finish in the background.
func runCheck(ctx context.Context, c Check) CheckResult {
	res := CheckResult{Name: c.Name}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- c.Fn(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.OK = true
	case <-ctx.Done():
		res.Error = fmt.Sprintf("no answer after %s", time.Since(start).Round(time.Millisecond))
	}
	return res
}
