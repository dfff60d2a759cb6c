// Package bridge puts Salesforce's user changes on the VCCSYNC stream: the
// outbound-message HTTP handler and the change-event (CDC) ingester.
// publisher serve and publisher cdc wire them to a listener, flags and
// NATS; anything else that receives Salesforce's changes (a Pub/Sub API
// subscription, a test) can use them the same way.
//
//	Salesforce ──POST SOAP──▶ Outbound (method, auth, size, decode, org, User) ──Publisher──▶ VCCSYNC
//	           ◀──Ack / Fault──        Ack only after every PubAck
//
//	CDC message ──▶ Ingester ──decode──▶ events   ──check, then Publisher──▶ VCCSYNC
//	 (file, POST)              gap/overflow ──UserReader (REST)──▶ snapshots ──┘
//	                ◀── Outcome (published, duplicate, ignored, gap, overflow, rejected, failed)
//
// Outbound answers one outbound message on User: 405 not a POST, 401 no
// accepted credential (Auth), 415 a Content-Type other than text/xml
// (SOAP 1.1, what Salesforce sends), 413 over the size limit, 400 not an outbound
// message on User (nothing is published), 403 an organization not
// allowed, 500 a publish failed or timed out (Salesforce sends the whole
// message again), 200 the SOAP Ack once the stream has acknowledged every
// notification. Every refusal is a SOAP Fault. Each notification becomes a
// salesforce.user.changed event whose id (and Nats-Msg-Id) is the
// notification Id, source salesforce/outbound-message/<15-character org
// ID>, subject the 18-character user ID, data the fields sent. One log line
// per message: organization, notification counts and outcome, never user
// data.
//
// Ingester decodes a UserChangeEvent message (Streaming API or Pub/Sub
// form, salesforce.CDCDecoder) and publishes its events with derived ids
// (cdc-<user>-<transactionKey>-<sequenceNumber>); for a gap or an overflow
// it reads the users over REST (UserReader) and publishes snapshots
// (sf-snapshot-<user>-<SystemModstamp ms>, SnapshotEnvelope). Ingesting a
// message again publishes duplicates, which the stream drops. IngestHandler
// takes messages over HTTP POST.
//
// Both record Prometheus metrics on the *Metrics given (NewMetrics, on an
// injected registry): vccsync_outbound_requests_total{result},
// vccsync_outbound_notifications_total{outcome},
// vccsync_bridge_publish_duration_seconds{source},
// vccsync_cdc_messages_total{outcome}, vccsync_cdc_events_total{outcome}
// and vccsync_cdc_users_read_total.
//
// # Caveats
//
// Acknowledged means stored: Outbound answers 200 and Ingest reports
// published only after the Publisher returned the stream's PubAck. A
// failure part-way leaves the earlier events stored; Salesforce (or the
// caller) sends the message again and those are duplicates, dropped by
// the stream within its duplicate window and by the worker's ledger after
// it.
//
// Events that break the wire contract: Outbound publishes a notification
// whose user breaks a rule of the contract (a non-numeric agent id, say)
// all the same, so that the message's other notifications go through;
// syncworker dead-letters it with the reason, and the log line names it
// (dead_letter_expected). Ingest instead rejects the whole message and
// publishes none of it.
//
// Deleted records (an sObject without fields) are skipped: Salesforce
// deactivates users, it never deletes them. So are CDC DELETEs and changes
// whose changeOrigin names vccsync's own client.
//
// Neither handler routes, serves /healthz or /metrics, or terminates TLS:
// the server around them does. IngestHandler does not authenticate; bind
// it to a private address. Some fault and error texts name publisher's
// flags (--org-id, --max-body, --sf-url), the ones that change them.
//
// Neither creates the stream: syncworker does. Publishing to a missing
// stream fails (or times out) and is reported as such.
package bridge
