package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	EventsReceivedName        = "vccsync_events_received_total"
	EventsName                = "vccsync_events_total"
	HandlerDurationName       = "vccsync_handler_duration_seconds"
	EventLagName              = "vccsync_event_lag_seconds"
	DeprovisionName           = "vccsync_time_to_deprovision_seconds"
	BorrowedName              = "vccsync_borrowed_messages_total"
	VCCRequestsName           = "vccsync_vcc_requests_total"
	VCCRequestDurationName    = "vccsync_vcc_request_duration_seconds"
	RetriesName               = "vccsync_retries_total"
	DLQMessagesName           = "vccsync_dlq_messages_total"
	InflightName              = "vccsync_inflight_messages"
	BatchCommitDurationName   = "vccsync_batch_commit_duration_seconds"
	BatchSizeName             = "vccsync_batch_size"
	ReadyName                 = "vccsync_ready"
	QuarantinedName           = "vccsync_quarantined"
	QuarantineTransitionsName = "vccsync_quarantine_transitions_total"
	ConsumerPendingName       = "vccsync_consumer_pending"
	ConsumerAckPendingName    = "vccsync_consumer_ack_pending"
	VCCRateLimitName          = "vccsync_vcc_rate_limit_per_minute"
)

// States of the worker's quarantine, the values of the state label of
// vccsync_quarantine_transitions_total: the state entered.
const (
	StateQuarantined = "quarantined"
	StateResumed     = "resumed"
)

// Outcomes of an event, the values of the outcome label of
// vccsync_events_total.
const (
	OutcomeApplied      = "applied"
	OutcomeUnchanged    = "unchanged"
	OutcomeDuplicate    = "duplicate"
	OutcomeStale        = "stale"
	OutcomeOutOfScope   = "out_of_scope"
	OutcomeRetried      = "retried"
	OutcomeDeadLettered = "dead_lettered"
)

// Dead-letter classes, the values of the class label of
// vccsync_dlq_messages_total.
const (
	ClassPoison    = "poison"
	ClassPermanent = "permanent"
	ClassExhausted = "exhausted"
)

// StatusError is the status label of a VCC request that got no HTTP response.
const StatusError = "error"

// Metrics holds every vccsync collector. Its fields are safe for concurrent
// use. The zero value is not usable; build it with New.
type Metrics struct {
	// EventsReceived counts messages taken from the stream, by event type.
	EventsReceived *prometheus.CounterVec // vccsync_events_received_total{type}
	// Events counts handled events by type and outcome (Outcome*).
	Events *prometheus.CounterVec // vccsync_events_total{type,outcome}
	// HandlerDuration is the time a handler takes for one event.
	HandlerDuration *prometheus.HistogramVec // vccsync_handler_duration_seconds{type}
	// EventLag is the time from the message's arrival in the stream to its
	// effect being applied (and acknowledged), retries included.
	EventLag prometheus.Histogram // vccsync_event_lag_seconds
	// Deprovision is the time from an access change's arrival in the
	// stream (a leaver's deactivation, or a reactivation reverting one: the
	// priority subject) to its effect being applied, retries included.
	Deprovision prometheus.Histogram // vccsync_time_to_deprovision_seconds
	// Borrowed counts the earlier messages of a user that the priority
	// lane read from the stream and applied before an access change.
	Borrowed prometheus.Counter // vccsync_borrowed_messages_total

	// VCCRequests counts VCC API requests by method, route template and
	// status code ("error" when there was no response).
	VCCRequests *prometheus.CounterVec // vccsync_vcc_requests_total{method,route,status}
	// VCCRequestDuration is the time of a VCC API request.
	VCCRequestDuration *prometheus.HistogramVec // vccsync_vcc_request_duration_seconds{method,route}

	// Retries counts transient failures retried, by type and reason
	// ("429", "5xx", "network", "timeout", …).
	Retries *prometheus.CounterVec // vccsync_retries_total{type,reason}
	// DLQMessages counts messages dead-lettered, by class (Class*).
	DLQMessages *prometheus.CounterVec // vccsync_dlq_messages_total{class}
	// Inflight is the number of messages delivered and not yet acked or
	// dead-lettered.
	Inflight prometheus.Gauge // vccsync_inflight_messages

	// BatchCommitDuration is the time of one store group commit.
	BatchCommitDuration prometheus.Histogram // vccsync_batch_commit_duration_seconds
	// BatchSize is the number of events in one store group commit.
	BatchSize prometheus.Histogram // vccsync_batch_size

	// Ready is 1 while the process is ready to work, else 0.
	Ready prometheus.Gauge // vccsync_ready

	// Quarantined is 1 while the worker has paused consumption because
	// the target cannot be used, else 0.
	Quarantined prometheus.Gauge // vccsync_quarantined
	// QuarantineTransitions counts entries into quarantine (quarantined)
	// and exits from it (resumed).
	QuarantineTransitions *prometheus.CounterVec // vccsync_quarantine_transitions_total{state}

	// ConsumerPending is the number of messages a durable consumer has
	// not delivered yet (the backlog), ConsumerAckPending the number
	// delivered and not yet acked; read from each of the worker's
	// consumers (label consumer: its durable name) every few seconds.
	ConsumerPending    *prometheus.GaugeVec // vccsync_consumer_pending{consumer}
	ConsumerAckPending *prometheus.GaugeVec // vccsync_consumer_ack_pending{consumer}

	// VCCRateLimit is the rate, in requests a minute, the worker's VCC
	// limiter allows now: it backs off on 429s and probes upward while
	// none come (VCC does not publish its limit).
	VCCRateLimit prometheus.Gauge // vccsync_vcc_rate_limit_per_minute

	quarantineMu sync.Mutex
	quarantined  bool
}

// New creates the collectors and registers them on reg. Nothing is
// registered on the global default registry. If any registration fails
// (typically because New already ran on reg) the collectors registered so far
// are unregistered again and the error names the metric; reg is left as it
// was. A nil reg creates the collectors without registering them.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		EventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: EventsReceivedName,
			Help: "Messages received from the stream, by event type.",
		}, []string{"type"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: EventsName,
			Help: "Events handled, by type and outcome (the handler's, e.g. created, updated, unchanged, stale; or duplicate, retried, dead_lettered).",
		}, []string{"type", "outcome"}),
		HandlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    HandlerDurationName,
			Help:    "Time a handler takes for one event.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"type"}),
		EventLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    EventLagName,
			Help:    "Time from an event's arrival in the VCCSYNC stream to its effect being applied, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		Deprovision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    DeprovisionName,
			Help:    "Time from an access change's arrival in the VCCSYNC stream (a deactivation, or a reactivation reverting one) to its effect being applied, retries included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 45, 60, 120, 300, 600, 1800, 3600},
		}),
		Borrowed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: BorrowedName,
			Help: "Earlier messages of a user read from the stream and applied before an access change, ahead of the main consumer.",
		}),
		VCCRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: VCCRequestsName,
			Help: "VCC API requests, by method, route template and status code (\"error\" when there was no response).",
		}, []string{"method", "route", "status"}),
		VCCRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    VCCRequestDurationName,
			Help:    "Time of a VCC API request, by method and route template.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RetriesName,
			Help: "Transient failures retried, by event type and reason (429, 5xx, network, timeout, ...).",
		}, []string{"type", "reason"}),
		DLQMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: DLQMessagesName,
			Help: "Messages dead-lettered, by class (poison, permanent, exhausted).",
		}, []string{"class"}),
		Inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: InflightName,
			Help: "Messages delivered and not yet acked or dead-lettered.",
		}),
		BatchCommitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    BatchCommitDurationName,
			Help:    "Time of one store group commit.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    BatchSizeName,
			Help:    "Events in one store group commit.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: ReadyName,
			Help: "1 while the process is ready to work, else 0.",
		}),
		Quarantined: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: QuarantinedName,
			Help: "1 while the worker has paused consumption because the target (VCC, Salesforce) cannot be used, else 0.",
		}),
		QuarantineTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: QuarantineTransitionsName,
			Help: "Quarantine transitions, by the state entered (quarantined, resumed).",
		}, []string{"state"}),
		ConsumerPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ConsumerPendingName,
			Help: "Messages a durable consumer of the worker has not delivered yet (the backlog), by consumer.",
		}, []string{"consumer"}),
		ConsumerAckPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ConsumerAckPendingName,
			Help: "Messages delivered by a durable consumer of the worker and not yet acked, by consumer.",
		}, []string{"consumer"}),
		VCCRateLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: VCCRateLimitName,
			Help: "VCC requests a minute the worker's adaptive limiter allows now (it backs off on 429 and probes upward while none come).",
		}),
	}
	// The classes are known in advance: start them at zero so that
	// rate() and alerts see the series before the first dead letter.
	for _, c := range []string{ClassPoison, ClassPermanent, ClassExhausted} {
		m.DLQMessages.WithLabelValues(c)
	}
	for _, st := range []string{StateQuarantined, StateResumed} {
		m.QuarantineTransitions.WithLabelValues(st)
	}
	if reg == nil {
		return m, nil
	}
	if err := RegisterAll(reg, "metrics", m.collectors()...); err != nil {
		return nil, err
	}
	return m, nil
}

// MustNew is New that panics on error, for main.
func MustNew(reg prometheus.Registerer) *Metrics {
	m, err := New(reg)
	if err != nil {
		panic(err)
	}
	return m
}

// Named is a collector and the name of its metric, for RegisterAll.
type Named struct {
	Name string
	C    prometheus.Collector
}

// RegisterAll registers every collector on reg, or none: after a failure
// it unregisters the ones it registered and returns an error naming the
// metric, prefixed with owner (the package registering). A metric already
// on reg is said to be so: the constructor ran twice on one registry.
func RegisterAll(reg prometheus.Registerer, owner string, cs ...Named) error {
	var done []prometheus.Collector
	for _, nc := range cs {
		if err := reg.Register(nc.C); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("%s: register %s: already registered (its metrics created twice on one registry?): %w", owner, nc.Name, err)
			}
			return fmt.Errorf("%s: register %s: %w", owner, nc.Name, err)
		}
		done = append(done, nc.C)
	}
	return nil
}

func (m *Metrics) collectors() []Named {
	return []Named{
		{EventsReceivedName, m.EventsReceived},
		{EventsName, m.Events},
		{HandlerDurationName, m.HandlerDuration},
		{EventLagName, m.EventLag},
		{DeprovisionName, m.Deprovision},
		{BorrowedName, m.Borrowed},
		{VCCRequestsName, m.VCCRequests},
		{VCCRequestDurationName, m.VCCRequestDuration},
		{RetriesName, m.Retries},
		{DLQMessagesName, m.DLQMessages},
		{InflightName, m.Inflight},
		{BatchCommitDurationName, m.BatchCommitDuration},
		{BatchSizeName, m.BatchSize},
		{ReadyName, m.Ready},
		{QuarantinedName, m.Quarantined},
		{QuarantineTransitionsName, m.QuarantineTransitions},
		{ConsumerPendingName, m.ConsumerPending},
		{ConsumerAckPendingName, m.ConsumerAckPending},
		{VCCRateLimitName, m.VCCRateLimit},
	}
}

// ObserveRequest records one VCC API request: route is the route template
// (e.g. "/users/{id}"), never the raw path; status 0 (no response) is
// recorded as "error".
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	s := StatusError
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.VCCRequests.WithLabelValues(method, route, s).Inc()
	m.VCCRequestDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// SetReady sets vccsync_ready to 1 or 0.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.Ready.Set(1)
		return
	}
	m.Ready.Set(0)
}

// SetQuarantined sets vccsync_quarantined to 1 or 0 and, when that changes
// it, counts the transition in vccsync_quarantine_transitions_total.
func (m *Metrics) SetQuarantined(on bool) {
	m.quarantineMu.Lock()
	defer m.quarantineMu.Unlock()
	if on == m.quarantined {
		return
	}
	m.quarantined = on
	if on {
		m.Quarantined.Set(1)
		m.QuarantineTransitions.WithLabelValues(StateQuarantined).Inc()
		return
	}
	m.Quarantined.Set(0)
	m.QuarantineTransitions.WithLabelValues(StateResumed).Inc()
}
