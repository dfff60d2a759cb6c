// Package store is vccsync's durable state in one bbolt file: the ledger of
// processed event ids, each Salesforce user's checkpoint, last snapshot and
// link to its VCC user, and agent-ID reservations.
//
// The worker applies a batch of messages, records the whole batch with one
// [DB.Commit] (one write transaction, one fsync), and only then acks the
// messages. A redelivered event finds its id with [DB.Seen].
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
//
// Room is left for what comes next, each in its own top-level bucket,
// written in the same Commit transaction as the ledger entries they belong
// to:
//
//	history            per-user nested bucket: 8-byte big-endian sequence →
//	                   change (field, old → new, event id, time); bounded by
//	                   deleting the oldest keys, for status views
//	commands           command event id → outcome of an operator command, and
//	                   the intent of non-convergent effects recorded before the
//	                   call ("outcome unknown" after a crash)
//
// A layout change that an older build would misread or silently ignore
// raises SchemaVersion; Open refuses a file with a newer version than it
// knows ([ErrSchemaTooNew]) and upgrades older ones in place (version 1 is
// the first).
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
//   - Read transactions (ForEachUser) must not write to the store from
//     inside their callback, and long ones keep bbolt from reusing pages.
//   - The file uses bbolt's hash-map freelist, which is not written to disk
//     (cheaper commits on large files); it is rebuilt by scanning the file on
//     Open.
package store
