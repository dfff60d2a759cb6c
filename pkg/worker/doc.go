// Package worker is vccsync's JetStream runtime: it pulls messages from the
// durable consumer, decodes them against the wire contract, applies each
// user's events in order (different users in parallel, up to a bound)
// through a Handler, records what the users have finished in one Store
// commit, and only then acks.
//
// # Pipeline
//
//	fetch ──▶ dispatch ──▶ one lane per user ──▶ group commit ──▶ ack / nak
//
// One pull request at a time asks for as many messages as the worker may
// still hold (Config.MaxInflight, default 2×BatchSize, less those it
// holds), so the next pull overlaps the work and the commits in progress,
// and every message held is kept alive with InProgress. Each message is
// queued in its user's lane (the user comes from the subject; the body is
// decoded in the lane, in parallel). A lane loads the user's state once,
// has one of Concurrency appliers apply what is queued in stream order,
// hands it to the committer and waits for that commit before its next run,
// starting from the state in memory. When a lane ends with its state
// committed, the state is kept in memory for the user's next lane
// (Config.StateCache users, least recently used forgotten first); a lane
// whose run failed keeps nothing, and the next one reads the store. The
// committer writes every finished run that is ready in one
// transaction (at most BatchSize messages) and acks them. Each commit
// syncs the file, so commits start at least 5 ms apart and, while other
// messages are in hand, wait up to 10 ms for more runs to join: under load
// a sync carries a dozen messages instead of two, for a few milliseconds
// of latency. A slow user
// therefore holds back only its own later events: the others are
// committed and acked while it waits for VCC.
//
// # Access changes first
//
// With Config.Priority, access changes (a deactivation, or a reactivation
// reverting one: events.UserPrioritySubject) come from a consumer of their
// own, with their own credits (PriorityInflight) and lane slots
// (PriorityConcurrency), so a backlog in the main consumer does not delay
// them. A user's order still holds across the two consumers: before an
// access change is applied, the user's earlier messages still in the
// stream are read from it and applied first ("borrowed"); the main
// consumer's later delivery of each is acked as done. See priority.go.
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
//     behind an earlier event, or put back while quarantined, does not use
//     them up).
//
// # Crash safety
//
// A worker can die (kill -9, OOM, power loss) anywhere: after a write to
// VCC and before the commit that records it, between two events of a user,
// while events wait for a retry. Two mechanisms keep every user's final
// state what their events say, in their order, with no effect twice:
//
//   - Order across restarts. Per-user holds live in memory, and the
//     messages a dead worker held come back only after their AckWait (or
//     their NakWithDelay), while the user's later messages are delivered to
//     the next worker at once. So Run starts by reading the consumer's
//     state: every stream sequence delivered and above the ack floor that
//     is still in the stream (VCCSYNC is a work queue: an acked message is
//     gone) is such an orphan, and is recorded as pending for its user, as
//     if this worker had naked it. The user's later messages wait for it
//     (or, like any hold, for 2×AckWait+RetryMax at most if it never comes
//     back); other users are not held.
//   - Unrecorded writes. A handler records a durable write intent for the
//     user before its first write to a target (the store's own
//     transaction, grouped with concurrent ones), and while an intent is
//     open it reads the target in full instead of trusting the stored
//     state: "unchanged" is never concluded from the store while a write
//     may be missing from it. The worker closes the intent in the batch
//     commit that records a state accounting for every write: the last
//     record of a user whose handler calls did not fail after the last one
//     that succeeded carries Record.Settled. A dead letter keeps the
//     intent open; its record carries what the handler reached before
//     failing (Result.Partial), such as the link to a VCC user it created.
//
// Redelivered messages already in the ledger are duplicates; the others run
// again, finding their intent open. Effects that cannot be made convergent
// (a password-reset email) keep their own intent per command and report
// "outcome unknown" rather than run twice.
//
// # Quarantine
//
// When the target itself cannot be used (down, overloaded, refusing the
// worker's credentials) every message would fail the same way and, after
// its attempts, be dead-lettered. With a Config.Probe the worker
// quarantines itself instead:
//
//   - Detection: QuarantineKind sorts each handler failure, through
//     interfaces only (Misconfigured() bool, Unavailable() bool,
//     StatusCode() int, net.Error, Temporary() bool), into config (the
//     configuration does not match the target, such as a missing template
//     user), unavailable (5xx, 429, 408, network, timeouts), auth (401,
//     403) or "" (about the message: 409 and other 4xx, unclassified
//     errors). The worker keeps the last outcome of each
//     of the last QuarantineWindow (20) messages handled within
//     QuarantineMaxAge (1m); once it holds QuarantineMinSamples (10) and a
//     share of QuarantineRatio (80%) or more failed with the same kind, the
//     worker is quarantined. A message retried many times counts once, so
//     one bad message cannot quarantine the worker.
//   - Confirmation by the Probe: before a failure of either kind would
//     dead-letter its message (a refusal that is not Temporary, such as a
//     401 invalid_client or a 403, or the last of MaxAttempts), the Probe
//     is asked. If it fails the worker is quarantined and the message put
//     back; if it succeeds the target answers, the failure is about the
//     message, and it is dead-lettered as usual (a 403 on one record stays
//     permanent). Concurrent failures share one probe.
//   - While quarantined: the handler is not called; messages in hand, and
//     failures of those kinds, are naked with a delay without using an
//     attempt, so no message is dead-lettered as exhausted because of the
//     outage; the worker fetches nothing and pauses its consumer
//     (PauseConsumer, when the Publisher is a ConsumerPauser) until twice
//     the next probe interval plus ProbeTimeout, renewed before each wait,
//     so a worker that dies leaves it paused only briefly. It probes with
//     exponential backoff from ProbeInitial (1s) to ProbeMax (1m); when a
//     probe succeeds it resumes the consumer and consumes again, with a
//     fresh window.
//   - Observability: Quarantined() gives the state, the reason (with the
//     last probe error) and since when, for /readyz and the status view;
//     vccsync_quarantined and vccsync_quarantine_transitions_total{state};
//     one log line on entering and one on leaving.
//
// Permanent business refusals never count. Without a Probe there is no
// quarantine.
//
// A message is never acked before its effect is applied and committed, and
// never dropped: the DLQ publish waits for its PubAck before the original is
// acked. The worker holds no more messages than MaxInflight (and
// PriorityInflight), every one kept alive with InProgress until it is acked
// or naked. On a stop, the events being applied finish (within
// ShutdownGrace) and are committed; what waits in a lane goes back at once.
//
// The worker knows the handler's state type only as a type parameter, and
// the store and handler only through the interfaces declared here.
//
// Caveats:
//   - A user's run waits for its own commit before the user's next run; a
//     user with a steady stream of events gets one commit per run, the
//     users together share each commit.
//   - Borrowing reads the stream by subject (the user's ID as it appears in
//     the access change's subject): a user published under both a 15- and
//     an 18-character ID is not matched. A borrowed message that fails for
//     good is passed over (not dead-lettered) and dead-lettered by the main
//     consumer in its turn; the access change goes ahead of it, as behind
//     any dead letter.
//   - Holds and attempt counts live in memory; after a restart holds are
//     rebuilt from the consumer's unacknowledged messages (see Crash
//     safety), attempt counts start again.
//   - Order is kept per worker. Several workers sharing one consumer
//     would each hold only their own messages: scale out by partitions,
//     one consumer each.
//   - The consumer must be created with MaxDeliver -1: the worker, not
//     JetStream, decides when retries are exhausted.
//   - Quarantine is per worker and in memory. Workers sharing a consumer
//     each detect and probe on their own; the pause stops them all. The
//     failures that reveal an outage (before the window decides) use an
//     attempt each. A target that answers the Probe while most calls keep
//     failing the same way makes the worker enter and leave quarantine in
//     turn (vccsync_quarantine_transitions_total rises) until those
//     messages use up their attempts. A worker that stops or dies while
//     quarantined leaves the consumer paused until the last pauseUntil, at
//     most 2×ProbeMax+ProbeTimeout (2m10s by default).
package worker
