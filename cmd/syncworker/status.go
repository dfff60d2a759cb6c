package main

import (
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/internal/buildinfo"
	"github.com/vccsync/vccsync/pkg/engine"
	"github.com/vccsync/vccsync/pkg/events"
	"github.com/vccsync/vccsync/pkg/handlers"
	"github.com/vccsync/vccsync/pkg/opsapi"
	"github.com/vccsync/vccsync/pkg/store"
	"github.com/vccsync/vccsync/pkg/worker"
)

// statusView is the operators' service (pkg/opsapi: status, history and
// plan) over this worker and its bbolt store.
type statusView struct {
	db   *store.DB
	w    *worker.Worker[handlers.State]
	plan opsapi.PlanFunc // nil: no plan endpoint
}

func (v statusView) service() *opsapi.Service {
	return opsapi.NewService(engine.OpsStore{DB: v.db}, v.w, v.plan)
}

func (v statusView) status(id string) (events.UserStatus, error) { return v.service().Status(id) }

// routes adds GET /v1/users/{id}/status and /v1/users/{id}/history?limit=N.
func (v statusView) routes(mux *http.ServeMux) { v.service().Routes(mux) }

// serveNATS registers the NATS micro service (`nats micro ls`).
func (v statusView) serveNATS(nc *nats.Conn) (micro.Service, error) {
	return v.service().ServeNATS(nc, buildinfo.Read().ServiceVersion())
}

// newPlanner plans with the VCC client and the store, writing to neither.
func newPlanner(client handlers.Client, db *store.DB, m handlers.Mapping) opsapi.PlanFunc {
	return opsapi.NewPlanner(client, engine.OpsStore{DB: db}, m)
}
