package opsapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/opsapi"
)

// startNATS runs an embedded nats-server on a free port and connects to it.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// served is a service on NATS and HTTP, and a client for each.
type served struct {
	nc      *nats.Conn
	viaNATS *opsapi.Client
	viaHTTP *opsapi.Client
}

// serve serves svc as the worker does: a NATS micro service and the HTTP
// routes.
func serve(t *testing.T, svc *opsapi.Service, version string) served {
	t.Helper()
	nc := startNATS(t)
	ms, err := svc.ServeNATS(nc, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Stop() })
	mux := http.NewServeMux()
	svc.Routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return served{nc: nc, viaNATS: opsapi.NewClient(nc), viaHTTP: opsapi.NewHTTPClient(hs.URL, hs.Client())}
}

// memStore is the service's Store and PlanStore in memory (the bbolt
// adapter is cmd/syncworker's, tested end to end there).
type memStore struct {
	mu      sync.Mutex
	users   map[string]opsapi.User
	steps   map[string][]events.PendingStep
	intents map[string]opsapi.Intent
	history map[string][]events.HistoryItem // newest first
	agents  map[string]string               // agent ID → Salesforce user
	fail    error                           // every read fails with it
	read    chan string                     // if set, told each user read
}

var (
	_ opsapi.Store     = (*memStore)(nil)
	_ opsapi.PlanStore = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{users: map[string]opsapi.User{}, steps: map[string][]events.PendingStep{},
		intents: map[string]opsapi.Intent{}, history: map[string][]events.HistoryItem{}, agents: map[string]string{}}
}

func (m *memStore) User(key string) (opsapi.User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.read != nil {
		select {
		case m.read <- key:
		default:
		}
	}
	u, ok := m.users[key]
	return u, ok, m.fail
}

func (m *memStore) SagaSteps(key string) ([]events.PendingStep, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.steps[key], m.fail
}

func (m *memStore) SagaStep(key, saga string) (string, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.steps[key] {
		if s.Saga == saga {
			return s.Step, s.Data, true, m.fail
		}
	}
	return "", "", false, m.fail
}

func (m *memStore) OpenedIntent(key string) (opsapi.Intent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.intents[key]
	return in, ok, m.fail
}

func (m *memStore) History(key string, limit int) ([]events.HistoryItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[key]
	if limit > 0 && len(h) > limit {
		h = h[:limit]
	}
	return append([]events.HistoryItem(nil), h...), m.fail
}

func (m *memStore) AgentID(key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, k := range m.agents {
		if k == key {
			return id, true, m.fail
		}
	}
	return "", false, m.fail
}

func (m *memStore) AgentIDHolder(id string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.agents[id]
	return k, ok, m.fail
}

// set changes the store under its lock.
func (m *memStore) set(f func(m *memStore)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// worker is the state of a worker.
type worker struct {
	running bool
	reason  string
	since   time.Time
}

func (w worker) Running() bool { return w.running }

func (w worker) Quarantined() (bool, string, time.Time) { return w.reason != "", w.reason, w.since }

var errDisk = errors.New("disk on fire")
