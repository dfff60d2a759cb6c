package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/pkg/bus"
)

// defaultNATSURL is the client address of syncworker's embedded server.
const defaultNATSURL = "nats://127.0.0.1:4222"

// connectionName is how publisher's connections appear on the server.
const connectionName = "vccsync-publisher"

// natsFlags are the connection flags every subcommand that talks to NATS
// shares. Each defaults to its VCCSYNC_* environment variable, the same one
// syncworker reads.
type natsFlags struct {
	url, creds, ca, cert, key string
}

func (n *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.url, "nats-url", envOr("VCCSYNC_NATS_URL", defaultNATSURL), "NATS server URL(s), comma-separated (env VCCSYNC_NATS_URL)")
	fs.StringVar(&n.creds, "nats-creds", os.Getenv("VCCSYNC_NATS_CREDS"), "NATS user credentials file (env VCCSYNC_NATS_CREDS)")
	fs.StringVar(&n.ca, "nats-ca", os.Getenv("VCCSYNC_NATS_CA"), "CA certificate for NATS TLS (env VCCSYNC_NATS_CA)")
	fs.StringVar(&n.cert, "nats-cert", os.Getenv("VCCSYNC_NATS_CERT"), "client certificate for NATS TLS (env VCCSYNC_NATS_CERT)")
	fs.StringVar(&n.key, "nats-key", os.Getenv("VCCSYNC_NATS_KEY"), "client key for NATS TLS (env VCCSYNC_NATS_KEY)")
}

// connect connects with bus.Connect; connection trouble (disconnects,
// asynchronous errors) is logged as warnings on stderr.
func (n *natsFlags) connect(stderr io.Writer) (*nats.Conn, error) {
	return bus.Connect(bus.ConnectConfig{
		URL: n.url, Name: connectionName, CredsFile: n.creds,
		CACert: n.ca, ClientCert: n.cert, ClientKey: n.key,
		Logger: warnLogger(stderr),
	})
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// warnLogger logs warnings and errors to w, without timestamps or callers:
// it only reports trouble with the connection.
func warnLogger(w io.Writer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		LevelKey: "level", MessageKey: "msg",
		EncodeLevel: zapcore.CapitalLevelEncoder, ConsoleSeparator: " ",
	})
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.WarnLevel))
}

// parseArgs parses flags given anywhere on the command line (before, between
// or after the positional arguments; "--" ends the flags) and returns the
// positional arguments. "-" is a positional argument (stdin). On an error it
// also returns the positional arguments read before it (so that "cmd ACTION
// -h" knows the action).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return pos, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors to the caller instead
// of printing them, so that each subcommand decides where usage goes.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("publisher "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printDefaults writes the flags of fs to w.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// value formats a value for a key=value output line: as is when it is a
// plain token, quoted when it holds spaces, quotes, '=' or control
// characters, so that every output line splits the same way.
func value(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}

// lockedWriter serialises writes: NATS callbacks log from their own
// goroutine while a subcommand writes its output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// usageError reports a bad command line with the subcommand's usage.
func usageError(stderr io.Writer, name string, err error, printUsage func(io.Writer)) int {
	fmt.Fprintf(stderr, "publisher %s: %v\n", name, err)
	printUsage(stderr)
	return exitUsage
}

// stream connects to NATS and checks that the VCCSYNC stream is there (it
// is syncworker's to create). The caller closes the connection.
func (n *natsFlags) stream(ctx context.Context, stderr io.Writer, timeout time.Duration) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := n.connect(stderr)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := checkStream(ctx, js, timeout); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
