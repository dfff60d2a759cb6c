package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vccsync/vccsync/pkg/reconcile"
)

// TestDemoStoryAgreesWithSalesforce: after the demo story, reconcile finds
// VCC in step with the Salesforce sandbox — the story's changes are made
// in the org, not only sent as events — except Lena, whom Salesforce
// refuses in the contact center (she lacks the permission set).
func TestDemoStoryAgreesWithSalesforce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	o, m, err := parseFlags([]string{"--demo", "--data-dir", t.TempDir(), "--nats-listen", "127.0.0.1:-1", "--http-listen", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	d := newDemo(log)
	sys, err := newSystem(o, m, log, d.observe)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.close()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{}, 2)
	defer func() { cancel(); <-stopped; <-stopped }()
	go func() { _ = sys.worker.Run(ctx); stopped <- struct{}{} }()
	var out bytes.Buffer
	go func() { d.run(ctx, sys.js, sys.targets.sfServer, &out); stopped <- struct{}{} }()
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the demo story was not handled within 60s")
	}

	tg := sys.targets
	in, err := reconcile.Read(ctx, tg.mapping, tg.sf, tg.vcc)
	if err != nil {
		t.Fatal(err)
	}
	rep := reconcile.Classify(tg.mapping, in)
	for _, e := range rep.Users {
		switch {
		case e.Class == reconcile.VCCOnly || e.Class == reconcile.InStep:
		case e.UserID == "0055e000001LenaAAC" && e.Action == reconcile.ActionMembership:
		default:
			t.Errorf("after the demo: %s", e.Line())
		}
	}
	if rep.Counts[reconcile.InStep] < 6 {
		t.Errorf("%d users in step after the demo, want the story's 6: %v", rep.Counts[reconcile.InStep], rep.Counts)
	}
}
