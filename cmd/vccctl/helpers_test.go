package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/internal/cli"
	"github.com/vccsync/vccsync/internal/clitest"
)

// The helpers the command-line binaries' tests share (internal/clitest).
var (
	jane = clitest.Key("0055e000001Jane")
	john = clitest.Key("0055e000001John")

	startJetStream = clitest.StartJetStream
	testContext    = clitest.Context
	userChanged    = clitest.UserChanged
	checkOutput    = clitest.CheckOutput
	streamLen      = clitest.StreamLen
)

// Exit statuses, as the tests name them.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail
	exitUsage = cli.ExitUsage
)

// storedMsg is a message as the stream holds it (clitest.Stored).
type storedMsg struct {
	seq            uint64
	subject, msgID string
	eventID        string
	envSubject     string
}

// streamMessages reads every message of VCCSYNC, as syncworker decodes it.
func streamMessages(t *testing.T, js jetstream.JetStream) []storedMsg {
	t.Helper()
	var out []storedMsg
	for _, m := range clitest.StreamMessages(t, js) {
		out = append(out, storedMsg{m.Seq, m.Subject, m.MsgID, m.EventID, m.EnvSubject})
	}
	return out
}

func checkStored(t *testing.T, js jetstream.JetStream, want []storedMsg) {
	t.Helper()
	if got := streamMessages(t, js); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stream VCCSYNC holds\n%v\nwant\n%v", got, want)
	}
}

// runCLI runs vccctl with args and returns its exit status and output.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runWith runs vccctl with args, dlq's environment env and stdin.
func runWith(ctx context.Context, args []string, env dlqEnv, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &cli.App{Name: "vccctl", Stdin: stdin, Stdout: stdout, Stderr: stderr, Sections: []string{"mapping"}}
	return a.Execute(ctx, newRoot(a, env), args)
}
