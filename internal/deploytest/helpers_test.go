package deploytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleRoot is the module's root directory, relative to this package.
const moduleRoot = "../.."

// deployments is the deployments/ directory, relative to this package.
var deployments = filepath.Join(moduleRoot, "deployments")

// buildTimeout bounds go build of a command: minutes on a cold build cache,
// seconds on a warm one.
const buildTimeout = 5 * time.Minute

var (
	binDir     string // built commands, removed by TestMain
	buildMu    sync.Mutex
	built      = map[string]string{} // command → binary
	buildErrs  = map[string]error{}
	binDirOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildCommand builds ./cmd/<name> once per test binary and returns the
// path of the executable.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[name]; ok {
		return bin
	}
	if err, ok := buildErrs[name]; ok {
		t.Fatal(err)
	}
	binDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vccsync-deploytest-")
		if err != nil {
			t.Fatalf("temp dir for binaries: %v", err)
		}
		binDir = dir
	})
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not found on PATH: %v", err)
	}
	bin := filepath.Join(binDir, name)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = moduleRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		buildErrs[name] = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		t.Fatal(buildErrs[name])
	}
	t.Logf("built ./cmd/%s in %v", name, time.Since(start).Round(time.Millisecond))
	built[name] = bin
	return bin
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freePort is freeAddr's port.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a command started by a test; stop (registered as a cleanup)
// sends SIGINT, then SIGKILL if it has not exited within a grace period.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// startProcess starts bin with args, with the environment of the test less
// every VCCSYNC_* variable (so that the caller's settings do not leak in).
func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VCCSYNC_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t, 10*time.Second)
		if t.Failed() {
			t.Logf("%s stdout:\n%s", name, tail(p.stdout.String(), 4000))
			t.Logf("%s stderr:\n%s", name, tail(p.stderr.String(), 4000))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(t *testing.T, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	t.Logf("%s did not stop within %v of SIGINT: killing it", p.name, grace)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// stopPolling is an error that ends poll at once: waiting longer cannot
// help (the process waited for has exited).
type stopPolling struct{ error }

// poll calls f every interval until it returns nil, a stopPolling error,
// or ctx ends; it returns f's last error in the latter cases.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop stopPolling
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
