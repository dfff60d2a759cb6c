// Package bus is the NATS adapter of vccsync: an embedded JetStream server,
// client connection options, idempotent setup of the streams and the durable
// consumer, and publishing with message ids.
//
// Both commands use it: syncworker to start (or connect to) the server and to
// set up VCCSYNC, VCCSYNC_DLQ and its pull consumer; publisher to publish
// events and admin commands with Nats-Msg-Id = the CloudEvents id.
//
// # Streams
//
//	VCCSYNC      subjects vccsync.user.>, vccsync.access.>  WorkQueue retention, file storage,
//	             duplicate window DuplicateWindow (default 2m)
//	VCCSYNC_DLQ  subjects vccsync.dlq.>   Limits retention, MaxAge DLQMaxAge
//	             (default 30 days), file storage
//
// EnsureStreams and EnsureConsumer create or update with the given
// configuration; running them again with the same configuration changes
// nothing. Some changes cannot be made to an existing stream (retention
// policy, storage type); the server refuses them and the error says so.
//
// # Caveats
//
// WorkQueue retention: a message leaves VCCSYNC when it is acked (the worker
// acks after applying it or after copying it to VCCSYNC_DLQ). The server
// allows only one consumer per subject on a work-queue stream, so a second
// consumer whose filter overlaps the first is refused. Scale-out therefore
// means disjoint filters (see Partition), not several consumers on
// vccsync.user.>. To inspect messages without consuming them, read the stream
// directly (get message by sequence), not through another consumer.
//
// MaxDeliver is -1 (unlimited). The worker counts deliveries itself and, when
// retries are exhausted, publishes the message to VCCSYNC_DLQ with the error
// and then acks it. With a finite MaxDeliver JetStream would stop
// redelivering on its own and the message would stay in the stream, neither
// applied nor dead-lettered, with nothing but an advisory to show for it.
//
// Duplicate window: the server drops a message whose Nats-Msg-Id it has seen
// within DuplicateWindow and answers with Duplicate = true and the sequence
// of the first copy. Outside the window the same id is stored again; the
// worker's ledger catches those. A deliberate re-publish (a DLQ replay) must
// use a new message id (PublishWithID), otherwise a replay within the window
// is silently dropped as a duplicate.
//
// Durability: the embedded server syncs every write to disk before it
// acknowledges it (EmbeddedConfig.SyncInterval zero, NATS's
// "sync_interval: always"), so a PubAck, and the Ack vccsync sends
// Salesforce after it, survive an OS crash or power loss. NATS's own default
// syncs every two minutes; setting an interval trades that safety for
// publish throughput (BenchmarkEmbeddedSync measures it). An external
// server decides this itself: give it "sync_interval: always" in its
// jetstream block, or replicate the streams (--stream-replicas 3), whose
// PubAck then waits for a quorum.
//
// The embedded server listens on 127.0.0.1 by default so that publisher and
// the nats CLI on the same machine can connect; it has no authentication.
// Bind it to another interface only behind a firewall, or run a real
// nats-server with credentials and TLS and connect to it with Connect.
//
// Partition hashes the user ID as it appears in the subject. A 15- and an
// 18-character ID of the same user hash differently, so publishers should
// put the 18-character ID in the subject.
package bus
