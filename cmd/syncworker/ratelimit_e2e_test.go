package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestWorkerFindsVCCsLimit: VCC's fair-usage limit is a few requests a
// minute (240), unknown to the worker, which starts at 3,000. Its VCC calls share
// one adaptive limiter: the first 429s cut the rate to the limit found,
// and vccsync_vcc_rate_limit_per_minute shows it.
func TestWorkerFindsVCCsLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const limit = 240
	sb := sandbox.NewVCC(sandbox.VCCOptions{RateLimitPerMinute: limit})
	if err := sb.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	url, stop, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	w := startWorkerWith(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), []string{"--vcc-rate", "3000"}, nil)
	if got := testutil.ToFloat64(w.sys.metrics.VCCRateLimit); got != 3000 {
		t.Fatalf("rate gauge at start %v, want --vcc-rate 3000", got)
	}

	publishNewUsers(t, w.sys.js, "R", 200)
	deadline := time.Now().Add(45 * time.Second)
	for {
		rate := testutil.ToFloat64(w.sys.metrics.VCCRateLimit)
		if sb.Stats().RateLimited > 0 && rate <= limit {
			t.Logf("429s so far: %d; rate now %.0f a minute", sb.Stats().RateLimited, rate)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rate %.0f a minute after %d 429s: the limiter did not back off to VCC's %d", rate, sb.Stats().RateLimited, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.obs.byOutcome()["dead_lettered"]; got != 0 {
		t.Errorf("%d events dead-lettered while the limit was found", got)
	}
}
