package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

// scenarioMemory runs the real worker through one event each of many
// distinct users (inactive, never synced: no VCC write, but the user's
// state is stored) and reports its resident memory and bbolt file, against
// its memory right after start and the bytes JetStream stored per event.
func scenarioMemory(ctx context.Context, e *env, o *options) ([]Row, error) {
	n := o.memUsers
	dir, err := e.mkdir("memory")
	if err != nil {
		return nil, err
	}
	srv, err := startNATS(filepath.Join(dir, "nats"), false)
	if err != nil {
		return nil, err
	}
	defer stopNATS(srv)
	nc, js, err := connect(srv.ClientURL(), "bench")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	sb, err := e.startSandbox(ctx, dir, 0)
	if err != nil {
		return nil, err
	}
	defer sb.stop()
	tp, err := startTap(sb.url)
	if err != nil {
		return nil, err
	}
	defer tp.close()
	spec := workerSpec{name: "syncworker", dir: dir, dataDir: filepath.Join(dir, "data"), natsURL: srv.ClientURL(),
		vccURL: tp.url, vccRate: 0, agentIDs: 50000}
	dbPath := filepath.Join(spec.dataDir, "vccsync.db")

	// Baseline: the worker right after start, its store empty.
	w, err := e.startWorker(ctx, spec, true)
	if err != nil {
		return nil, err
	}
	defer func() { w.stop() }()
	time.Sleep(2 * time.Second) // the start-up checks have run
	rss0, err := procStatus(w.pid(), "VmRSS")
	if err != nil {
		return nil, err
	}
	db0 := fileSize(dbPath)
	w.stop()

	users, err := makeUsers("mem", 2_000_000, n)
	if err != nil {
		return nil, err
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	e.log.printf("memory: publishing %d events of %d distinct inactive users", n, n)
	err = publishAll(ctx, js, n, func(i int) (outMsg, error) {
		return userMessage(fmt.Sprintf("mem-%07d", i), "bench/memory", users[i].snapshot(false, at))
	})
	if err != nil {
		return nil, err
	}
	msgs, streamBytes, err := streamState(ctx, js, events.Stream)
	if err != nil || msgs != uint64(n) {
		return nil, fmt.Errorf("%s holds %d messages, want %d (%v)", events.Stream, msgs, n, err)
	}
	delivered, _, err := consumersState(ctx, js, events.Stream)
	if err != nil {
		return nil, err
	}

	before := tp.counts()
	e.log.printf("memory: syncworker consumes them")
	if w, err = e.startWorker(ctx, spec, false); err != nil {
		return nil, err
	}
	// The bbolt file at every tenth of the users stored (10,000 of
	// 100,000).
	var (
		mu    sync.Mutex
		steps []string
		next  = max(n/10, 1)
	)
	sample := func(left int) {
		mu.Lock()
		defer mu.Unlock()
		for done := n - left; done >= next && next <= n; next += max(n/10, 1) {
			size := bytesStr(float64(fileSize(dbPath)))
			steps = append(steps, fmt.Sprintf("%s %s", kilo(next), size))
			e.log.printf("memory: about %d users stored: bbolt file %s", next, size)
		}
	}
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sleepCtx(sctx, 200*time.Millisecond) == nil {
			if left, _, err := streamState(sctx, js, events.Stream); err == nil {
				sample(int(left))
			}
		}
	}()
	d, err := timeDrain(ctx, js, events.Stream, delivered, 15*time.Minute, w.alive)
	stopSampling()
	<-sampled
	if err != nil {
		return nil, err
	}
	sample(0)
	out, err := w.waitOutcome(ctx, "not_provisioned", n)
	if err != nil {
		return nil, err
	}
	if int(out["not_provisioned"]) != n {
		return nil, fmt.Errorf("%d of %d events not_provisioned (outcomes %s)", int(out["not_provisioned"]), n, outcomeString(out))
	}
	time.Sleep(time.Second)
	rss, err := procStatus(w.pid(), "VmRSS")
	if err != nil {
		return nil, err
	}
	hwm, _ := procStatus(w.pid(), "VmHWM")
	// The state is stored: the worker's status view finds the users.
	for _, u := range []benchUser{users[0], users[n/2], users[n-1]} {
		if err := checkStored(ctx, w, u.key); err != nil {
			return nil, err
		}
	}
	got := tp.counts().minus(before)
	w.stop()
	size := fileSize(dbPath)
	e.log.printf("memory: %d users in %s; VmRSS %s (at start %s, peak %s); bbolt %s; JetStream %s for the same events",
		n, d.elapsed().Round(time.Millisecond), bytesStr(float64(rss)), bytesStr(float64(rss0)), bytesStr(float64(hwm)),
		bytesStr(float64(size)), bytesStr(float64(streamBytes)))

	perUser, perMsg := float64(size)/float64(n), float64(streamBytes)/float64(msgs)
	mu.Lock()
	progression := strings.Join(steps, ", ")
	mu.Unlock()
	note := fmt.Sprintf("%s distinct users, one event each: inactive and never synced (outcome not_provisioned, no VCC write; "+
		"the user's state is stored: /v1/users/{id}/status finds the first, middle and last user). "+
		"At the sandbox: %d VCC writes, %d requests in all. VmRSS from /proc/<pid>/status of the real syncworker 1 s after the last ack (peak VmHWM %s), "+
		"baseline 2 s after a start on an empty store. bbolt: the size of <data-dir>/vccsync.db after the worker stopped (%s at start; "+
		"bbolt grows its file in steps, so the size runs ahead of the data); JetStream: %s's State.Bytes / State.Msgs before consumption. "+
		"File size as users were stored: %s.",
		group(int64(n)), got.writes, got.requests, bytesStr(float64(hwm)), bytesStr(float64(db0)), events.Stream, progression)
	gRSS, gUser := atMost(256<<20, "256 MiB"), atMost(1024, "1 KiB")
	rRSS, vRSS := ratio(float64(rss), float64(rss0))
	rUser, vUser := ratio(perUser, perMsg)
	return []Row{
		{Figure: fmt.Sprintf("worker RSS after %s users", group(int64(n))), Goal: gRSS.text, Measured: bytesStr(float64(rss)),
			Baseline: "at start, empty store " + bytesStr(float64(rss0)), Ratio: rRSS, Met: gRSS.judge(float64(rss), float64(rss0), vRSS), Note: note},
		{Figure: "bbolt file per user", Goal: gUser.text, Measured: bytesStr(perUser),
			Baseline: "JetStream " + bytesStr(perMsg) + "/event", Ratio: rUser, Met: gUser.judge(perUser, perMsg, vUser)},
		{Figure: "bbolt file per 10k users", Goal: noGoal().text, Measured: bytesStr(perUser * 10000),
			Baseline: "JetStream " + bytesStr(perMsg*10000), Ratio: rUser},
	}, nil
}

// checkStored asks the worker's status view for a user it must have stored.
func checkStored(ctx context.Context, w *workerProc, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.httpURL+"/v1/users/"+key+"/status", nil)
	if err != nil {
		return err
	}
	var st map[string]any
	if err := doJSON(req, http.StatusOK, &st); err != nil {
		return fmt.Errorf("status of stored user %s: %w", key, err)
	}
	b, _ := json.Marshal(st)
	if !strings.Contains(string(b), "not_provisioned") {
		return fmt.Errorf("status of user %s does not show the applied event: %s", key, b)
	}
	return nil
}

// kilo writes 10000 as "10k", 2500 as "2.5k".
func kilo(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return trimFloat(float64(n)/1000) + "k"
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
