package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vccsync/vccsync/pkg/metrics"
)

// The VCC client's observer interface.
var _ interface {
	ObserveRequest(method, route string, status int, d time.Duration)
} = (*metrics.Metrics)(nil)

func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

func TestNames(t *testing.T) {
	m, reg := newMetrics(t)
	// Touch every vector so that it has a series to gather.
	m.EventsReceived.WithLabelValues("salesforce.user.changed").Inc()
	m.Events.WithLabelValues("salesforce.user.changed", metrics.OutcomeApplied).Inc()
	m.HandlerDuration.WithLabelValues("salesforce.user.changed").Observe(0.01)
	m.EventLag.Observe(1)
	m.ObserveRequest("GET", "/users/{id}", 200, 20*time.Millisecond)
	m.Retries.WithLabelValues("salesforce.user.changed", "429").Inc()
	m.Inflight.Set(3)
	m.BatchCommitDuration.Observe(0.002)
	m.BatchSize.Observe(10)
	m.SetReady(true)
	m.ConsumerPending.WithLabelValues("syncworker").Set(5)
	m.ConsumerAckPending.WithLabelValues("syncworker").Set(1)

	want := map[string]struct {
		typ    dto.MetricType
		labels []string
	}{
		"vccsync_events_received_total":         {dto.MetricType_COUNTER, []string{"type"}},
		"vccsync_events_total":                  {dto.MetricType_COUNTER, []string{"outcome", "type"}},
		"vccsync_handler_duration_seconds":      {dto.MetricType_HISTOGRAM, []string{"type"}},
		"vccsync_event_lag_seconds":             {dto.MetricType_HISTOGRAM, nil},
		"vccsync_time_to_deprovision_seconds":   {dto.MetricType_HISTOGRAM, nil},
		"vccsync_borrowed_messages_total":       {dto.MetricType_COUNTER, nil},
		"vccsync_vcc_requests_total":            {dto.MetricType_COUNTER, []string{"method", "route", "status"}},
		"vccsync_vcc_request_duration_seconds":  {dto.MetricType_HISTOGRAM, []string{"method", "route"}},
		"vccsync_retries_total":                 {dto.MetricType_COUNTER, []string{"reason", "type"}},
		"vccsync_dlq_messages_total":            {dto.MetricType_COUNTER, []string{"class"}},
		"vccsync_inflight_messages":             {dto.MetricType_GAUGE, nil},
		"vccsync_batch_commit_duration_seconds": {dto.MetricType_HISTOGRAM, nil},
		"vccsync_batch_size":                    {dto.MetricType_HISTOGRAM, nil},
		"vccsync_ready":                         {dto.MetricType_GAUGE, nil},
		"vccsync_quarantined":                   {dto.MetricType_GAUGE, nil},
		"vccsync_quarantine_transitions_total":  {dto.MetricType_COUNTER, []string{"state"}},
		"vccsync_consumer_pending":              {dto.MetricType_GAUGE, []string{"consumer"}},
		"vccsync_consumer_ack_pending":          {dto.MetricType_GAUGE, []string{"consumer"}},
		"vccsync_vcc_rate_limit_per_minute":     {dto.MetricType_GAUGE, nil},
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	for name, w := range want {
		mf, ok := got[name]
		if !ok {
			t.Errorf("%s: not registered", name)
			continue
		}
		if mf.GetType() != w.typ {
			t.Errorf("%s: type %s, want %s", name, mf.GetType(), w.typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s: no help", name)
		}
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		if !slices.Equal(labels, w.labels) {
			t.Errorf("%s: labels %v, want %v", name, labels, w.labels)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected metric %s", name)
		}
	}

	// The exported name constants agree.
	for _, name := range []string{
		metrics.EventsReceivedName, metrics.EventsName, metrics.HandlerDurationName,
		metrics.EventLagName, metrics.DeprovisionName, metrics.BorrowedName, metrics.VCCRequestsName, metrics.VCCRequestDurationName,
		metrics.RetriesName, metrics.DLQMessagesName, metrics.InflightName,
		metrics.BatchCommitDurationName, metrics.BatchSizeName, metrics.ReadyName,
		metrics.QuarantinedName, metrics.QuarantineTransitionsName,
	} {
		if _, ok := want[name]; !ok {
			t.Errorf("constant %q is not a metric", name)
		}
	}
}

// vccsync_quarantined follows SetQuarantined; each change, and only a
// change, counts one transition by the state entered, and both series
// exist from the start.
func TestSetQuarantined(t *testing.T) {
	m, reg := newMetrics(t)
	transitions := func() map[string]float64 {
		got := map[string]float64{}
		for _, mt := range family(t, reg, metrics.QuarantineTransitionsName).GetMetric() {
			got[labelValue(mt, "state")] = mt.GetCounter().GetValue()
		}
		return got
	}
	gauge := func() float64 {
		return family(t, reg, metrics.QuarantinedName).GetMetric()[0].GetGauge().GetValue()
	}
	if got := transitions(); len(got) != 2 || got[metrics.StateQuarantined] != 0 || got[metrics.StateResumed] != 0 {
		t.Fatalf("transitions at start = %v, want quarantined and resumed at 0", got)
	}
	for _, step := range []struct {
		on                   bool
		gauge                float64
		quarantined, resumed float64
	}{
		{false, 0, 0, 0},
		{true, 1, 1, 0},
		{true, 1, 1, 0},
		{false, 0, 1, 1},
		{true, 1, 2, 1},
	} {
		m.SetQuarantined(step.on)
		got := transitions()
		if g := gauge(); g != step.gauge || got[metrics.StateQuarantined] != step.quarantined || got[metrics.StateResumed] != step.resumed {
			t.Errorf("after SetQuarantined(%v): gauge %v, transitions %v; want %v, quarantined %v, resumed %v",
				step.on, g, got, step.gauge, step.quarantined, step.resumed)
		}
	}
}

func TestDLQClassesStartAtZero(t *testing.T) {
	_, reg := newMetrics(t)
	mf := family(t, reg, metrics.DLQMessagesName)
	got := map[string]float64{}
	for _, m := range mf.GetMetric() {
		got[labelValue(m, "class")] = m.GetCounter().GetValue()
	}
	want := map[string]float64{"poison": 0, "permanent": 0, "exhausted": 0}
	if len(got) != len(want) {
		t.Errorf("dlq series = %v, want %v", got, want)
	}
	for class := range want {
		if v, ok := got[class]; !ok || v != 0 {
			t.Errorf("dlq{class=%q} = %v (present %v), want 0", class, v, ok)
		}
	}
}

// family gathers reg and returns the named metric family.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// value is the current value of a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("%v is neither a counter nor a gauge", m.Desc())
	return 0
}

func TestObserveRequest(t *testing.T) {
	m, reg := newMetrics(t)
	m.ObserveRequest("GET", "/users/{id}", 200, 10*time.Millisecond)
	m.ObserveRequest("GET", "/users/{id}", 200, 30*time.Millisecond)
	m.ObserveRequest("PUT", "/users/{id}", 429, 5*time.Millisecond)
	m.ObserveRequest("POST", "/users", 0, time.Second)

	tests := []struct {
		method, route, status string
		want                  float64
	}{
		{"GET", "/users/{id}", "200", 2},
		{"PUT", "/users/{id}", "429", 1},
		{"POST", "/users", "error", 1},
	}
	if n := len(family(t, reg, metrics.VCCRequestsName).GetMetric()); n != len(tests) {
		t.Errorf("request series = %d, want %d", n, len(tests))
	}
	for _, tt := range tests {
		got := value(t, m.VCCRequests.WithLabelValues(tt.method, tt.route, tt.status))
		if got != tt.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", tt.method, tt.route, tt.status, got, tt.want)
		}
	}

	for _, metric := range family(t, reg, metrics.VCCRequestDurationName).GetMetric() {
		if labelValue(metric, "method") != "GET" {
			continue
		}
		h := metric.GetHistogram()
		if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.039 || h.GetSampleSum() > 0.041 {
			t.Errorf("GET duration: count %d sum %v, want 2 and 0.04", h.GetSampleCount(), h.GetSampleSum())
		}
		return
	}
	t.Error("no GET duration series")
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func TestSetReady(t *testing.T) {
	m, _ := newMetrics(t)
	m.SetReady(true)
	if v := value(t, m.Ready); v != 1 {
		t.Errorf("ready = %v after SetReady(true)", v)
	}
	m.SetReady(false)
	if v := value(t, m.Ready); v != 0 {
		t.Errorf("ready = %v after SetReady(false)", v)
	}
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	_, reg := newMetrics(t)
	before, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	_, err = metrics.New(reg)
	if err == nil {
		t.Fatal("second New on the same registry succeeded")
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || !strings.Contains(err.Error(), "vccsync_events_received_total") {
		t.Errorf("err = %v, want an AlreadyRegisteredError naming the metric", err)
	}
	after, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("registry has %d families after the failed New, %d before", len(after), len(before))
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustNew on a used registry did not panic")
			}
		}()
		metrics.MustNew(reg)
	}()
}

func TestNewPartialFailureRollsBack(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Something else already owns one of the names.
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.InflightName, Help: "other"}))
	if _, err := metrics.New(reg); err == nil || !strings.Contains(err.Error(), metrics.InflightName) {
		t.Fatalf("err = %v, want one naming %s", err, metrics.InflightName)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != metrics.InflightName {
		t.Errorf("registry after a failed New holds %d families, want only the original", len(mfs))
	}
}

func TestNewNilRegistry(t *testing.T) {
	m, err := metrics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("GET", "/users", 200, time.Millisecond) // usable, just not exported
}

func get(t *testing.T, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	return getCtx(t, t.Context(), h, path)
}

func getCtx(t *testing.T, ctx context.Context, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body), rec.Header()
}

func TestHealthz(t *testing.T) {
	h := metrics.NewHandler(prometheus.NewRegistry(), metrics.Check{Name: "nats", Fn: func(context.Context) error {
		return errors.New("down") // liveness does not depend on readiness
	}})
	code, body, _ := get(t, h, "/healthz")
	if code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		checks     []metrics.Check
		wantCode   int
		wantFailed map[string]string // check name → part of its error
	}{
		{"no checks", nil, http.StatusOK, nil},
		{"all pass", []metrics.Check{{"nats", ok}, {"store", ok}}, http.StatusOK, nil},
		{
			"one fails",
			[]metrics.Check{
				{"nats", ok},
				{"store", func(context.Context) error { return errors.New("bbolt: database not open") }},
			},
			http.StatusServiceUnavailable,
			map[string]string{"store": "bbolt: database not open"},
		},
		{
			"two fail",
			[]metrics.Check{
				{"nats", func(context.Context) error { return errors.New("nats: connection closed") }},
				{"vcc", func(context.Context) error { panic("boom") }},
				{"store", ok},
			},
			http.StatusServiceUnavailable,
			map[string]string{"nats": "connection closed", "vcc": "panic: boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := metrics.NewHandler(prometheus.NewRegistry(), tt.checks...)
			code, body, hdr := get(t, h, "/readyz")
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d; body %s", code, tt.wantCode, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var rep metrics.ReadyReport
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if len(rep.Checks) != len(tt.checks) {
				t.Errorf("report has %d checks, want %d", len(rep.Checks), len(tt.checks))
			}
			for _, c := range rep.Checks {
				want, failing := tt.wantFailed[c.Name]
				if c.OK == failing {
					t.Errorf("check %s: ok = %v, want %v", c.Name, c.OK, !failing)
				}
				if failing && !strings.Contains(c.Error, want) {
					t.Errorf("check %s: error %q, want it to contain %q", c.Name, c.Error, want)
				}
			}
			if wantStatus := map[bool]string{true: "ready", false: "not ready"}[tt.wantCode == http.StatusOK]; rep.Status != wantStatus {
				t.Errorf("status = %q, want %q", rep.Status, wantStatus)
			}
		})
	}
}

func TestReadyzTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := metrics.NewHandler(prometheus.NewRegistry(),
		metrics.Check{Name: "respects-ctx", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		metrics.Check{Name: "ignores-ctx", Fn: func(context.Context) error { <-release; return nil }},
	)
	// The request's deadline, shorter than CheckTimeout, bounds the checks.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, body, _ := getCtx(t, ctx, h, "/readyz")
	if d := time.Since(start); d > metrics.CheckTimeout/2 {
		t.Errorf("/readyz took %s", d)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "respects-ctx") || !strings.Contains(body, "ignores-ctx") {
		t.Errorf("/readyz = %d %s, want 503 naming both checks", code, body)
	}
	if !strings.Contains(body, "no answer after") {
		t.Errorf("/readyz body %s does not say the check did not answer", body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m, reg := newMetrics(t)
	m.Events.WithLabelValues("salesforce.user.changed", metrics.OutcomeApplied).Add(3)
	h := metrics.NewHandler(reg)
	code, body, _ := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`vccsync_events_total{outcome="applied",type="salesforce.user.changed"} 3`,
		`vccsync_dlq_messages_total{class="poison"} 0`,
		`vccsync_ready 0`,
		`# TYPE vccsync_event_lag_seconds histogram`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("/metrics serves the default registry's collectors")
	}
	if code, _, _ := get(t, h, "/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d, want 404", code)
	}
}
