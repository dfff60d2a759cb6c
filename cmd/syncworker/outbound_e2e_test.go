package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// TestOutboundMessagesEndToEnd: the Salesforce sandbox sends outbound
// messages the way Salesforce does (batches, retries while the listener is
// down, a duplicate after an ack, a late message) to the real publisher
// serve; syncworker applies them: every user is created in VCC once and
// put in the contact center of its profile.
func TestOutboundMessagesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newSFEnv(t)
	bin := buildPublisher(t)
	token := "outbound-token-0123456789"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := closedAddr(t)
	url := fmt.Sprintf("http://%s/salesforce/outbound?token=%s", addr, token)

	users := []string{sandbox.DemoSFJaneID, sandbox.DemoSFOmarID, sandbox.DemoSFPriyaID, sandbox.DemoSFTomID, sandbox.DemoSFAnaID}
	sender, err := sandbox.NewOutboundSender(e.sf, sandbox.OutboundOptions{URL: url, BatchSize: 2,
		Backoff: []time.Duration{20 * time.Millisecond}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	sender.DuplicateNext(2)
	sender.DelayNext(1)
	for _, id := range users {
		if err := sender.Enqueue(id); err != nil {
			t.Fatal(err)
		}
	}
	// The listener is not up yet: the first deliveries fail and are retried.
	retryFailed := func() bool {
		for _, d := range sender.Deliveries() {
			if d.Attempt > 1 && !d.Acked {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !retryFailed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no retry failed while the listener was down: retries are not exercised (stats %+v)", sender.Stats())
		}
		sender.DeliverDue(context.Background())
	}

	serve := exec.Command(bin, "serve", "--listen", addr, "--org-id", sandbox.DemoSFOrgID, "--auth-token-file", tokenFile,
		"--nats-url", e.w.sys.natsURL, "--log-format", "json")
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() }()
	waitHTTP(t, "http://"+addr+"/healthz")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sender.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (stats %+v)", err, sender.Stats())
	}
	st := sender.Stats()
	t.Logf("outbound: %+v", st)
	if st.Duplicates == 0 || st.Late == 0 {
		t.Errorf("no duplicate or late delivery: %+v", st)
	}

	deadline := time.Now().Add(20 * time.Second)
	for _, id := range users {
		var vccID string
		for vccID == "" {
			if s, ok, _ := e.w.sys.db.User(id); ok {
				vccID = s.VCCUserID
			}
			if time.Now().After(deadline) {
				t.Fatalf("user %s never reached VCC", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := e.sb.Stats().WritesByUser[vccID]["POST"]; n != 1 {
			t.Errorf("user %s: %d creates, want 1", id, n)
		}
		want := sandbox.DemoSFContactCenterLondon
		if id == sandbox.DemoSFPriyaID {
			want = sandbox.DemoSFContactCenterNewYork
		}
		for {
			if m, ok := e.sf.Member(id); ok && m.ContactCenterID == want {
				break
			}
			if time.Now().After(deadline) {
				m, _ := e.sf.Member(id)
				t.Fatalf("user %s: member of %q, want %s", id, m.ContactCenterID, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildPublisher builds the publisher binary (the bridge) the tests drive.
func buildPublisher(t *testing.T) string { return buildCommand(t, "publisher") }

// buildVccctl builds the vccctl binary (the operator CLI) the tests drive.
func buildVccctl(t *testing.T) string { return buildCommand(t, "vccctl") }

// buildCommand builds the binary of cmd/<name>.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vccsync/vccsync/cmd/"+name).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}
