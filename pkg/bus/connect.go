package bus

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// DefaultReconnectWait is the pause between reconnect attempts.
const DefaultReconnectWait = 2 * time.Second

// ConnectConfig configures a client connection.
type ConnectConfig struct {
	// URL is one server URL or a comma-separated list; default nats.DefaultURL.
	URL string
	// Name is the connection name shown by the server (e.g. "syncworker").
	Name string
	// CredsFile is a user credentials file (JWT and NKey seed).
	CredsFile string
	// NKeyFile is an NKey seed file.
	NKeyFile string
	// CACert is a PEM file of CAs that sign the server certificate; setting
	// it turns TLS on.
	CACert string
	// ClientCert and ClientKey are a PEM certificate and key for mutual TLS;
	// both or neither.
	ClientCert string
	ClientKey  string
	// Logger receives disconnect, reconnect and asynchronous error events;
	// nil discards them.
	Logger *zap.Logger
	// RetryOnFailedConnect makes Connect return a connection that keeps
	// trying in the background when the first attempt fails, instead of
	// returning the error.
	RetryOnFailedConnect bool
}

// Connect connects to NATS. Once connected it reconnects forever, waiting
// DefaultReconnectWait (plus jitter) between attempts, and logs
// disconnects, reconnects and asynchronous errors.
func Connect(cfg ConnectConfig) (*nats.Conn, error) {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	url := cfg.URL
	if url == "" {
		url = nats.DefaultURL
	}
	log = log.With(zap.String("component", "nats"), zap.String("conn", cfg.Name))

	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(DefaultReconnectWait),
		nats.RetryOnFailedConnect(cfg.RetryOnFailedConnect),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("nats connected", zap.String("url", c.ConnectedUrlRedacted()))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
				return
			}
			log.Info("nats disconnected")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", c.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(c *nats.Conn) {
			if err := c.LastError(); err != nil {
				log.Info("nats connection closed", zap.Error(err))
				return
			}
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("nats error", zap.String("subject", sub.Subject), zap.Error(err))
				return
			}
			log.Error("nats error", zap.Error(err))
		}),
	}
	if cfg.CredsFile != "" && cfg.NKeyFile != "" {
		return nil, errors.New("nats connect: give a creds file or an nkey file, not both")
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats connect: nkey file %s: %w", cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.CACert != "" {
		opts = append(opts, nats.RootCAs(cfg.CACert))
	}
	switch {
	case cfg.ClientCert != "" && cfg.ClientKey != "":
		opts = append(opts, nats.ClientCert(cfg.ClientCert, cfg.ClientKey))
	case cfg.ClientCert != "" || cfg.ClientKey != "":
		return nil, errors.New("nats connect: client certificate and key go together; give both or neither")
	}

	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", redactURL(url), err)
	}
	return nc, nil
}

// redactURL hides credentials (password or token) in a server URL list for
// error messages.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable url)"
			continue
		}
		if u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
