package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vccsync/vccsync/pkg/bus"
	"github.com/vccsync/vccsync/pkg/events"
)

// DefaultNATSURL is the client address of syncworker's embedded server.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// NATS are the connection flags every command that talks to NATS shares.
// Each is a setting: its VCCSYNC_* environment variable (the one
// syncworker reads) or the configuration file fills it when not given.
type NATS struct {
	URL, Creds, CA, Cert, Key string
	// Name is how the connections appear on the server.
	Name string
}

// Register adds the flags to fs and marks them as settings.
func (n *NATS) Register(fs *pflag.FlagSet) {
	fs.StringVar(&n.URL, "nats-url", DefaultNATSURL, "NATS server `URL`(s), comma-separated (env VCCSYNC_NATS_URL; else the configuration file's nats-url, or nats-listen)")
	fs.StringVar(&n.Creds, "nats-creds", "", "NATS user credentials `file` (env VCCSYNC_NATS_CREDS)")
	fs.StringVar(&n.CA, "nats-ca", "", "CA certificate `file` for NATS TLS (env VCCSYNC_NATS_CA)")
	fs.StringVar(&n.Cert, "nats-cert", "", "client certificate `file` for NATS TLS (env VCCSYNC_NATS_CERT)")
	fs.StringVar(&n.Key, "nats-key", "", "client key `file` for NATS TLS (env VCCSYNC_NATS_KEY)")
	MarkSettings(fs, "nats-url", "nats-creds", "nats-ca", "nats-cert", "nats-key")
}

// Connect connects with bus.Connect; connection trouble (disconnects,
// asynchronous errors) is logged as warnings on stderr.
func (n *NATS) Connect(stderr io.Writer) (*nats.Conn, error) {
	return bus.Connect(bus.ConnectConfig{
		URL: n.URL, Name: n.Name, CredsFile: n.Creds,
		CACert: n.CA, ClientCert: n.Cert, ClientKey: n.Key,
		Logger: warnLogger(stderr),
	})
}

// JetStream connects and returns the JetStream context. The caller closes
// the connection.
func (n *NATS) JetStream(stderr io.Writer) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := n.Connect(stderr)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Stream connects to NATS and checks that the VCCSYNC stream is there (it
// is syncworker's to create). The caller closes the connection.
func (n *NATS) Stream(ctx context.Context, stderr io.Writer, timeout time.Duration) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := n.JetStream(stderr)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckStream(ctx, js, timeout); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// CheckStream makes sure VCCSYNC exists before anything is published:
// without it every publish would wait for an acknowledgement that never
// comes.
func CheckStream(ctx context.Context, js jetstream.JetStream, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := js.Stream(ctx, events.Stream)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("stream %s not found: is syncworker running (it creates the streams)?", events.Stream)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("stream %s: JetStream is not enabled on this server (or for this account): %w", events.Stream, err)
	}
	return fmt.Errorf("look up stream %s: %w", events.Stream, err)
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
