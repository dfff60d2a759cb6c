// Package store is vccsync's durable state in one bbolt file: the ledger of
// processed event ids, each Salesforce user's checkpoint, last snapshot and
// link to its VCC user, each user's history, and agent-ID reservations.
//
// The worker applies a batch of messages, records the whole batch with one
// [DB.Commit] (one write transaction, one fsync), and only then acks the
// messages. A redelivered event finds its id with [DB.Seen]. What each
// event or command did to a user (outcome, fields old → new, who asked and
// why) is appended to that user's history in the same Commit, and read back
// newest first with [DB.History] for operators' status and history views.
//
// # Buckets
//
// Values are JSON unless noted; keys are bytes as listed.
//
//	meta               "schema_version" → decimal version (see SchemaVersion)
//	ledger             event id → LedgerEntry
//	ledger_by_time     8-byte big-endian UnixNano(At) ‖ event id → empty
//	                   (time index, walked oldest first when pruning)
//	users              Salesforce user ID (18) → UserState
//	users_by_vcc       VCC user id → Salesforce user ID (kept in step by Commit)
//	agent_ids          agent ID key → Salesforce user ID; the key is "n" and 20
//	                   zero-padded digits for a decimal ID (so IDs sort by value
//	                   and a cursor skips reserved runs), "s" and the ID otherwise
//	agent_ids_by_user  Salesforce user ID → agent ID
//	agent_id_floor     decimal start → decimal floor: every ID in [start, floor)
//	                   was reserved or in use when last searched
//	agent_ids_released "n" and 20 zero-padded digits → empty: released decimal
//	                   IDs, tried before searching from the floor
//
//	sagas              Salesforce user ID, NUL, saga name → the step in
//	                   progress (JSON SagaStep): a multi-step change
//	                   (create then copy the template's sub-resources; alias:
//	                   remove from contact center → change alias → add back)
//	                   written in its own transaction before the step's call,
//	                   so a restart resumes at that step
//	intents            Salesforce user ID → Intent (JSON): the user's targets
//	                   may hold writes its committed state does not show.
//	                   Opened (OpenIntent, its own transaction, grouped with
//	                   concurrent ones by bbolt's Batch) before the first
//	                   write of an event; closed by the Commit whose
//	                   Batch.Settled names the user
//	history            Salesforce user ID → nested bucket of that user's
//	                   history: 8-byte big-endian sequence (the nested
//	                   bucket's NextSequence, so keys sort oldest first) →
//	                   HistoryEntry. Appended by Commit in the batch's
//	                   transaction; at most Options.HistoryLimit entries per
//	                   user, the oldest deleted in that same transaction
//
// Room is left for what comes next, each in its own top-level bucket,
// written in the same Commit transaction as the ledger entries they belong
// to:
//
//	commands           command event id → outcome of an operator command, and
//	                   the intent of non-convergent effects recorded before the
//	                   call ("outcome unknown" after a crash)
//
// A layout change that an older build would misread or silently ignore
// raises SchemaVersion; Open refuses a file with a newer version than it
// knows ([ErrSchemaTooNew]) and upgrades older ones in place (version 1 is
// the first). Adding a top-level bucket that nothing else depends on does
// not: Open creates every missing bucket, so a file written before the
// history bucket existed gains it on its next Open, and SchemaVersion stays
// 1. An older build opening a newer file leaves the history bucket
// untouched; the histories just lack what that build applied.
//
// # Caveats
//
//   - One writer process per file. bbolt takes an exclusive file lock; a
//     second Open (from another process, or from this one) waits
//     Options.Timeout and fails with [ErrLocked]. Scaling out means one file
//     per partition owner.
//   - One write transaction at a time. Commit a batch at once rather than
//     message by message: each write transaction pays an fsync, which is
//     most of its cost (see BenchmarkCommit).
//   - Ledger retention. Entries older than Options.LedgerRetention are
//     pruned, a bounded number per Commit (twice the batch's ledger entries,
//     at least 64, at most 4096), or on demand with [DB.PruneLedger]. The
//     retention must exceed the stream's max age and any replay horizon: an
//     event delivered again after its entry was pruned is applied again.
//   - Agent IDs. [DB.ReserveAgentID] writes its reservation in its own
//     transaction before the VCC user is created, so a retry after a crash
//     reuses the ID. The search resumes at a remembered floor instead of
//     the configured start: an ID reported in use once is not offered again,
//     while released reservations are.
//   - History is bounded by count, not by age: each user keeps the newest
//     Options.HistoryLimit entries. The bound is applied when Commit appends
//     to a user's history, so after lowering the limit a user keeps older
//     entries until their next one. Entries are not removed with the ledger
//     or the user state.
//   - OpenIntent and LinkUser write at once, outside Commit: they must be on
//     disk before the call to VCC they guard or follow. bbolt's Batch groups
//     concurrent ones into one transaction, and may run a function twice
//     when another in its group fails; both are idempotent.
//   - Read transactions (ForEachUser) must not write to the store from
//     inside their callback, and long ones keep bbolt from reusing pages.
//   - The file uses bbolt's hash-map freelist, which is not written to disk
//     (cheaper commits on large files); it is rebuilt by scanning the file on
//     Open.
//
// # Replay positions
//
// [ReplayStore] is a separate, small bbolt file for publisher's Pub/Sub
// subscription: topic → the replay id of the last change event published
// to JetStream, saved (and synced) after each PubAck, so a restart
// resumes right after it. It is not the worker's store: the subscriber
// and the worker run apart, and a second subscriber on the same file is
// refused while the first holds it.
package store
