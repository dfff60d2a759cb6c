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
// # Buckets (schema version 2)
//
// Keys are bytes as listed; "binary" values are described under Encoding.
//
//	meta               "schema_version" → decimal version (see SchemaVersion)
//	ledger_v2          first 16 bytes of SHA-256(event id) → 8-byte big-endian
//	                   UnixNano(At), outcome (binary, encodeLedger)
//	ledger_by_time_v2  8-byte big-endian UnixNano(At) ‖ the 16-byte hash →
//	                   empty (time index, walked oldest first when pruning)
//	users_v2           Salesforce user ID (18) → UserState (binary, encodeUser)
//	users_by_vcc_v2    0x01 ‖ the 16 bytes of a UUID (VCC's user ids), or
//	                   0x00 ‖ any other VCC user id → Salesforce user ID (kept
//	                   in step by Commit)
//	history_v2         Salesforce user ID ‖ 8-byte big-endian UnixNano(At) ‖
//	                   2-byte big-endian tiebreak → HistoryEntry (binary,
//	                   encodeHistoryEntry). One bucket for every user: a
//	                   user's entries are one key range, oldest first. Key
//	                   times never go backwards within a user (an entry older
//	                   than the user's last is keyed at the last one's time,
//	                   its own At kept in the value), and the tiebreak orders
//	                   entries of the same nanosecond, so keys follow the
//	                   order entries were appended. Appended by Commit in the
//	                   batch's transaction; at most Options.HistoryLimit
//	                   entries per user, the oldest deleted in that same
//	                   transaction (a cursor walk over the user's range)
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
//
// Room is left for what comes next, each in its own top-level bucket,
// written in the same Commit transaction as the ledger entries they belong
// to:
//
//	commands           command event id → outcome of an operator command, and
//	                   the intent of non-convergent effects recorded before the
//	                   call ("outcome unknown" after a crash)
//
// # Encoding
//
// User states, history entries and ledger values are binary records
// written by hand (codec.go): a leading codec byte, then varints,
// length-prefixed strings and times (Unix milliseconds when the time is a
// whole millisecond, else seconds and nanoseconds; zero in one byte; read
// back in UTC, to the nanosecond). What makes them small:
//
//   - Only what is needed: UserState.Key is the record's key; LedgerEntry
//     keeps the outcome and the time, not the event id (its hash is the key)
//     nor the user key ([DB.Seen] returns UserKey empty). A stored
//     snapshot's ChangedFields (empty, as the handlers leave it) takes a
//     bit.
//   - Each snapshot field keeps its three states (absent, null, value) in
//     two bits of a 4-byte word; IsActive's value is in its state, a time
//     equal to the checkpoint takes no bytes.
//   - Strings of a record may copy or splice an earlier one of the same
//     record (the pool): Synced values repeat the snapshot's, an email
//     shares the username's local part and domain, a new value in a
//     history change differs from the old in a few characters. A
//     Salesforce ID (18 characters) takes 13 bytes and a UUID 17; in an
//     event id, the user key takes a byte and a UUID (the Salesforce
//     transaction key) 17.
//   - Outcomes, Synced keys, change fields and error classes vccsync uses
//     are one-byte codes of fixed tables (others are written out).
//
// Encoding is deterministic (Synced in key order). Decoding checks every
// length against the record and fails with an error naming the key, never
// a panic; FuzzUserCodec and FuzzHistoryEntryCodec check both. The tables
// and forms are part of the format: they may grow, not change
// (TestUserCodecGolden pins a record; TestCodecCoversEveryUserField fails
// when events.User gains a field the codec does not know).
//
// bbolt splits a page that outgrew its size into pages filled to the
// bucket's FillPercent. Half, the default, suits keys arriving in random
// order (pages end about 70% full); Commit and the migration raise it to
// full for a transaction whose new keys all sort after the bucket's last
// (a first sync in Salesforce ID order, the time index, agent IDs found in
// order), which leaves full pages behind. The file grows in steps of 4 MiB
// (bbolt's default is 16 MiB).
//
// # Size: what to expect
//
// BenchmarkStoreSize100k records 100,000 users, each with one event that
// created its VCC user (a full snapshot, the nine Synced entries the
// handlers write, a ledger entry, a history entry with three changes, an
// agent ID), in batches of 256:
//
//	users in Salesforce ID order (a first sync)   728 B/user in the file, 681 in use
//	users in random order                         945 B/user in the file, 880 in use
//	schema version 1, same batches               3433–4207 B/user
//
// That is 7 to 9 MiB of file per 10,000 users (version 1: 33 to 40 MiB).
// Of it, per user: the state 260–380 B, the history entry 150–215 B, the
// ledger entry 100 B, the VCC link 75 B, the agent ID 95–115 B.
//
// Later events add to it (BenchmarkStoreGrowth): each event 100 B of
// ledger for the retention (7 days), and each that changes something or
// fails a history entry of 150–220 B (160 B for a change of one field), up
// to Options.HistoryLimit (100) entries per user: at that bound 15 to 22
// KB per user, 150 to 210 MiB per 10,000 users.
//
// bbolt maps the file into memory, and the pages read are resident (clean
// pages the kernel can reclaim). Open reads every page in use (to rebuild
// the freelist), so from the start the store's share of the worker's RSS
// is about the pages in use, 7 to 9 MiB per 10,000 users (under 90 MiB at
// 100,000), plus the heap of a commit: bbolt copies each page a
// transaction changes, about 5 MiB for 256 new users in random order.
//
// # Schema versions and the migration from version 1
//
// A layout change that an older build would misread or silently ignore
// raises SchemaVersion; Open refuses a file with a newer version than it
// knows ([ErrSchemaTooNew]). Adding a top-level bucket that nothing else
// depends on does not: Open creates every missing bucket.
//
// Version 1 kept users, the VCC index, the ledger and its time index as
// JSON under their event ids and user IDs (users, users_by_vcc, ledger,
// ledger_by_time) and each user's history in a nested bucket (history).
// Open migrates such a file in place: it records version 2 first (an
// older build then refuses the file), then moves the records to the
// version 2 buckets in transactions of up to 4096 records each (written to
// the new bucket and deleted from the old in the same transaction, so an
// interrupted migration resumes at the next Open), users in key order
// (pages filled full), and deletes each old bucket once empty. Ledger
// entries older than the retention are dropped; the time index is rebuilt.
// A 100,000-user version 1 file (343 MB) migrated in 17 to 20 seconds on
// a busy 2-CPU machine, the file in memory (a disk adds its writes), with
// a Go heap of 16 MiB; its data then takes 630 B/user, but bbolt
// does not shrink files: the pages version 1 used are free and reused as
// the store grows. To reclaim them, stop syncworker and run `bbolt compact
// -o new.db vccsync.db` (go.etcd.io/bbolt/cmd/bbolt), then put new.db in
// place. While the old file is read its pages count in the RSS.
//
// # Ledger retention
//
// The ledger keeps an event id for Options.LedgerRetention, 7 days by
// default (DefaultLedgerRetention), after which Commit prunes it. The
// horizon has to outlast every way the same event id can be delivered
// again after it was applied:
//
//   - JetStream's duplicate window (bus.DefaultDuplicateWindow, 2 minutes)
//     drops a re-publish with the same message id before the worker sees
//     it; past the window only the ledger catches it.
//   - Redelivery: VCCSYNC is a work queue (a message leaves when acked; no
//     MaxAge by default, and one given should stay below the retention),
//     AckWait 30 seconds, MaxDeliver unlimited; the
//     worker dead-letters a message after its own MaxAttempts (10)
//     deliveries with a backoff of at most RetryMax (5 minutes): the whole
//     schedule, AckWait included, is under an hour. An applied message is
//     committed before it is acked, so a crash in between redelivers it
//     within AckWait of the restart.
//   - Salesforce keeps change events for 72 hours; a subscriber resuming
//     from its stored replay id, or from the earliest, publishes them again
//     with the same ids (cdc-<user>-<transaction>-<sequence>). A user read
//     again over REST has the id of its state (sf-snapshot-<user>-<ms>):
//     the same id again if the user has not changed, however much later.
//   - A DLQ replay publishes a new message id but the same event id. A
//     dead-lettered event is not in the ledger, so a replay applies it
//     whatever its age; the ledger only matters if another copy was
//     applied.
//
// An event delivered after its entry was pruned is applied again: a
// Salesforce snapshot is then not newer than the user's checkpoint and is
// stale (the handlers are convergent and write nothing); an operator
// command is carried out a second time (a password reset sent twice, say).
// That happens to a message left unacked in VCCSYNC for longer than the
// horizon — a worker down for more than a week right after a commit, a
// stream restored from an old backup — or to an event re-published on
// purpose (publisher --msg-id-suffix) after it. Raise LedgerRetention if
// such downtime is possible; it costs 100 bytes per event kept. Pruning
// runs only in Commit (a bounded number per commit: twice the batch's
// ledger entries, at least 64, at most 4096) and PruneLedger.
//
// The ledger key is the first 16 bytes of the SHA-256 of the event id
// (event ids run to 60 bytes and more). Two ids with the same hash would
// make the second look like a duplicate: with n entries kept, a new id
// meets one of their hashes with probability n/2^128 — under 10^-30 for a
// hundred million entries — far below the odds of a disk corrupting the
// file.
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
//   - Applied counts. With Batch.AddApplied, Commit adds each state's
//     Applied to the stored count, reading only the head of the record it
//     replaces (the count and the VCC link come first); the engine relies on
//     it so that an event decodes its user's state once, when it is loaded.
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
