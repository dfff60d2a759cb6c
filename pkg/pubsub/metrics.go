package pubsub

import (
	promreg "github.com/vccsync/vccsync/pkg/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	EventsReceivedName      = "vccsync_pubsub_events_received_total"
	EventsPublishedName     = "vccsync_pubsub_events_published_total"
	ReconnectsName          = "vccsync_pubsub_reconnects_total"
	ReplayLostName          = "vccsync_pubsub_replay_lost_total"
	LagName                 = "vccsync_pubsub_lag_seconds"
	ReplayPositionTimeName  = "vccsync_pubsub_replay_position_timestamp_seconds"
	SchemasFetchedTotalName = "vccsync_pubsub_schemas_fetched_total"
)

// Values of the reason label of vccsync_pubsub_reconnects_total: why a
// subscription ended (or could not start) and is tried again.
const (
	ReasonLogin           = "login"           // Login.Credentials failed or returned incomplete credentials
	ReasonUnauthenticated = "unauthenticated" // the server refused the access token; a new one is fetched
	ReasonTopic           = "topic"           // GetTopic failed
	ReasonSchema          = "schema"          // GetSchema failed, or its schema does not parse
	ReasonStream          = "stream"          // the stream failed or the server closed it
	ReasonIdle            = "idle"            // nothing arrived on the stream for Config.IdleTimeout
	ReasonReplayLost      = "replay_lost"     // the stored replay id was refused; resubscribed from LATEST
	ReasonDecode          = "decode"          // an event's payload does not decode with its schema
	ReasonSink            = "sink"            // Sink.Handle failed
	ReasonStore           = "store"           // ReplayStore.Load or Save failed
)

var reasons = []string{
	ReasonLogin, ReasonUnauthenticated, ReasonTopic, ReasonSchema, ReasonStream, ReasonIdle,
	ReasonReplayLost, ReasonDecode, ReasonSink, ReasonStore,
}

// metrics holds the subscriber's collectors.
type metrics struct {
	received     prometheus.Counter     // vccsync_pubsub_events_received_total
	published    prometheus.Counter     // vccsync_pubsub_events_published_total
	reconnects   *prometheus.CounterVec // vccsync_pubsub_reconnects_total{reason}
	replayLost   prometheus.Counter     // vccsync_pubsub_replay_lost_total
	lag          prometheus.Gauge       // vccsync_pubsub_lag_seconds
	positionTime prometheus.Gauge       // vccsync_pubsub_replay_position_timestamp_seconds
	schemas      prometheus.Counter     // vccsync_pubsub_schemas_fetched_total
}

// newMetrics creates the collectors and registers them on reg (nil: none).
// On a failed registration the collectors registered so far are
// unregistered again.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: EventsReceivedName,
			Help: "Pub/Sub API events received from Salesforce (an event delivered again after a resubscription counts again).",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: EventsPublishedName,
			Help: "Pub/Sub API events the sink published durably (Handle returned nil).",
		}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ReconnectsName,
			Help: "Pub/Sub API subscriptions tried again, by reason (login, unauthenticated, topic, schema, stream, idle, replay_lost, decode, sink, store).",
		}, []string{"reason"}),
		replayLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: ReplayLostName,
			Help: "Times the replay position was lost (refused as invalid or expired, or none to resume from) and the subscription restarted from LATEST: events may have been missed; OnReplayLost was called.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: LagName,
			Help: "Seconds from the last received event's ChangeEventHeader.commitTimestamp to its receipt.",
		}),
		positionTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: ReplayPositionTimeName,
			Help: "Unix time the stored replay position covers the stream up to: the commitTimestamp of the last stored event, or the time of the keepalive whose latest replay id was stored.",
		}),
		schemas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: SchemasFetchedTotalName,
			Help: "Avro schemas fetched with GetSchema (each schema id once while the process runs).",
		}),
	}
	for _, r := range reasons {
		m.reconnects.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	if err := promreg.RegisterAll(reg, "pubsub",
		promreg.Named{Name: EventsReceivedName, C: m.received},
		promreg.Named{Name: EventsPublishedName, C: m.published},
		promreg.Named{Name: ReconnectsName, C: m.reconnects},
		promreg.Named{Name: ReplayLostName, C: m.replayLost},
		promreg.Named{Name: LagName, C: m.lag},
		promreg.Named{Name: ReplayPositionTimeName, C: m.positionTime},
		promreg.Named{Name: SchemasFetchedTotalName, C: m.schemas},
	); err != nil {
		return nil, err
	}
	return m, nil
}
