// Package pubsub subscribes to a topic of Salesforce's Pub/Sub API (gRPC
// service eventbus.v1.PubSub, stubs in package eventbus), by default
// /data/UserChangeEvent, and hands each event, decoded from Avro into the
// JSON form salesforce.CDCDecoder reads, to a Sink that publishes it
// downstream (to JetStream).
//
//	Salesforce ──Subscribe (FetchRequest num_requested ≤ BatchSize)──▶ events
//	  GetTopic (can_subscribe?), GetSchema (once per schema id)
//	events ──Avro ▶ JSON──▶ Sink.Handle (returns once published) ──▶ ReplayStore.Save(replay id)
//
// Every call carries the gRPC metadata accesstoken, instanceurl and
// tenantid from Login. The connection uses TLS with the system's roots
// unless Config.Insecure (a sandbox on loopback) or Config.DialOptions
// say otherwise.
//
// Delivery is at least once, in order: events are handled one at a time,
// and an event's replay id is stored only after Handle returned nil for
// it. A subscription starts after the stored replay id (CUSTOM), or, with
// none stored, at Config.StartPreset (LATEST by default). Any failure
// ends the stream; the subscriber subscribes again from the stored replay
// id, with exponential backoff (Config.RetryInitial to Config.RetryMax,
// started over after a stream that stored a position or lasted
// RetryMax), so the events after it come again: the event whose Handle
// failed, and possibly events Handle had already published when only
// storing the replay id failed. Downstream drops those duplicates by
// event id. After a gRPC Unauthenticated the next attempt asks Login for
// a new token (refresh=true).
//
// Flow control: the first FetchRequest asks for BatchSize events; once
// events have been received and handled so that no more than half of
// that is still outstanding, a FetchRequest tops the request up to
// BatchSize again. So the server never holds more than BatchSize
// requested events, and it has more to send before it runs out.
//
// Keepalives (responses without events) carry the topic's latest replay
// id. When the server says it still has requests pending it had nothing
// more to send, so every event up to that id has been received and
// handled: the id is stored as the position. This keeps the stored id
// from expiring while the topic is quiet (Salesforce keeps change events
// for 72 hours) and gives a subscription from LATEST a position before
// its first event.
//
// A lost position is reported: when the server refuses the stored replay
// id (InvalidArgument with error-code
// sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted or
// ….validation.failed, or a status message saying so), or when events of
// a subscription from LATEST could not be published before any position
// was stored, the subscriber logs an ERROR saying events may have been
// missed, counts it in vccsync_pubsub_replay_lost_total, clears the
// stored id, calls Config.OnReplayLost once (the caller reconciles) and
// subscribes from LATEST.
//
// Run returns nil when its context ends, and an error only for a
// configuration the server will not serve (an unusable target, a topic
// that does not exist or cannot be subscribed to: ErrCannotSubscribe).
// Every other failure is retried until the context ends.
//
// Metrics, on Config.Registry: vccsync_pubsub_events_received_total,
// vccsync_pubsub_events_published_total (Handle returned nil),
// vccsync_pubsub_reconnects_total{reason} (Reason*),
// vccsync_pubsub_replay_lost_total, vccsync_pubsub_schemas_fetched_total,
// vccsync_pubsub_lag_seconds (a gauge: for the last event received, the
// time from its ChangeEventHeader.commitTimestamp to its receipt) and
// vccsync_pubsub_replay_position_timestamp_seconds (a gauge: the Unix time
// the stored position covers the stream up to, the commitTimestamp of the
// last stored event or the time of a stored keepalive position; replay
// ids are opaque, so the ids themselves appear only in logs, in hex).
//
// # Caveats
//
//   - Before the first position is stored (a first start from LATEST,
//     until the first event or keepalive), a resubscription starts from
//     LATEST again and misses changes made while it was disconnected;
//     that loss cannot be seen. The caller reconciles after a first start.
//   - An event whose payload does not decode with its schema stops the
//     subscription at that event: it is retried with backoff
//     (reconnects{reason="decode"}) rather than skipped, so nothing is
//     dropped silently; if it never decodes, the subscription stays
//     there until its replay id expires and is reported lost.
//   - Events of one stream that arrived after a failed one are dropped
//     and come again after the resubscription.
//   - Schemas are cached for the Subscriber's life, by id; ids are
//     immutable, and a topic has few.
//   - OnReplayLost and the Sink run on Run's goroutine: while they run,
//     the stream is not read.
package pubsub
