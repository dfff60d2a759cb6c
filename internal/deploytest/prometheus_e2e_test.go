package deploytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// e2eTimeout bounds TestPrometheusEndToEnd once syncworker is built.
const e2eTimeout = 90 * time.Second

// The dashboard's variables, as the test substitutes them.
const (
	jobName      = "vccsync" // the scrape job of deployments/prometheus/prometheus.yml
	rateInterval = "1m"      // $__rate_interval: at least 4 scrape intervals (1s here)
	interval     = "15s"     // $__interval
	rangeWindow  = "5m"      // $__range
)

// emptyPanels are the dashboard targets ("panel title/refId") that may
// return no data from a worker that ran the demo and the second wave of
// TestPrometheusEndToEnd, and why. Every other target must return at least
// one sample that is a number.
var emptyPanels = map[string]string{
	"Quarantined/A":                "vccsync_quarantined: not exported by workers older than the quarantine",
	"Ready and quarantine/B":       "vccsync_quarantined: not exported by workers older than the quarantine",
	"Ready and quarantine/C":       "vccsync_quarantine_transitions_total: not exported by workers older than the quarantine",
	"Retries by reason/A":          "vccsync_retries_total has no series before the first retry, and the demo has no transient failure",
	"VCC requests by status/B":     "status=\"429\": the demo's VCC sandbox never rate-limits",
	"VCC rate: allowed and sent/C": "status=\"429\": the demo's VCC sandbox never rate-limits",
}

// emptyAlerts are the alerting rules whose expression may select nothing
// on a healthy worker that ran the demo, and why. VccsyncDLQGrowing must
// select something: the second wave dead-letters a poison message.
var emptyAlerts = map[string]string{
	"VccsyncWorkerDown":     "the worker is up: up == 0 selects nothing",
	"VccsyncNotReady":       "the worker is ready: vccsync_ready == 0 selects nothing",
	"VccsyncVCCRateLimited": "the demo's VCC sandbox never answers 429",
	"VccsyncHighEventLag":   "the demo's events are applied within seconds, far below the 300s threshold",
	"VccsyncLeaversWaiting": "the leaver of the second wave is archived within seconds, and the priority consumer is left with nothing pending",
	"VccsyncRetryStorm":     "no transient failure is retried in the demo (vccsync_retries_total has no series)",
	"VccsyncQuarantined":    "the worker is not quarantined in the demo (and older workers do not export vccsync_quarantined)",
}

// missingMetrics are the metric names the dashboard or the alerts use that
// a worker that ran the demo may not export, and why.
var missingMetrics = map[string]string{
	"vccsync_quarantined":                  "not exported by workers older than the quarantine",
	"vccsync_quarantine_transitions_total": "not exported by workers older than the quarantine",
	"vccsync_retries_total":                "no series before the first retry",
}

// TestPrometheusEndToEnd runs syncworker --demo and a real Prometheus
// scraping it every second with the alerting rules of
// deployments/prometheus/alerts.yml loaded, then sends a second wave of
// events (updates and a poison message) so that rates and histograms have
// something to show, and queries every dashboard expression, every
// variable and every alert expression: each must be a valid query, and
// each must return data unless it is listed above with its reason.
func TestPrometheusEndToEnd(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus not found: .ci/run installs Debian's prometheus package for this test")
		}
		t.Skip("prometheus not found (apt-get install prometheus): dashboard and alert queries against a live Prometheus skipped")
	}
	worker := buildCommand(t, "syncworker")
	dash := loadDashboard(t)
	rules := loadAlertRules(t)

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	// The worker, fed the demo story.
	natsAddr, httpAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	w := startProcess(t, "syncworker", worker, "--demo",
		"--data-dir", filepath.Join(dir, "worker"),
		"--nats-listen", natsAddr, "--http-listen", httpAddr, "--log-format", "json")
	if err := poll(ctx, 100*time.Millisecond, func() error {
		if w.exited() {
			return stopPolling{fmt.Errorf("syncworker exited: %v", w.err)}
		}
		return httpOK(ctx, "http://"+httpAddr+"/readyz")
	}); err != nil {
		t.Fatalf("syncworker /readyz: %v", err)
	}
	if err := poll(ctx, 100*time.Millisecond, func() error {
		if !strings.Contains(w.stdout.String(), "results per Salesforce user") {
			return errors.New("demo results not printed yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("syncworker demo: %v", err)
	}

	// Prometheus, scraping it every second, with the alerting rules.
	alerts, err := os.ReadFile(filepath.Join(deployments, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	promDir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(promDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(promDir, "alerts.yml"), alerts, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%q]
`, jobName, httpAddr)
	cfgFile := filepath.Join(promDir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "prometheus", prom, "--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	api := &promAPI{base: "http://" + promAddr}
	if err := poll(ctx, 100*time.Millisecond, func() error {
		if p.exited() {
			return stopPolling{fmt.Errorf("prometheus exited: %v", p.err)}
		}
		return httpOK(ctx, api.base+"/-/ready")
	}); err != nil {
		t.Fatalf("prometheus /-/ready: %v", err)
	}

	// A few scrapes, with the target up.
	if err := poll(ctx, 250*time.Millisecond, func() error {
		return api.targetUp(ctx, httpAddr)
	}); err != nil {
		t.Fatalf("prometheus target %s: %v", httpAddr, err)
	}
	if err := poll(ctx, 250*time.Millisecond, func() error {
		v, err := api.scalar(ctx, fmt.Sprintf(`sum(count_over_time(up{job=%q}[1m]))`, jobName))
		if err == nil && v < 3 {
			err = fmt.Errorf("%v scrapes so far", v)
		}
		return err
	}); err != nil {
		t.Fatalf("waiting for 3 scrapes: %v", err)
	}

	// The second wave, once Prometheus has the counters' values after the
	// demo: updates of four demo users (one of them leaves) and one poison
	// message.
	handledQuery := fmt.Sprintf(`sum(vccsync_events_total{job=%q})`, jobName)
	before, err := api.scalar(ctx, handledQuery)
	if err != nil {
		t.Fatalf("events handled before the second wave: %v", err)
	}
	sent := publishWave(ctx, t, natsAddr)
	if err := poll(ctx, 250*time.Millisecond, func() error {
		v, err := api.scalar(ctx, handledQuery)
		if err == nil && v < before+float64(sent) {
			err = fmt.Errorf("%v of %d events of the second wave handled", v-before, sent)
		}
		return err
	}); err != nil {
		t.Fatalf("second wave: %v", err)
	}
	// Two more scrapes (1s apart): rate() sees the wave.
	lastScrape := fmt.Sprintf(`max(timestamp(up{job=%q}))`, jobName)
	waveSeen, err := api.scalar(ctx, lastScrape)
	if err != nil {
		t.Fatalf("last scrape: %v", err)
	}
	if err := poll(ctx, 250*time.Millisecond, func() error {
		v, err := api.scalar(ctx, lastScrape)
		if err == nil && v < waveSeen+1.5 {
			err = fmt.Errorf("last scrape %.3fs after the one that saw the wave", v-waveSeen)
		}
		return err
	}); err != nil {
		t.Fatalf("two scrapes after the second wave: %v", err)
	}

	// Every alerting rule loaded and evaluated without error.
	if err := poll(ctx, 250*time.Millisecond, func() error { return api.rulesHealthy(ctx, rules) }); err != nil {
		t.Errorf("alerting rules in Prometheus: %v", err)
	}

	vars := strings.NewReplacer(
		"${job}", jobName, "$job", jobName,
		"${instance}", httpAddr, "$instance", httpAddr,
		"${__rate_interval}", rateInterval, "$__rate_interval", rateInterval,
		"${__interval}", interval, "$__interval", interval,
		"${__range}", rangeWindow, "$__range", rangeWindow,
		"${datasource}", "",
	)
	substitute := func(where, expr string) string {
		q := vars.Replace(expr)
		if strings.Contains(q, "$") {
			t.Errorf("%s: a variable the test does not know is left in %s", where, q)
		}
		return q
	}

	var report []string
	check := func(where, key, expr string, allowed map[string]string) {
		res, err := api.query(ctx, expr)
		switch reason, ok := allowed[key]; {
		case err != nil:
			t.Errorf("%s: %s: %v", where, expr, err)
			report = append(report, fmt.Sprintf("INVALID  %s", where))
		case res.numbers() > 0:
			report = append(report, fmt.Sprintf("data     %s (%d series)", where, len(res.samples)))
		case ok:
			report = append(report, fmt.Sprintf("empty    %s (allowed: %s)", where, reason))
		case len(res.samples) > 0:
			t.Errorf("%s: %s: only NaN or infinite values %v", where, expr, res.samples)
			report = append(report, fmt.Sprintf("NaN      %s", where))
		default:
			t.Errorf("%s: %s: no data from a worker that ran the demo (if that is expected, add %q to the allowed list with the reason)", where, expr, key)
			report = append(report, fmt.Sprintf("NO DATA  %s", where))
		}
	}

	// Dashboard variables: label_values(SELECTOR, LABEL) must find the
	// worker's job and instance.
	wantLabel := map[string]string{"job": jobName, "instance": httpAddr}
	for _, v := range dash.Templating.List {
		m := labelValues.FindStringSubmatch(v.query())
		if m == nil {
			continue
		}
		where := fmt.Sprintf("variable %s", v.Name)
		res, err := api.query(ctx, substitute(where, m[1]))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		found := false
		for _, s := range res.samples {
			found = found || s.Metric[m[2]] == wantLabel[v.Name]
		}
		if !found {
			t.Errorf("%s: %s gives no series with %s=%q: %v", where, m[1], m[2], wantLabel[v.Name], res.samples)
		}
		report = append(report, fmt.Sprintf("data     %s", where))
	}

	used := map[string]bool{}
	for k := range emptyPanels {
		used[k] = false
	}
	for _, pe := range dash.exprs() {
		key := pe.panel + "/" + pe.refID
		used[key] = true
		check(pe.String(), key, substitute(pe.String(), pe.expr), emptyPanels)
	}
	for k, ok := range used {
		if !ok {
			t.Errorf("emptyPanels lists %q, which is no dashboard target", k)
		}
	}
	for _, r := range rules {
		check("alert "+r.Alert, r.Alert, r.Expr, emptyAlerts)
	}
	for name := range emptyAlerts {
		if !hasRule(rules, name) {
			t.Errorf("emptyAlerts lists %q, which is no alert of alerts.yml", name)
		}
	}

	// Every vccsync metric the dashboard and the alerts name is exported,
	// unless listed with the reason it may be missing.
	names, err := api.metricNames(ctx)
	if err != nil {
		t.Fatalf("metric names: %v", err)
	}
	var all []string
	for _, pe := range dash.exprs() {
		all = append(all, pe.expr)
	}
	for _, r := range rules {
		all = append(all, r.Expr)
	}
	for _, name := range metricNames(all) {
		if names[name] {
			continue
		}
		if reason, ok := missingMetrics[name]; ok {
			report = append(report, fmt.Sprintf("missing  metric %s (allowed: %s)", name, reason))
			continue
		}
		t.Errorf("metric %s is used by the dashboard or the alerts but not exported by syncworker", name)
	}

	sort.Strings(report)
	t.Logf("queries against Prometheus %s scraping syncworker %s:\n  %s", promAddr, httpAddr, strings.Join(report, "\n  "))
}

// publishWave publishes updates of four demo users (their last names) and
// one poison message to the worker's embedded server, and returns how
// many messages it published.
func publishWave(ctx context.Context, t *testing.T, natsAddr string) int {
	t.Helper()
	nc, err := nats.Connect("nats://"+natsAddr, nats.Name("deploytest"))
	if err != nil {
		t.Fatalf("connect to syncworker's NATS: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	n := 0
	for i, id15 := range []string{"0055e000001Jane", "0055e000001Omar", "0055e000001Prya", "0055e000001Tomb"} {
		id, err := events.NormalizeID(id15)
		if err != nil {
			t.Fatal(err)
		}
		u := events.User{ID: id, LastName: events.Val(fmt.Sprintf("Wave%d", i)),
			SystemModstamp: events.Val(events.Time{Time: now}), ChangedFields: []string{"LastName"}}
		if i == 3 {
			// A leaver: the access change takes the priority consumer,
			// which the Time to deprovision panel shows.
			u.IsActive, u.ChangedFields = events.Val(false), []string{"LastName", "IsActive"}
		}
		env, err := events.NewUserChanged(fmt.Sprintf("deploytest-%d-%d", now.UnixNano(), i), "salesforce/deploytest", now, u)
		if err != nil {
			t.Fatal(err)
		}
		subject, err := env.NATSSubject()
		if err != nil {
			t.Fatal(err)
		}
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(env.ID)); err != nil {
			t.Fatalf("publish %s: %v", env.ID, err)
		}
		n++
	}
	poison := fmt.Sprintf(`{"specversion":"1.0","id":"deploytest-poison-%d","source":"salesforce/deploytest",`+
		`"type":"salesforce.user.changed","subject":"0055e000001Badd","data":{"Id":"0015e000001Badd","IsActive":true}}`, now.UnixNano())
	if _, err := js.Publish(ctx, events.UserChangedSubject("0055e000001Badd"), []byte(poison),
		jetstream.WithMsgID(fmt.Sprintf("deploytest-poison-%d", now.UnixNano()))); err != nil {
		t.Fatalf("publish poison message: %v", err)
	}
	return n + 1
}

// httpOK returns nil when GET url answers 200.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// alertRule is one rule of alerts.yml.
type alertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	var f struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	decodeYAMLFile(t, filepath.Join(deployments, "prometheus", "alerts.yml"), &f)
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml: no rules")
	}
	return out
}

func hasRule(rules []alertRule, name string) bool {
	for _, r := range rules {
		if r.Alert == name {
			return true
		}
	}
	return false
}

// metricName matches a metric name of vccsync.
var metricName = regexp.MustCompile(`\bvccsync_[a-z0-9_]+`)

// metricNames returns the vccsync metric names the expressions use, sorted.
func metricNames(exprs []string) []string {
	set := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// promAPI is a client of the Prometheus HTTP API.
type promAPI struct{ base string }

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// queryResult is an instant query's result, as samples (a scalar is one
// sample without labels).
type queryResult struct{ samples []promSample }

// numbers counts the samples whose value is a finite number.
func (r queryResult) numbers() int {
	n := 0
	for _, s := range r.samples {
		str, _ := s.Value[1].(string)
		if v, err := strconv.ParseFloat(str, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			n++
		}
	}
	return n
}

// get calls a GET endpoint and decodes data; an answer with status other
// than success is an error carrying Prometheus's errorType and error.
func (a *promAPI) get(ctx context.Context, path string, params url.Values, data any) error {
	u := a.base + path
	if params != nil {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: status %q: %s: %s", path, body.Status, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// query runs an instant query.
func (a *promAPI) query(ctx context.Context, q string) (queryResult, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := a.get(ctx, "/api/v1/query", url.Values{"query": {q}}, &data); err != nil {
		return queryResult{}, err
	}
	var res queryResult
	switch data.ResultType {
	case "vector":
		if err := json.Unmarshal(data.Result, &res.samples); err != nil {
			return res, err
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return res, err
		}
		res.samples = []promSample{{Value: v}}
	default:
		return res, fmt.Errorf("result type %q: want an instant vector or a scalar", data.ResultType)
	}
	return res, nil
}

// scalar runs a query that must give one number.
func (a *promAPI) scalar(ctx context.Context, q string) (float64, error) {
	res, err := a.query(ctx, q)
	if err != nil {
		return 0, err
	}
	if len(res.samples) != 1 {
		return 0, fmt.Errorf("%s: %d samples, want 1", q, len(res.samples))
	}
	str, _ := res.samples[0].Value[1].(string)
	return strconv.ParseFloat(str, 64)
}

// targetUp returns nil once the target has been scraped and is up.
func (a *promAPI) targetUp(ctx context.Context, addr string) error {
	var data struct {
		ActiveTargets []struct {
			Labels    map[string]string `json:"labels"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := a.get(ctx, "/api/v1/targets", nil, &data); err != nil {
		return err
	}
	for _, tg := range data.ActiveTargets {
		if tg.Labels["instance"] != addr {
			continue
		}
		if tg.Labels["job"] != jobName || tg.Health != "up" {
			return fmt.Errorf("job %q health %q %s", tg.Labels["job"], tg.Health, tg.LastError)
		}
		return nil
	}
	return errors.New("target not listed yet")
}

// rulesHealthy returns nil when every rule is loaded and its last
// evaluation succeeded.
func (a *promAPI) rulesHealthy(ctx context.Context, rules []alertRule) error {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := a.get(ctx, "/api/v1/rules", nil, &data); err != nil {
		return err
	}
	health := map[string]string{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			health[r.Name] = r.Health
			if r.LastError != "" {
				health[r.Name] += ": " + r.LastError
			}
		}
	}
	var bad []string
	for _, r := range rules {
		if h := health[r.Alert]; h != "ok" {
			bad = append(bad, fmt.Sprintf("%s %q", r.Alert, h))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("not loaded or not healthy: %s", strings.Join(bad, ", "))
	}
	return nil
}

// metricNames returns every metric name Prometheus holds.
func (a *promAPI) metricNames(ctx context.Context) (map[string]bool, error) {
	var names []string
	if err := a.get(ctx, "/api/v1/label/__name__/values", nil, &names); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}
