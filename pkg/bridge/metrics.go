package bridge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vccsync/vccsync/pkg/metrics"
)

// Metric names.
const (
	OutboundRequestsName      = "vccsync_outbound_requests_total"
	OutboundNotificationsName = "vccsync_outbound_notifications_total"
	PublishDurationName       = "vccsync_bridge_publish_duration_seconds"
	CDCMessagesName           = "vccsync_cdc_messages_total"
	CDCEventsName             = "vccsync_cdc_events_total"
	CDCUsersReadName          = "vccsync_cdc_users_read_total"
)

// Values of the source label of vccsync_bridge_publish_duration_seconds.
const (
	SourceOutbound = "outbound"
	SourceCDC      = "cdc"
)

// Values of the outcome label of vccsync_outbound_notifications_total and
// vccsync_cdc_events_total (the stream's answer), and NotificationDeleted
// for a deleted record the handler skips.
const (
	EventPublished      = "published"
	EventDuplicate      = "duplicate"
	NotificationDeleted = "deleted"
)

// Metrics holds the bridge's collectors. Its fields are safe for
// concurrent use. Build it with NewMetrics.
type Metrics struct {
	// OutboundRequests counts outbound-message requests answered, by
	// result (Result*).
	OutboundRequests *prometheus.CounterVec // vccsync_outbound_requests_total{result}
	// OutboundNotifications counts the notifications of acknowledged and
	// failed messages, by outcome: published, duplicate (the stream had
	// it), deleted (skipped).
	OutboundNotifications *prometheus.CounterVec // vccsync_outbound_notifications_total{outcome}
	// PublishDuration is the time from a publish to the stream's
	// acknowledgement (or the failure), by source (Source*).
	PublishDuration *prometheus.HistogramVec // vccsync_bridge_publish_duration_seconds{source}
	// CDCMessages counts change-event messages received, by outcome
	// (Status*).
	CDCMessages *prometheus.CounterVec // vccsync_cdc_messages_total{outcome}
	// CDCEvents counts the events the ingester published (changes and
	// snapshots of users read over REST), by the stream's answer.
	CDCEvents *prometheus.CounterVec // vccsync_cdc_events_total{outcome}
	// CDCUsersRead counts users read over REST for gap and overflow events.
	CDCUsersRead prometheus.Counter // vccsync_cdc_users_read_total
}

// NewMetrics creates the collectors and registers them on reg; nothing is
// registered on the global default registry. If a registration fails
// (typically because NewMetrics already ran on reg) the collectors
// registered so far are unregistered again and the error names the metric.
// A nil reg creates the collectors without registering them.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		OutboundRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: OutboundRequestsName,
			Help: "Outbound-message requests answered, by result (acked, rejected, unauthorized, forbidden, too_large, method_not_allowed, unsupported_media_type, failed).",
		}, []string{"result"}),
		OutboundNotifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: OutboundNotificationsName,
			Help: "Outbound-message notifications, by outcome (published, duplicate: the stream had it, deleted: skipped).",
		}, []string{"outcome"}),
		PublishDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    PublishDurationName,
			Help:    "Time from a publish to the stream's acknowledgement (or the failure), by source (outbound, cdc).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"source"}),
		CDCMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: CDCMessagesName,
			Help: "Change-event messages received, by outcome (published, duplicate, ignored, gap, overflow, rejected, failed).",
		}, []string{"outcome"}),
		CDCEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: CDCEventsName,
			Help: "Events published from change-event messages (changes and snapshots of users read over REST), by outcome (published, duplicate).",
		}, []string{"outcome"}),
		CDCUsersRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: CDCUsersReadName,
			Help: "Users read over the Salesforce REST API for gap and overflow events.",
		}),
	}
	// The label values are known in advance: start them at zero so that
	// rate() and alerts see the series before the first occurrence.
	for _, r := range results {
		m.OutboundRequests.WithLabelValues(r)
	}
	for _, o := range []string{EventPublished, EventDuplicate, NotificationDeleted} {
		m.OutboundNotifications.WithLabelValues(o)
	}
	for _, s := range []string{SourceOutbound, SourceCDC} {
		m.PublishDuration.WithLabelValues(s)
	}
	for _, s := range statuses {
		m.CDCMessages.WithLabelValues(s)
	}
	for _, o := range []string{EventPublished, EventDuplicate} {
		m.CDCEvents.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	if err := metrics.RegisterAll(reg, "bridge",
		metrics.Named{Name: OutboundRequestsName, C: m.OutboundRequests},
		metrics.Named{Name: OutboundNotificationsName, C: m.OutboundNotifications},
		metrics.Named{Name: PublishDurationName, C: m.PublishDuration},
		metrics.Named{Name: CDCMessagesName, C: m.CDCMessages},
		metrics.Named{Name: CDCEventsName, C: m.CDCEvents},
		metrics.Named{Name: CDCUsersReadName, C: m.CDCUsersRead},
	); err != nil {
		return nil, err
	}
	return m, nil
}

// orUnregistered returns m, or unregistered collectors when m is nil, so
// that the handlers record without checking.
func orUnregistered(m *Metrics) *Metrics {
	if m != nil {
		return m
	}
	m, _ = NewMetrics(nil) // cannot fail without a registry
	return m
}
