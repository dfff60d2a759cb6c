package opsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/vccsync/vccsync/pkg/events"
)

// PlanTimeout bounds one plan served over NATS.
const PlanTimeout = 30 * time.Second

// Routes adds GET /v1/users/{id}/status and /v1/users/{id}/history?limit=N
// to mux.
func (s *Service) Routes(mux *http.ServeMux) {
	reply := func(w http.ResponseWriter, body any, err error) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case isBadRequest(err):
			w.WriteHeader(http.StatusBadRequest)
			body = map[string]string{"error": err.Error()}
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
			body = map[string]string{"error": err.Error()}
		}
		_ = json.NewEncoder(w).Encode(body)
	}
	mux.HandleFunc("GET /v1/users/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Status(r.PathValue("id"))
		reply(w, st, err)
	})
	mux.HandleFunc("GET /v1/users/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		h, err := s.History(r.PathValue("id"), limit)
		reply(w, h, err)
	})
}

// ServeNATS registers the service on nc as the NATS micro service
// events.ServiceName, endpoints status, history and (with a planner) plan.
// version is the binary's version (a Go module version such as
// debug.ReadBuildInfo's Main.Version will do; see [SemVer]). Stop the
// returned service to deregister it.
func (s *Service) ServeNATS(nc *nats.Conn, version string) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName, Version: SemVer(version),
		Description: "vccsync: per-user status and history"})
	if err != nil {
		return nil, fmt.Errorf("status service: %w", err)
	}
	respond := func(req micro.Request, body any, err error) {
		switch {
		case isBadRequest(err):
			_ = req.Error("400", err.Error(), nil)
		case err != nil:
			_ = req.Error("500", err.Error(), nil)
		default:
			_ = req.RespondJSON(body)
		}
	}
	err = svc.AddEndpoint("status", micro.HandlerFunc(func(req micro.Request) {
		r := parseStatusRequest(req.Data())
		st, err := s.Status(r.UserID)
		respond(req, st, err)
	}), micro.WithEndpointSubject(events.StatusSubject))
	if err == nil {
		err = svc.AddEndpoint("history", micro.HandlerFunc(func(req micro.Request) {
			r := parseStatusRequest(req.Data())
			h, err := s.History(r.UserID, r.Limit)
			respond(req, h, err)
		}), micro.WithEndpointSubject(events.HistorySubject))
	}
	if err == nil && s.plan != nil {
		err = svc.AddEndpoint("plan", micro.HandlerFunc(func(req micro.Request) {
			var r events.PlanRequest
			if err := json.Unmarshal(req.Data(), &r); err != nil {
				_ = req.Error("400", "plan request: "+err.Error(), nil)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), PlanTimeout)
			defer cancel()
			reply, err := s.Plan(ctx, r.User)
			respond(req, reply, err)
		}), micro.WithEndpointSubject(events.PlanSubject))
	}
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("status service: %w", err)
	}
	return svc, nil
}

// parseStatusRequest takes a JSON StatusRequest or a bare user ID.
func parseStatusRequest(b []byte) events.StatusRequest {
	var r events.StatusRequest
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		_ = json.Unmarshal(t, &r)
		return r
	}
	r.UserID = string(bytes.TrimSpace(b))
	return r
}

// semVer is the SemVer 2.0 grammar, as NATS micro checks it.
var semVer = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// DevelVersion is the service version of a build that has no SemVer
// version: debug.ReadBuildInfo's "(devel)", or none.
const DevelVersion = "0.0.0-devel"

// SemVer returns version as NATS micro accepts it: a Go module version
// (v1.2.3, a pseudo-version, +incompatible) without its leading "v";
// DevelVersion for anything that is not SemVer.
func SemVer(version string) string {
	if v := strings.TrimPrefix(version, "v"); semVer.MatchString(v) {
		return v
	}
	return DevelVersion
}
