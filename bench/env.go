package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// env is what the scenarios share: the module, the temporary directory and
// the binaries built from the module.
type env struct {
	root string
	dir  string
	log  *logger

	workerBin, sandboxBin string
}

// buildBinaries builds the real syncworker and vcc-sandbox from the module,
// with its own go.mod and go.sum, as `make build` does.
func (e *env) buildBinaries(ctx context.Context) error {
	bin := filepath.Join(e.dir, "bin")
	for _, b := range []struct {
		pkg string
		out *string
	}{
		{"github.com/vccsync/vccsync/cmd/syncworker", &e.workerBin},
		{"github.com/vccsync/vccsync/cmd/vcc-sandbox", &e.sandboxBin},
	} {
		*b.out = filepath.Join(bin, filepath.Base(b.pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", *b.out, b.pkg)
		cmd.Dir = e.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// mkdir makes a directory under the run's temporary directory.
func (e *env) mkdir(parts ...string) (string, error) {
	d := filepath.Join(append([]string{e.dir}, parts...)...)
	return d, os.MkdirAll(d, 0o755)
}

// proc is a subprocess with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // once done is closed
}

// startProc starts bin with args, output to logPath. The child runs in its
// own process group (a Ctrl-C at the terminal reaches the bench, which
// stops it in order) and is killed if the bench dies.
func startProc(name, bin string, args []string, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "===== %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// alive returns an error once the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail(3000))
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to 15s, then kills. Safe to call twice.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// tail is the end of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startNATS starts a JetStream server in this process, file storage in
// dir. With syncAlways it syncs every write before it acknowledges it, as
// the product's embedded server does by default (--nats-sync always); else
// it syncs every two minutes (NATS's own default).
func startNATS(dir string, syncAlways bool) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "vccsync-bench",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: syncAlways,
		NoSigs:     true,
		NoLog:      true,

		DisableJetStreamBanner: true,
	}
	if !syncAlways {
		opts.SyncInterval = 2 * time.Minute
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats server: not ready after 10s")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, errors.New("nats server: JetStream is not enabled")
	}
	return srv, nil
}

func stopNATS(srv *server.Server) {
	srv.Shutdown()
	srv.WaitForShutdown()
}

// connect opens a connection and its JetStream context.
func connect(url, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name(name))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// vccSandbox is the standalone vcc-sandbox, a subprocess, seeded with the
// demo account.
type vccSandbox struct {
	*proc
	url   string // http://host:port
	token string // a users:read users:write token of the demo client
}

// startSandbox runs vcc-sandbox; rateLimit > 0 is its -rate-limit.
func (e *env) startSandbox(ctx context.Context, dir string, rateLimit int) (*vccSandbox, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"-listen", addr}
	if rateLimit > 0 {
		args = append(args, "-rate-limit", strconv.Itoa(rateLimit))
	}
	p, err := startProc("vcc-sandbox", e.sandboxBin, args, filepath.Join(dir, "vcc-sandbox.log"))
	if err != nil {
		return nil, err
	}
	sb := &vccSandbox{proc: p, url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if sb.token, err = sb.getToken(ctx); err == nil {
			return sb, nil
		}
		if aerr := p.alive(); aerr != nil || time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, errors.Join(fmt.Errorf("vcc-sandbox not answering: %w", err), aerr, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getToken asks the token endpoint (not rate-limited: only /useradmin is).
func (sb *vccSandbox) getToken(ctx context.Context) (string, error) {
	form := "grant_type=client_credentials&client_id=" + sandbox.DemoClientID + "&client_secret=" + sandbox.DemoClientSecret +
		"&scope=" + sandbox.VCCScopeRead + "+" + sandbox.VCCScopeWrite
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sb.url+sandbox.VCCTokenPath, strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(req, http.StatusOK, &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("token endpoint: no access_token")
	}
	return tok.AccessToken, nil
}

// vccUser is the part of a VCC user the bench writes and reads.
type vccUser struct {
	UserID        string `json:"userId,omitempty"`
	Username      string `json:"username"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	Active        bool   `json:"active"`
	SSOExternalID string `json:"ssoExternalId,omitempty"`
	Config        struct {
		Role       string `json:"role"`
		ActAsAgent bool   `json:"actAsAgent"`
		Agent      *struct {
			AgentDisplayID string `json:"agentDisplayId"`
		} `json:"agentConfiguration,omitempty"`
	} `json:"userAccountConfiguration"`
}

// createUsers creates agents in the sandbox directly (not through the
// tap), in parallel, and returns their VCC user IDs in order.
func (sb *vccSandbox) createUsers(ctx context.Context, users []vccUser) ([]string, error) {
	ids := make([]string, len(users))
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				ids[i], errs[i] = sb.createUser(ctx, users[i])
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, errors.Join(errs...)
}

func (sb *vccSandbox) createUser(ctx context.Context, u vccUser) (string, error) {
	body, err := jsonBody(u)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sb.url+sandbox.VCCAPIRoot+"/users", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+sb.token)
	req.Header.Set("Accept", sandbox.VCCAcceptV4)
	req.Header.Set("Content-Type", "application/json")
	var created vccUser
	if err := doJSON(req, 0, &created); err != nil {
		return "", fmt.Errorf("create VCC user %s: %w", u.Username, err)
	}
	if created.UserID == "" {
		return "", fmt.Errorf("create VCC user %s: no userId in the reply", u.Username)
	}
	return created.UserID, nil
}

// workerProc is a running syncworker.
type workerProc struct {
	*proc
	httpURL string
	dataDir string
}

// workerSpec is how to run a syncworker.
type workerSpec struct {
	name     string // for the log file
	dir      string // the scenario's directory (config, secret, log)
	dataDir  string
	natsURL  string
	vccURL   string // the tap's URL
	vccRate  int    // --vcc-rate; 0: unlimited; negative: not given (the worker's default)
	agentIDs int    // mapping.agentIdStart
	extra    []string
}

// startWorker runs syncworker against NATS and the sandbox behind the tap
// and, with wait, waits until /readyz answers 200.
func (e *env) startWorker(ctx context.Context, s workerSpec, wait bool) (*workerProc, error) {
	secret := filepath.Join(s.dir, "vcc-secret")
	if err := os.WriteFile(secret, []byte(sandbox.DemoClientSecret), 0o600); err != nil {
		return nil, err
	}
	cfg := filepath.Join(s.dir, "vccsync.yaml")
	mapping := fmt.Sprintf("mapping:\n  defaultTemplate: %s\n  agentIdStart: %d\n", sandbox.DemoAgentTemplateUsername, max(s.agentIDs, 1))
	if err := os.WriteFile(cfg, []byte(mapping), 0o600); err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--config", cfg, "--data-dir", s.dataDir, "--nats-url", s.natsURL, "--http-listen", httpAddr,
		"--vcc-url", s.vccURL + sandbox.VCCAPIRoot, "--vcc-token-url", s.vccURL + sandbox.VCCTokenPath,
		"--vcc-client-id", sandbox.DemoClientID, "--vcc-client-secret-file", secret, "--log-format", "json",
	}, s.extra...)
	if s.vccRate >= 0 {
		args = append(args, "--vcc-rate", strconv.Itoa(s.vccRate))
	}
	p, err := startProc("syncworker", e.workerBin, args, filepath.Join(s.dir, s.name+".log"))
	if err != nil {
		return nil, err
	}
	w := &workerProc{proc: p, httpURL: "http://" + httpAddr, dataDir: s.dataDir}
	if !wait {
		return w, nil
	}
	if err := w.waitReady(ctx, 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return w, nil
}

func (w *workerProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.httpURL+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = strings.TrimSpace(string(b))
		}
		if err := w.alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("syncworker not ready after %s: %s\n%s", timeout, last, w.tail(3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics scrapes /metrics: series (name{labels}) → value.
func (w *workerProc) metrics(ctx context.Context) (promSeries, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.httpURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseProm(resp.Body)
}

// outcomes are vccsync_events_total by outcome.
func (w *workerProc) outcomes(ctx context.Context) (map[string]float64, error) {
	m, err := w.metrics(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range m {
		if s.name == "vccsync_events_total" {
			out[s.labels["outcome"]] += s.value
		}
	}
	return out, nil
}

// waitOutcome polls the outcome counters until outcome reaches n (they are
// counted as acks are sent, a moment after the consumer may show them), or
// a few seconds passed; it returns the last counters.
func (w *workerProc) waitOutcome(ctx context.Context, outcome string, n int) (map[string]float64, error) {
	return w.waitOutcomeFor(ctx, outcome, n, 5*time.Second)
}

// waitOutcomeFor is waitOutcome with its own timeout.
func (w *workerProc) waitOutcomeFor(ctx context.Context, outcome string, n int, timeout time.Duration) (map[string]float64, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := w.outcomes(ctx)
		if err != nil || int(out[outcome]) >= n || time.Now().After(deadline) {
			return out, err
		}
		if err := w.alive(); err != nil {
			return out, err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return out, err
		}
	}
}

// promSample is one sample of the text exposition format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

type promSeries []promSample

// sums adds up, over every label set, the _sum and _count series of the
// named histograms: name_sum and name_count → value.
func (ps promSeries) sums(names ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ps {
		for _, n := range names {
			if s.name == n+"_sum" || s.name == n+"_count" {
				out[s.name] += s.value
			}
		}
	}
	return out
}

// parseProm reads Prometheus's text format, enough for counters and gauges.
func parseProm(r io.Reader) (promSeries, error) {
	var out promSeries
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		s := promSample{labels: map[string]string{}, value: v}
		name, rest, hasLabels := strings.Cut(series, "{")
		s.name = name
		if hasLabels {
			rest = strings.TrimSuffix(rest, "}")
			for rest != "" {
				k, after, ok := strings.Cut(rest, "=\"")
				if !ok {
					break
				}
				// Values are quoted with \" and \\ escaped.
				var val strings.Builder
				j := 0
				for ; j < len(after); j++ {
					if after[j] == '\\' && j+1 < len(after) {
						j++
						val.WriteByte(after[j])
						continue
					}
					if after[j] == '"' {
						break
					}
					val.WriteByte(after[j])
				}
				s.labels[strings.TrimPrefix(k, ",")] = val.String()
				rest = strings.TrimPrefix(after[min(j+1, len(after)):], ",")
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status %s: %q", pid, field, rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

func doJSON(req *http.Request, want int, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if (want != 0 && resp.StatusCode != want) || (want == 0 && resp.StatusCode/100 != 2) {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return nil
	}
	return jsonUnmarshal(b, v)
}
