package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/vccsync/vccsync/pkg/sandbox"
	"github.com/vccsync/vccsync/pkg/vcc"
)

// Both limiters are what pkg/vcc paces a Client with.
var (
	_ vcc.Limiter = (*Adaptive)(nil)
	_ vcc.Limiter = (*fixed)(nil)
)

// sandboxCaller is a caller through the real pieces: a vcc.Client paced by
// lim (which it Waits on and tells every reply) calls GET /users/{userId}
// of the VCC sandbox over loopback HTTP, the sandbox limiting /useradmin
// to limit requests in any sliding minute of clock's time. The client does
// not retry (MaxTries 1), so each call is one request.
func sandboxCaller(tb testing.TB, clock Clock, limit int, lim vcc.Limiter) caller {
	tb.Helper()
	sb := sandbox.NewVCC(sandbox.VCCOptions{Now: clock.Now, RateLimitPerMinute: limit})
	if err := sb.SeedDemo(); err != nil {
		tb.Fatal(err)
	}
	alice, ok := sb.UserByUsername(sandbox.DemoActiveUsername)
	if !ok {
		tb.Fatalf("no demo user %s", sandbox.DemoActiveUsername)
	}
	url, stop, err := sb.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = stop() })
	c, err := vcc.New(vcc.Config{
		BaseURL:      url + sandbox.VCCAPIRoot,
		TokenURL:     url + sandbox.VCCTokenPath,
		ClientID:     sandbox.DemoClientID,
		ClientSecret: sandbox.DemoClientSecret,
		Limiter:      lim,
		MaxTries:     1,
		HTTPClient:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	id := alice.User.UserID
	return func(ctx context.Context) (bool, error) {
		_, err := c.GetUser(ctx, id)
		if e := (*vcc.Error)(nil); errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
			return true, nil
		}
		return false, err
	}
}
