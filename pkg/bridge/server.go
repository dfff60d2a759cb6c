package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
)

// MinTokenLength is the shortest shared token ReadToken accepts.
const MinTokenLength = 16

// ServerConfig is how Serve runs an HTTP server.
type ServerConfig struct {
	// TLS, when not nil, serves HTTPS (TLSConfig builds it).
	TLS *tls.Config
	// Timeout bounds reading a request and, with 5 s more, writing its
	// answer; 0 leaves them unbounded.
	Timeout time.Duration
	// Grace is how long the requests in flight may take to finish once
	// the context ends; 0 means Timeout + 5 s.
	Grace time.Duration
	// Log receives the server's own errors and the start of the
	// shutdown (nil: none).
	Log *zap.Logger
}

// Serve serves h on ln until ctx is done, then stops accepting and lets
// the requests in flight finish (up to Grace) before it returns nil. The
// error is a failure to serve.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg ServerConfig) error {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         cfg.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.With(zap.String("component", "http"))),
	}
	if cfg.Timeout > 0 {
		srv.ReadTimeout = cfg.Timeout
		srv.WriteTimeout = cfg.Timeout + 5*time.Second
	}
	grace := cfg.Grace
	if grace <= 0 {
		grace = cfg.Timeout + 5*time.Second
	}
	done := make(chan error, 1)
	go func() {
		if cfg.TLS != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("stopping: finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown were cut", zap.Error(err))
		_ = srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Routes sends GET (and HEAD) /healthz to health (200 ok, or 503 with the
// error; nil: always ok) and /metrics to metrics (nil: 404). Every other
// request goes to h when path is "" or the request's path is path (compared
// as given: it is no ServeMux pattern), and is answered 404 otherwise.
func Routes(path string, h http.Handler, health func() error, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case path != "" && r.URL.Path == path:
			h.ServeHTTP(w, r)
		case r.URL.Path == "/healthz" && get:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if health != nil {
				if err := health(); err != nil {
					w.WriteHeader(http.StatusServiceUnavailable)
					fmt.Fprintln(w, err)
					return
				}
			}
			fmt.Fprintln(w, "ok")
		case r.URL.Path == "/metrics" && get && metrics != nil:
			metrics.ServeHTTP(w, r)
		case path == "":
			h.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// IsLoopback reports whether ln listens on a loopback address only.
func IsLoopback(ln net.Listener) bool {
	host, _, err := net.SplitHostPort(ln.Addr().String())
	return err == nil && net.ParseIP(host).IsLoopback()
}

// ReadToken reads the shared token of Auth from the file at path, else
// takes env (the value of VCCSYNC_OUTBOUND_TOKEN); "" when neither is
// given. A token must be at least MinTokenLength characters without white
// space; errors name the flag or variable it came from.
func ReadToken(path, env string) (string, error) {
	token, from := env, "env VCCSYNC_OUTBOUND_TOKEN"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--auth-token-file: %w", err)
		}
		token, from = string(b), "--auth-token-file "+path
	}
	token = strings.TrimSpace(token)
	switch {
	case path == "" && token == "":
		return "", nil
	case token == "":
		return "", fmt.Errorf("%s: empty", from)
	case len(token) < MinTokenLength:
		return "", fmt.Errorf("%s: the token has %d characters, want at least %d", from, len(token), MinTokenLength)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", fmt.Errorf("%s: the token holds white space or control characters", from)
	}
	return token, nil
}

// ReadBasicAuth reads user:password from the file at path, else takes env
// (the value of VCCSYNC_OUTBOUND_BASIC_AUTH); "" when neither is given.
func ReadBasicAuth(path, env string) (string, error) {
	v, from := env, "env VCCSYNC_OUTBOUND_BASIC_AUTH"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--basic-auth-file: %w", err)
		}
		v, from = string(b), "--basic-auth-file "+path
	}
	v = strings.TrimRight(v, "\r\n")
	if path == "" && v == "" {
		return "", nil
	}
	user, pass, ok := strings.Cut(v, ":")
	switch {
	case !ok || user == "" || pass == "":
		return "", fmt.Errorf("%s: want one line user:password, with neither empty", from)
	case strings.ContainsAny(v, "\r\n"):
		return "", fmt.Errorf("%s: want one line user:password", from)
	}
	return user + ":" + pass, nil
}

// TLSConfig loads the server certificate and, when clientCA is given, the
// CAs a client certificate must chain to (clients without one are then
// refused). nil when neither certificate nor key is given.
func TLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		if clientCA != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over HTTPS")
		}
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--tls-cert and --tls-key go together; give both or neither")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if clientCA != "" {
		b, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
