package vcc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// frontLog records the requests that reach a front handler, as "METHOD
// path", the token endpoint excluded.
type frontLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *frontLog) add(r *http.Request) {
	if r.URL.Path == sandbox.VCCTokenPath {
		return
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
}

func (l *frontLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

func (l *frontLog) count(req string) int {
	n := 0
	for _, r := range l.get() {
		if r == req {
			n++
		}
	}
	return n
}

// startSandbox serves the sandbox VCC, seeded with the demo account, over
// HTTP behind front (which may answer a request itself or pass it to next),
// and returns it with a client Config for it: the demo client, no rate
// limit, short backoffs.
func startSandbox(t *testing.T, front func(w http.ResponseWriter, r *http.Request, next http.Handler)) (*sandbox.VCC, *frontLog, Config) {
	t.Helper()
	v := sandbox.NewVCC(sandbox.VCCOptions{})
	if err := v.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	log := &frontLog{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if front != nil {
			front(w, r, v)
			return
		}
		v.ServeHTTP(w, r)
	})
	url, stop, err := sandbox.Start("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	cfg := Config{
		BaseURL:       url + sandbox.VCCAPIRoot,
		TokenURL:      url + sandbox.VCCTokenPath,
		ClientID:      sandbox.DemoClientID,
		ClientSecret:  sandbox.DemoClientSecret,
		RatePerMinute: -1,
	}
	quickRetries(&cfg)
	return v, log, cfg
}

func newClient(t *testing.T, cfg Config, mod ...func(*Config)) *Client {
	t.Helper()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// dropReply lets next process the request, then closes the connection
// without a reply: the request was processed, its reply is lost.
func dropReply(t *testing.T, w http.ResponseWriter, r *http.Request, next http.Handler) {
	next.ServeHTTP(httptest.NewRecorder(), r)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// lateReply lets next process the request, then holds the reply until the
// client has given up on it.
func lateReply(w http.ResponseWriter, r *http.Request, next http.Handler) {
	next.ServeHTTP(httptest.NewRecorder(), r)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func demoUserID(t *testing.T, v *sandbox.VCC, username string) string {
	t.Helper()
	rec, ok := v.UserByUsername(username)
	if !ok {
		t.Fatalf("no demo user %s", username)
	}
	return rec.User.UserID
}

// TestRetryConfig checks the defaults and the validation of the retry
// fields.
func TestRetryConfig(t *testing.T) {
	base := Config{BaseURL: "https://x/useradmin", TokenURL: "https://x/Auth/connect/token", ClientID: "id", ClientSecret: "secret"}
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.retryInitial != 200*time.Millisecond || c.retryMax != 5*time.Second || c.maxTries != 6 || c.retryBudget != 30*time.Second {
		t.Errorf("defaults: initial %s, max %s, tries %d, budget %s", c.retryInitial, c.retryMax, c.maxTries, c.retryBudget)
	}
	cfg := base
	cfg.RetryInitial, cfg.RetryMax, cfg.MaxTries, cfg.RetryBudget = 2*time.Second, time.Second, 1, time.Minute
	if c, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if c.retryInitial != 2*time.Second || c.retryMax != 2*time.Second || c.maxTries != 1 || c.retryBudget != time.Minute {
		t.Errorf("set: initial %s, max %s, tries %d, budget %s", c.retryInitial, c.retryMax, c.maxTries, c.retryBudget)
	}
	cfg = base
	cfg.RetryInitial, cfg.RetryMax, cfg.MaxTries, cfg.RetryBudget = -1, -1, -1, -1
	_, err = New(cfg)
	for _, want := range []string{"RetryInitial -1ns", "RetryMax -1ns", "MaxTries -1", "RetryBudget -1ns"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("negative values: err = %v, want it to name %q", err, want)
		}
	}
}

// TestRetryStorm: with 30% of the sandbox's replies 503 and bursts of 429
// without Retry-After in front of it (the token endpoint included), a
// sequence of GET, PATCH and PUT calls all succeed and leave VCC as the
// last writes set it; the observer is told about every try.
func TestRetryStorm(t *testing.T) {
	var seen, sent429 atomic.Int64
	v, log, cfg := startSandbox(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		// Requests 0-3 of every 25 are a burst of 429s, as VCC sends them.
		if seen.Add(1)%25 < 4 {
			sent429.Add(1)
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too many requests"})
			return
		}
		next.ServeHTTP(w, r)
	})
	v.SetFaults(sandbox.VCCFaults{FailRate: 0.3, FailStatus: http.StatusServiceUnavailable})
	var mu sync.Mutex
	observed := map[int]int{}
	c := newClient(t, cfg, func(cfg *Config) {
		cfg.MaxTries = 20 // 0.3^16 after a full burst: no call runs out of tries
		cfg.Observer = ObserverFunc(func(method, route string, status int, d time.Duration) {
			mu.Lock()
			observed[status]++
			mu.Unlock()
		})
	})
	id := demoUserID(t, v, sandbox.DemoActiveUsername)
	ctx := context.Background()
	const calls = 300
	name, level := "", 0
	for i := range calls {
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("Alice %d", i)
			if _, err := c.PatchUser(ctx, id, &User{Name: name}); err != nil {
				t.Fatalf("call %d, PATCH: %v", i, err)
			}
		case 1:
			level = i%10 + 1
			if err := c.PutSkills(ctx, id, []Skill{{SkillID: "7a1e0c55-5b0e-4c7c-8f3a-1d2e00000001", Level: SkillLevel(level)}}); err != nil {
				t.Fatalf("call %d, PUT skills: %v", i, err)
			}
		case 2:
			u, err := c.GetUser(ctx, id)
			if err != nil {
				t.Fatalf("call %d, GET: %v", i, err)
			}
			if u.Name != name {
				t.Fatalf("call %d: name %q, want %q", i, u.Name, name)
			}
		}
	}
	rec, _ := v.User(id)
	if rec.User.Name != name || len(rec.Skills) != 1 || rec.Skills[0].Level != level {
		t.Errorf("VCC ends with name %q, skills %+v; want %q at level %d", rec.User.Name, rec.Skills, name, level)
	}
	st := v.Stats()
	mu.Lock()
	defer mu.Unlock()
	if observed[503] == 0 || observed[503] != st.InjectedFaults {
		t.Errorf("observed %d 503s, the sandbox sent %d", observed[503], st.InjectedFaults)
	}
	if int64(observed[429]) != sent429.Load() {
		t.Errorf("observed %d 429s, the front sent %d", observed[429], sent429.Load())
	}
	total := 0
	for _, n := range observed {
		total += n
	}
	if int64(total) != seen.Load() {
		t.Errorf("observed %d requests, the server saw %d", total, seen.Load())
	}
	if n := len(log.get()); n <= calls {
		t.Errorf("%d API requests for %d calls: nothing was retried", n, calls)
	}
	t.Logf("%d calls: %d requests, %d 503, %d 429", calls, seen.Load(), observed[503], observed[429])
}

// TestRetryIdempotentWriteAfterLostReply: a PATCH processed by VCC whose
// reply is lost is sent again, and the call succeeds.
func TestRetryIdempotentWriteAfterLostReply(t *testing.T) {
	var dropped atomic.Bool
	v, log, cfg := startSandbox(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPatch && dropped.CompareAndSwap(false, true) {
			dropReply(t, w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	})
	c := newClient(t, cfg)
	id := demoUserID(t, v, sandbox.DemoActiveUsername)
	u, err := c.PatchUser(context.Background(), id, &User{Name: "Alice Again"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Alice Again" {
		t.Errorf("user %+v", u)
	}
	if n := log.count("PATCH /useradmin/users/" + id); n != 2 || v.WriteCount(id, http.MethodPatch) != 2 {
		t.Errorf("%d PATCHes received, %d applied; want 2 and 2", n, v.WriteCount(id, http.MethodPatch))
	}
}

// TestRetryAfterHonoured: the try after a reply with Retry-After comes no
// sooner than asked, though the backoff alone would be a few milliseconds.
func TestRetryAfterHonoured(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFake(t)
			var (
				mu    sync.Mutex
				times []time.Time
			)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				n := len(times)
				mu.Unlock()
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					writeJSON(w, status, map[string]any{"message": "slow down"})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"userId": "u1", "name": "Jane"})
			})
			c := f.client(quickRetries)
			if _, err := c.PatchUser(context.Background(), "u1", &User{Name: "Jane"}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(times) != 2 {
				t.Fatalf("%d tries, want 2", len(times))
			}
			if gap := times[1].Sub(times[0]); gap < time.Second || gap > 2*time.Second {
				t.Errorf("gap between tries %s, want 1s (Retry-After: 1)", gap)
			}
		})
	}
}

// TestRetryBackoff: without Retry-After (VCC documents none for its 429)
// the waits between tries follow the backoff, from RetryInitial, jittered,
// never past RetryMax.
func TestRetryBackoff(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFake(t)
			var (
				mu    sync.Mutex
				times []time.Time
			)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				writeJSON(w, status, map[string]any{"message": "busy"})
			})
			c := f.client(func(cfg *Config) {
				cfg.RetryInitial, cfg.RetryMax, cfg.MaxTries = 60*time.Millisecond, 120*time.Millisecond, 5
			})
			_, err := c.GetUser(context.Background(), "u1")
			var e *Error
			if !errors.As(err, &e) || e.Status != status || e.RetryAfter() != 0 {
				t.Fatalf("err = %v, want the last %d", err, status)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(times) != 5 {
				t.Fatalf("%d tries, want 5", len(times))
			}
			for i := 1; i < len(times); i++ {
				// ±50% jitter around 60ms at least; capped at 120ms, plus scheduling.
				if gap := times[i].Sub(times[i-1]); gap < 30*time.Millisecond || gap > 250*time.Millisecond {
					t.Errorf("wait %d: %s, want 30ms to 120ms", i, gap)
				}
			}
		})
	}
}

// TestRetryBudget: a VCC that always answers 503 makes a call fail after
// MaxTries tries or RetryBudget, with the last reply's *Error; a
// Retry-After longer than the budget (or the caller's deadline) ends the
// call at once with that *Error, its RetryAfter visible.
func TestRetryBudget(t *testing.T) {
	alwaysBusy := func(f *fakeVCC, retryAfter string) *atomic.Int64 {
		var n atomic.Int64
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": fmt.Sprintf("busy %d", i)})
		})
		return &n
	}
	check := func(t *testing.T, err error, n int64) *Error {
		t.Helper()
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("err = %T %v, want the last reply's *Error itself", err, err)
		}
		if e.Status != 503 || !e.Temporary() || e.Route != RouteUser || e.Message != fmt.Sprintf("busy %d", n) {
			t.Errorf("err = %+v, want the temporary 503 of try %d", e, n)
		}
		return e
	}
	t.Run("MaxTries", func(t *testing.T) {
		f := newFake(t)
		n := alwaysBusy(f, "")
		_, err := f.client(quickRetries, func(cfg *Config) { cfg.MaxTries = 4 }).GetUser(context.Background(), "u1")
		if n.Load() != 4 {
			t.Errorf("%d tries, want 4", n.Load())
		}
		check(t, err, n.Load())
	})
	t.Run("RetryBudget", func(t *testing.T) {
		f := newFake(t)
		n := alwaysBusy(f, "")
		c := f.client(func(cfg *Config) {
			cfg.RetryInitial, cfg.RetryMax, cfg.MaxTries, cfg.RetryBudget = 20*time.Millisecond, 40*time.Millisecond, 1000, 300*time.Millisecond
		})
		start := time.Now()
		_, err := c.GetUser(context.Background(), "u1")
		elapsed := time.Since(start)
		// It stops when the next wait (at most 40ms) would end past 300ms.
		if elapsed < 250*time.Millisecond || elapsed > 600*time.Millisecond {
			t.Errorf("the call took %s, want about 300ms", elapsed)
		}
		if n.Load() < 5 {
			t.Errorf("%d tries, want several", n.Load())
		}
		check(t, err, n.Load())
	})
	t.Run("Retry-After past the budget", func(t *testing.T) {
		f := newFake(t)
		n := alwaysBusy(f, "5")
		c := f.client(quickRetries, func(cfg *Config) { cfg.RetryBudget = time.Second })
		start := time.Now()
		_, err := c.GetUser(context.Background(), "u1")
		if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
			t.Errorf("the call took %s, want an immediate return", elapsed)
		}
		if n.Load() != 1 {
			t.Errorf("%d tries, want 1", n.Load())
		}
		if e := check(t, err, 1); e.RetryAfter() != 5*time.Second {
			t.Errorf("RetryAfter = %s, want 5s", e.RetryAfter())
		}
	})
	t.Run("Retry-After past the caller's deadline", func(t *testing.T) {
		f := newFake(t)
		n := alwaysBusy(f, "5")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.client(quickRetries).GetUser(ctx, "u1")
		if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
			t.Errorf("the call took %s, want an immediate return", elapsed)
		}
		if n.Load() != 1 {
			t.Errorf("%d tries, want 1", n.Load())
		}
		if e := check(t, err, 1); e.RetryAfter() != 5*time.Second {
			t.Errorf("RetryAfter = %s, want 5s", e.RetryAfter())
		}
	})
}

// TestCreateUserNeverPostsTwice: a create whose outcome is unknown is
// followed by a lookup by username, never by a second POST of a user that
// exists; exactly one user is created.
func TestCreateUserNeverPostsTwice(t *testing.T) {
	const username = "new.agent@demo.example"
	const post, lookup = "POST /useradmin/users", "GET /useradmin/users/by/username/" + username
	tests := []struct {
		name    string
		timeout time.Duration
		// front answers the n-th (from 1) request of kind req itself, or
		// returns false to pass it on.
		front func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool
		want  []string
	}{
		{
			name: "reply dropped",
			front: func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if req == post && n == 1 {
					dropReply(t, w, r, next)
					return true
				}
				return false
			},
			want: []string{post, lookup},
		},
		{
			name:    "reply later than the client's timeout",
			timeout: 300 * time.Millisecond,
			front: func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if req == post && n == 1 {
					lateReply(w, r, next)
					return true
				}
				return false
			},
			want: []string{post, lookup},
		},
		{
			name: "lookup fails, then finds the user",
			front: func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				switch {
				case req == post && n == 1:
					dropReply(t, w, r, next)
				case req == lookup && n == 1:
					writeJSON(w, http.StatusBadGateway, map[string]any{"message": "upstream"})
				default:
					return false
				}
				return true
			},
			want: []string{post, lookup, lookup},
		},
		{
			name: "503 before processing: the lookup finds nothing, the POST goes again",
			front: func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if req == post && n == 1 {
					writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "Service Unavailable"})
					return true
				}
				return false
			},
			want: []string{post, lookup, post},
		},
		{
			name: "429 is sent again without a lookup",
			front: func(t *testing.T, req string, n int, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if req == post && n <= 2 {
					writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too many requests"})
					return true
				}
				return false
			},
			want: []string{post, post, post},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen = map[string]int{}
			)
			v, log, cfg := startSandbox(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				req := r.Method + " " + r.URL.Path
				mu.Lock()
				seen[req]++
				n := seen[req]
				mu.Unlock()
				if !tt.front(t, req, n, w, r, next) {
					next.ServeHTTP(w, r)
				}
			})
			c := newClient(t, cfg, func(cfg *Config) {
				if tt.timeout > 0 {
					cfg.Timeout = tt.timeout
				}
			})
			u, err := c.CreateUser(context.Background(), &User{
				Username: username, Name: "New Agent", Email: username,
				Config: &AccountConfiguration{Role: RoleAdmin},
			})
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if got := log.get(); !slices.Equal(got, tt.want) {
				t.Errorf("requests %q, want %q", got, tt.want)
			}
			var ids []string
			for _, rec := range v.Users() {
				if rec.User.Username == username {
					ids = append(ids, rec.User.UserID)
				}
			}
			if len(ids) != 1 {
				t.Fatalf("%d users %s in VCC, want exactly 1", len(ids), username)
			}
			if u.UserID != ids[0] || u.Username != username {
				t.Errorf("CreateUser returned %s %s, want VCC's user %s", u.UserID, u.Username, ids[0])
			}
			if n := v.WriteCount(ids[0], http.MethodPost); n != 1 {
				t.Errorf("%d creates applied, want 1", n)
			}
		})
	}
}

// TestCreateUserRetryEnds: when the lookups keep failing, the call ends
// within its tries with an error that says the user may exist, classified
// by the last lookup's *Error.
func TestCreateUserRetryEnds(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "busy"})
	})
	c := f.client(quickRetries, func(cfg *Config) { cfg.MaxTries = 3 })
	_, err := c.CreateUser(context.Background(), &User{Username: "j@x", Name: "J", Email: "j@x", Config: &AccountConfiguration{Role: RoleAgent}})
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() || e.Route != RouteUserByUsername || !strings.Contains(err.Error(), "may have been created") {
		t.Fatalf("err = %v, want the lookup's temporary *Error, saying the user may exist", err)
	}
	var methods []string
	for _, r := range f.requests() {
		methods = append(methods, r.Method)
	}
	if want := []string{"POST", "GET", "GET"}; !slices.Equal(methods, want) {
		t.Errorf("requests %v, want %v", methods, want)
	}
}

// TestResetPasswordRetries: a password reset is sent again after a 429
// (not processed) or a token failure (not sent), never after a 503 or a
// lost reply (the email may have gone).
func TestResetPasswordRetries(t *testing.T) {
	tests := []struct {
		name       string
		faults     *sandbox.VCCFaults
		dropFirst  bool
		wantErr    func(error) bool
		wantPosts  int
		wantEmails int
	}{
		{
			name:       "503 is not retried",
			faults:     &sandbox.VCCFaults{FailNext: 1, FailStatus: 503, ExcludeToken: true},
			wantErr:    func(err error) bool { var e *Error; return errors.As(err, &e) && e.Status == 503 && e.Temporary() },
			wantPosts:  1,
			wantEmails: 0,
		},
		{
			name:       "lost reply is not retried",
			dropFirst:  true,
			wantErr:    func(err error) bool { var te *TransportError; return errors.As(err, &te) },
			wantPosts:  1,
			wantEmails: 1,
		},
		{
			name:       "429 is retried",
			faults:     &sandbox.VCCFaults{FailNext: 2, FailStatus: 429, ExcludeToken: true},
			wantPosts:  3,
			wantEmails: 1,
		},
		{
			name:       "token endpoint 503 is retried",
			faults:     &sandbox.VCCFaults{FailNext: 1, FailStatus: 503},
			wantPosts:  1,
			wantEmails: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dropped atomic.Bool
			v, log, cfg := startSandbox(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if tt.dropFirst && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/forgotPassword") && dropped.CompareAndSwap(false, true) {
					dropReply(t, w, r, next)
					return
				}
				next.ServeHTTP(w, r)
			})
			if tt.faults != nil {
				v.SetFaults(*tt.faults)
			}
			id := demoUserID(t, v, sandbox.DemoActiveUsername)
			err := newClient(t, cfg).ResetPassword(context.Background(), id)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("ResetPassword: %v", err)
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("ResetPassword: err = %T %v", err, err)
			}
			if n := log.count("POST /useradmin/users/" + id + "/forgotPassword"); n != tt.wantPosts {
				t.Errorf("%d POSTs received, want %d", n, tt.wantPosts)
			}
			if n := len(v.PasswordResets()); n != tt.wantEmails {
				t.Errorf("%d emails sent, want %d", n, tt.wantEmails)
			}
		})
	}
}

// TestTokenFailureIsRetried: a temporary failure of the token endpoint is
// retried, and a create whose POST was never sent goes without a lookup.
func TestTokenFailureIsRetried(t *testing.T) {
	f := newFake(t)
	var failures int
	f.set(func(f *fakeVCC) {
		f.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			failures++
			if failures == 2 {
				f.tokenHandler = nil
			}
			f.mu.Unlock()
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "down"})
		}
	})
	c := f.client(quickRetries)
	if _, err := c.CreateUser(context.Background(), &User{Username: "j@x"}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || f.tokens() != 1 {
		t.Errorf("%d API requests (%v), %d tokens; want one POST and one token", len(reqs), reqs, f.tokens())
	}
}

// TestRetryRateLimitAndObserver: every try waits for the rate limiter and
// is told to the observer.
func TestRetryRateLimitAndObserver(t *testing.T) {
	f := newFake(t)
	var n atomic.Int64
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "busy"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"userId": "u1"})
	})
	var (
		mu  sync.Mutex
		got []string
	)
	c := f.client(quickRetries, func(cfg *Config) {
		cfg.RatePerMinute, cfg.RateBurst = 600, 1 // one request every 100ms
		cfg.Observer = ObserverFunc(func(method, route string, status int, d time.Duration) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %s %d", method, route, status))
			mu.Unlock()
		})
	})
	start := time.Now()
	if _, err := c.GetUser(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 180*time.Millisecond {
		t.Errorf("3 tries took %s: the second and third must wait for the limiter (~200ms)", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST " + RouteToken + " 200", "GET " + RouteUser + " 503", "GET " + RouteUser + " 503", "GET " + RouteUser + " 200"}
	if !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

// TestWithoutRetries: a call with a WithoutRetries context is tried once.
func TestWithoutRetries(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "busy"})
	})
	c := f.client(quickRetries)
	ctx := WithoutRetries(context.Background())
	_, err := c.ListUsers(ctx, IncludeActive, 1, 1)
	var e *Error
	if !errors.As(err, &e) || e.Status != 503 {
		t.Fatalf("err = %v, want the 503", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	_, err = c.CreateUser(ctx, &User{Username: "j@x"})
	if !errors.As(err, &e) || e.Status != 503 || e.Method != http.MethodPost {
		t.Fatalf("create: err = %v, want the POST's 503", err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("create: %d more requests, want 1 (no lookup)", n-1)
	}
	// The same client without it retries.
	_, _ = c.ListUsers(context.Background(), IncludeActive, 1, 1)
	if n := len(f.requests()) - 2; n != DefaultMaxTries {
		t.Errorf("without WithoutRetries: %d tries, want %d", n, DefaultMaxTries)
	}
}

// TestRetryWaitCancelled: cancelling the context during a backoff wait
// ends the call at once with context.Canceled.
func TestRetryWaitCancelled(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "busy"})
		time.AfterFunc(50*time.Millisecond, cancel)
	})
	start := time.Now()
	err := f.client().PutGroups(ctx, "u1", []Group{{GroupID: "g1"}})
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %s, want promptly after the cancel", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
