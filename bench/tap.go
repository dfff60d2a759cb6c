package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/sandbox"
)

// tap is a reverse proxy in front of the standalone sandbox: the worker
// talks to VCC through it, and it counts what the sandbox answered (the
// sandbox's own counters are not served over HTTP) and notes when the
// sandbox answered an archive. It reads nothing from the sandbox itself,
// so it costs nothing against the sandbox's fair-usage limit, which is
// per account and would count a poller's requests as the worker's.
type tap struct {
	url string
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	requests map[string]int       // /useradmin requests by method
	writes   int                  // 2xx POST, PATCH, PUT, DELETE under /useradmin, as the sandbox counts Writes
	limited  int                  // 429s
	archived map[string]time.Time // VCC user ID → when the sandbox answered 200 to its archive (the reply shows active false)
}

// tapCounts is a snapshot of the counters.
type tapCounts struct {
	requests, reads, writes, limited int
}

func (c tapCounts) minus(o tapCounts) tapCounts {
	return tapCounts{requests: c.requests - o.requests, reads: c.reads - o.reads, writes: c.writes - o.writes, limited: c.limited - o.limited}
}

func startTap(target string) (*tap, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &tap{url: "http://" + ln.Addr().String(), ln: ln, requests: map[string]int{}, archived: map[string]time.Time{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
	t.srv = &http.Server{Handler: t.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

func (t *tap) close() { _ = t.srv.Close() }

func (t *tap) counts() tapCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := tapCounts{writes: t.writes, limited: t.limited}
	for m, n := range t.requests {
		c.requests += n
		if m == http.MethodGet || m == http.MethodHead {
			c.reads += n
		}
	}
	return c
}

// archivedAt returns when the sandbox answered the archive of a VCC user.
func (t *tap) archivedAt(vccUserID string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.archived[vccUserID]
	return at, ok
}

func (t *tap) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, sandbox.VCCAPIRoot+"/")
		// PATCH /useradmin/users/{id}: an archive when its reply shows
		// the user inactive.
		patchUser := ""
		if api && r.Method == http.MethodPatch {
			if rest, ok := strings.CutPrefix(r.URL.Path, sandbox.VCCAPIRoot+"/users/"); ok && rest != "" && !strings.Contains(rest, "/") {
				patchUser = rest
			}
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, keep: patchUser != ""}
		next.ServeHTTP(rec, r)
		if !api {
			return
		}
		now := time.Now()
		t.mu.Lock()
		defer t.mu.Unlock()
		t.requests[r.Method]++
		if rec.status == http.StatusTooManyRequests {
			t.limited++
		}
		if rec.status/100 == 2 && r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.writes++
		}
		if patchUser != "" && rec.status == http.StatusOK {
			var u struct {
				Active *bool `json:"active"`
			}
			if json.Unmarshal(rec.body.Bytes(), &u) == nil && u.Active != nil && !*u.Active {
				if _, seen := t.archived[patchUser]; !seen {
					t.archived[patchUser] = now
				}
			}
		}
	})
}

// recorder keeps the status, and the body when asked.
type recorder struct {
	http.ResponseWriter
	status int
	keep   bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.keep {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
