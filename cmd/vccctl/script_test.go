package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"vccctl": main})
}

// TestScripts runs the command-line scripts of testdata/script: vccctl as
// an operator types it. Each script gets a NATS server with syncworker's
// streams and a stand-in of its status service ($NATS_URL; worker.yaml
// names it the way syncworker's configuration does, by nats-listen), that
// knows Jane (0055e000001Jane) and no one else.
//
// exitcode N CMD [ARGS…] runs a command and checks its exit status.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: scriptSetup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode %q: %v", args[0], err)
				}
				got := 0
				var ee *exec.ExitError
				if err := ts.Exec(args[1], args[2:]...); errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%s: %v", args[1], err)
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
	})
}

func scriptSetup(env *testscript.Env) error {
	dir, err := os.MkdirTemp("", "vccctl-script-nats-")
	if err != nil {
		return err
	}
	env.Defer(func() { _ = os.RemoveAll(dir) })
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: dir, Port: -1, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	env.Defer(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	env.Defer(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.StreamsConfig{}); err != nil {
		return err
	}
	if err := serveFakeStatus(nc); err != nil {
		return err
	}
	env.Setenv("NATS_URL", srv.ClientURL())
	listen := strings.TrimPrefix(srv.ClientURL(), "nats://")
	return os.WriteFile(filepath.Join(env.WorkDir, "worker.yaml"), []byte(fmt.Sprintf("# syncworker's\ndata-dir: /var/lib/vccsync\nnats-listen: %s\nmapping:\n  defaultTemplate: template.agent@demo.example\n", listen)), 0o600)
}

// serveFakeStatus answers the status service as syncworker would, knowing
// only Jane.
func serveFakeStatus(nc *nats.Conn) error {
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName, Version: "0.0.0"})
	if err != nil {
		return err
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	user := func(r micro.Request) (string, bool) {
		var req events.StatusRequest
		if body := r.Data(); len(body) > 0 && body[0] == '{' {
			_ = json.Unmarshal(body, &req)
		}
		key, _ := events.UserKey(req.UserID)
		return key, key == jane
	}
	if err := svc.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) {
		key, known := user(r)
		st := events.UserStatus{UserID: key, Known: known, Worker: events.WorkerStatus{Consuming: true}}
		if known {
			st.VCCUserID, st.AgentID, st.Applied, st.LastOutcome = "vcc-1", "1042", 3, "updated"
		}
		_ = r.RespondJSON(st)
	}), micro.WithEndpointSubject(events.StatusSubject)); err != nil {
		return err
	}
	if err := svc.AddEndpoint("history", micro.HandlerFunc(func(r micro.Request) {
		h := []events.HistoryItem{}
		if _, known := user(r); known {
			h = append(h, events.HistoryItem{At: at, EventID: "cmd-1", Type: "vccsync.command.change-alias", Action: "change-alias",
				RequestedBy: "alice", Reason: "marriage", Outcome: "updated", Changes: []events.FieldChange{{Field: "alias", Old: "jsmith", New: "jdoe"}}})
		}
		_ = r.RespondJSON(h)
	}), micro.WithEndpointSubject(events.HistorySubject)); err != nil {
		return err
	}
	// The script's commands connect separately: the server must hold the
	// service's subscriptions before they ask.
	return nc.Flush()
}
