package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestPprofIsOptIn: the profiler is on the worker's HTTP listener only
// with --pprof; /metrics always says which build runs.
func TestPprofIsOptIn(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	_, url := demoVCC(t)
	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{nil, http.StatusNotFound},
		{[]string{"--pprof"}, http.StatusOK},
	} {
		w := startWorkerWith(t, t.TempDir(), url, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), tc.flags, nil)
		rec := httptest.NewRecorder()
		w.sys.http.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		if rec.Code != tc.want {
			t.Errorf("flags %v: GET /debug/pprof/ = %d, want %d", tc.flags, rec.Code, tc.want)
		}
		rec = httptest.NewRecorder()
		w.sys.http.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if !strings.Contains(rec.Body.String(), `vccsync_build_info{binary="syncworker"`) {
			t.Errorf("/metrics has no vccsync_build_info")
		}
		w.stop()
	}
}
