// Package worker is vccsync's JetStream runtime: it pulls messages from the
// durable consumer, decodes them against the wire contract, applies each
// user's events in order (different users in parallel, up to a bound)
// through a Handler, records the batch in one Store commit, and only then
// acks.
//
// Outcomes per message:
//   - applied (any handler outcome) or a duplicate (event id in the ledger,
//     or twice in one batch): recorded, then acked;
//   - transient error (Temporary() true, timeouts, network, unclassified):
//     NakWithDelay with exponential backoff (cenkalti/backoff), at least the
//     server's Retry-After; the user's later events, in this batch and in
//     later ones, are held back (naked until the earlier event is due): an
//     event goes ahead only when no earlier event of its user is waiting
//     for redelivery, so each user's events apply in stream order, and the
//     batch's records are committed in that order;
//   - permanent error (Temporary() false): dead-lettered to VCCSYNC_DLQ with
//     the target's own message, then acked so it leaves the work queue;
//   - undecodable or invalid message: dead-lettered at once as poison;
//   - still failing after MaxAttempts attempts: dead-lettered as exhausted
//     (attempts count handler failures, not deliveries: being held back
//     behind an earlier event does not use them up).
//
// A message is never acked before its effect is applied and committed, and
// never dropped: the DLQ publish waits for its PubAck before the original is
// acked. The worker pulls a batch only when it is ready for it (one waiting
// pull for the first message, then what the consumer has ready), so every
// message it holds is in the batch at hand and kept alive with InProgress.
//
// The worker knows the handler's state type only as a type parameter, and
// the store and handler only through the interfaces declared here.
//
// Caveats:
//   - Batches are processed one after another; users within a batch run in
//     parallel. A slow user holds back the commit of its batch (not the
//     other users' calls).
//   - Holds and attempt counts live in memory: after a restart a held-back
//     event may be redelivered before the event it waited for, and retry
//     counts start again. Snapshot events still converge (the older one is
//     then stale and skipped by the handler's checkpoint).
//   - The consumer must be created with MaxDeliver -1: the worker, not
//     JetStream, decides when retries are exhausted.
package worker
