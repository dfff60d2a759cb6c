package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Start binds addr (e.g. "127.0.0.1:0") and serves h on it in the
// background. The listener is bound when Start returns; url is
// "http://" plus the bound address. stop (safe to call more than once) shuts the server down, waiting up
// to five seconds for requests in flight.
func Start(addr string, h http.Handler) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sandbox listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stop = sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
			return fmt.Errorf("sandbox shutdown: %w", err)
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("sandbox serve: %w", err)
		}
		return nil
	})
	return "http://" + ln.Addr().String(), stop, nil
}

// Start serves the sandbox on addr; see the package-level Start.
func (v *VCC) Start(addr string) (url string, stop func() error, err error) {
	return Start(addr, v)
}
