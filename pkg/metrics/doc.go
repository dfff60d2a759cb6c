// Package metrics defines vccsync's Prometheus metrics on an injected
// registry, and the HTTP handler that serves /metrics, /healthz and /readyz.
//
// main builds a prometheus.Registry, calls New (or MustNew) on it once and
// passes the *Metrics to the components that record; NewHandler serves the
// same registry as a Gatherer. Nothing here touches the global default
// registry.
//
// # Metrics
//
//	name                                    type       labels                 what
//	vccsync_events_received_total           counter    type                   messages received from the stream
//	vccsync_events_total                    counter    type, outcome          events handled, by outcome
//	vccsync_handler_duration_seconds        histogram  type                   time a handler takes for one event
//	vccsync_event_lag_seconds               histogram  -                      arrival in the stream to effect applied (buckets 5ms to 1h)
//	vccsync_vcc_requests_total              counter    method, route, status  VCC API requests; status "error" when no response
//	vccsync_vcc_request_duration_seconds    histogram  method, route          time of a VCC API request
//	vccsync_retries_total                   counter    type, reason           transient failures retried
//	vccsync_dlq_messages_total              counter    class                  messages dead-lettered
//	vccsync_inflight_messages               gauge      -                      delivered and not yet acked or dead-lettered
//	vccsync_batch_commit_duration_seconds   histogram  -                      time of one store group commit
//	vccsync_batch_size                      histogram  -                      events in one store group commit
//	vccsync_ready                           gauge      -                      1 while ready to work, else 0
//	vccsync_quarantined                     gauge      -                      1 while the worker is quarantined, else 0
//	vccsync_quarantine_transitions_total    counter    state                  entries into (quarantined) and exits from (resumed) quarantine
//
// Label values:
//
//	type     the CloudEvents type (salesforce.user.changed, vccsync.command.<action>)
//	outcome  the handler's outcome (created, updated, linked, reactivated,
//	         archived, deleted, password_reset_sent, unchanged, stale,
//	         out_of_scope, not_provisioned), or duplicate, retried,
//	         dead_lettered
//	reason   the transient error class: 429, 5xx, network, timeout, order
//	         (held behind an earlier event of the user), quarantine (put back
//	         while quarantined), shutdown, other
//	class    poison, permanent, exhausted (started at 0)
//	method   the HTTP method
//	route    the route template, e.g. /users/{id}
//	status   the HTTP status code, or "error"
//	state    quarantined, resumed (started at 0)
//
// vccsync_ready is 1 while the worker's consume loop runs, quarantined or
// not; vccsync_quarantined says whether it is paused because the target
// cannot be used (where /readyz reports not ready). SetQuarantined sets the
// gauge and counts the transition.
//
// Metrics implements the VCC client's observer,
// interface{ ObserveRequest(method, route string, status int, d time.Duration) }.
//
// # Caveats
//
// Label cardinality: every distinct label set is a time series kept for the
// life of the process. route must be the route template, never the raw path
// (which holds user IDs); type must be a known event type, never a value
// copied from an unvalidated message (record poison messages under a fixed
// type such as "unknown"); no label may hold a user ID, event id or error
// message.
//
// New returns an error, and registers nothing, when a collector of the same
// name is already registered on the registry (New called twice on one
// registry); MustNew panics instead. Use a fresh registry per process, and
// per test.
//
// /readyz runs every check on each request, concurrently, with CheckTimeout;
// checks should be cheap (a ping, a flag), not work.
package metrics
