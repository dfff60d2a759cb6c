package bus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// Defaults of EmbeddedConfig.
const (
	DefaultHost         = "127.0.0.1"
	DefaultPort         = 4222
	DefaultServerName   = "vccsync"
	DefaultReadyTimeout = 10 * time.Second
)

// ErrPortInUse is returned (wrapped) by StartEmbedded when the client port is
// already bound by another process.
var ErrPortInUse = errors.New("port already in use")

// EmbeddedConfig configures an in-process nats-server with JetStream.
type EmbeddedConfig struct {
	// StoreDir holds the JetStream file store. Required.
	StoreDir string
	// Host is the client listen address; default 127.0.0.1.
	Host string
	// Port is the client port; default 4222, -1 picks a free port.
	Port int
	// ServerName defaults to "vccsync".
	ServerName string
	// ReadyTimeout bounds the wait for the server to accept clients; default 10s.
	ReadyTimeout time.Duration
	// Logger receives the server's log lines; nil discards them.
	Logger *zap.Logger
	// SyncInterval is how often the JetStream file store is flushed to
	// disk (fsync). Zero, the default, syncs every write before the server
	// acknowledges it ("sync_interval: always"): a PubAck means the message
	// is on disk, and an OS crash or power loss loses nothing acknowledged.
	// A positive interval (NATS's own default is 2m) is faster, but a crash
	// of the machine can lose what was acknowledged since the last sync:
	// events Salesforce was already told were delivered, which it does not
	// send again.
	SyncInterval time.Duration
}

// Embedded is a running in-process nats-server.
type Embedded struct {
	srv  *server.Server
	once sync.Once
}

// StartEmbedded starts a nats-server with JetStream (file store under
// cfg.StoreDir), binds the client port and waits until it accepts
// connections. If the port is taken the error wraps ErrPortInUse.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: store dir is required")
	}
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))

	// Check the port first: the server reports a failed listen only in
	// its log, and would otherwise leave us waiting for ReadyTimeout.
	if cfg.Port > 0 {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, listenError(addr, err)
		}
		_ = l.Close()
	}

	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,

		DisableJetStreamBanner: true,
	}
	if cfg.SyncInterval > 0 {
		opts.SyncInterval = cfg.SyncInterval
	} else {
		opts.SyncAlways = true
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	log := &serverLogger{z: cfg.Logger}
	if log.z == nil {
		log.z = zap.NewNop()
	}
	log.z = log.z.With(zap.String("component", "nats-server"))
	srv.SetLoggerV2(log, false, false, false)

	// Start returns once the listener is bound (or binding failed) and
	// JetStream is enabled (or failed); either failure is a Fatalf.
	srv.Start()
	if msg := log.fatal(); msg != "" {
		srv.Shutdown()
		srv.WaitForShutdown()
		if isAddrInUse(msg) {
			return nil, fmt.Errorf("embedded nats: client port %s: %w (%s)", addr, ErrPortInUse, msg)
		}
		return nil, fmt.Errorf("embedded nats: %s", msg)
	}
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready for connections on %s after %s", addr, cfg.ReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded nats: JetStream is not enabled")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the URL clients connect to, e.g. nats://127.0.0.1:4222 (with
// the port actually bound when Port was -1).
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped and flushed its
// store. It is safe to call more than once.
func (e *Embedded) Shutdown() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("embedded nats: client port %s: %w by another process (another nats-server or syncworker?); choose another port or connect to that server", addr, ErrPortInUse)
	}
	return fmt.Errorf("embedded nats: listen on %s: %w", addr, err)
}

func isAddrInUse(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "address already in use")
}

// serverLogger adapts nats-server logging to zap. The server's notices
// (its start-up banner, listening addresses, "ready") go to debug: the
// caller logs the one line that matters. Fatalf does not exit: it is
// recorded and StartEmbedded returns it as an error.
type serverLogger struct {
	z *zap.Logger

	mu       sync.Mutex
	fatalMsg string
}

func (l *serverLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalMsg
}

func (l *serverLogger) Noticef(format string, v ...any) { l.z.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.z.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.z.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.z.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.z.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if l.fatalMsg == "" {
		l.fatalMsg = msg
	}
	l.mu.Unlock()
	l.z.Error(msg)
}
