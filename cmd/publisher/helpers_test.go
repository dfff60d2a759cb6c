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

	userKey        = clitest.Key
	startJetStream = clitest.StartJetStream
	testContext    = clitest.Context
	userChanged    = clitest.UserChanged
	marshal        = clitest.Marshal
	checkOutput    = clitest.CheckOutput
	streamLen      = clitest.StreamLen
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

// runCLI runs publisher with args and returns its exit status and output.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runEnv runs publisher with args in the environment env (nothing else of
// the process's) until ctx is done.
func runEnv(ctx context.Context, env map[string]string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	a := &cli.App{Name: "publisher", Stdin: stdin, Stdout: stdout, Stderr: stderr, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	return execute(ctx, a, args)
}
