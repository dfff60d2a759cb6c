// Package dlq is the dead-letter queue of vccsync: the format of a dead
// letter, and reading, replaying and purging the VCCSYNC_DLQ stream that
// syncworker dead-letters messages to (subjects vccsync.dlq.>).
//
// # The format
//
// A dead letter is the original message, body and headers, with the
// headers of the wire contract added (pkg/events, every Vccsync-* name in
// one place): Vccsync-Error, Vccsync-Error-Class (poison, permanent,
// exhausted), Vccsync-Original-Subject, Vccsync-Original-Seq,
// Vccsync-Deliveries, Vccsync-Failed-At and Vccsync-Original-Msg-Id. A
// replayed message that fails again comes back with Vccsync-Replays and
// Vccsync-Replayed-From too. Decode reads a stored message into a Letter;
// it never fails: a header that is missing leaves its field empty, an
// unreadable Vccsync-Failed-At falls back to the time the stream stored
// the message, and an unreadable Vccsync-Replays is reported in
// Letter.ReplaysErr (a replay refuses such a letter).
//
// # Reading
//
// Open looks up the stream; Plan fixes what a read covers (the sequences
// of a Filter, or every message, up to the last one stored when it is
// called) and Scan reads it in order, calling back for every letter the
// Filter matches and for every sequence asked for alone that is not in the
// stream. Ranges are read with an ordered consumer, a sequence given alone
// with a stream get; nothing is acknowledged or changed.
//
// # Replay
//
// A replay publishes the original body again on Vccsync-Original-Subject
// to VCCSYNC, with the original headers minus the DLQ ones and every
// Nats-* header, and with
//
//	Nats-Msg-Id            <original msg id>:replay:<N>
//	Vccsync-Replays        N: the replays of the message, this one included
//	Vccsync-Replayed-From  the DLQ sequence it was replayed from
//
// The new id gets the replay past the stream's duplicate window, which
// would drop the original id; the same DLQ message replayed twice has the
// same id, so the stream stores it once. The event and its id are
// unchanged: syncworker does not record a dead-lettered event in its
// ledger, so it applies the replay. After the stream's acknowledgement the
// DLQ copy is deleted unless ReplayOptions.Keep. A letter replayed
// MaxReplays times already is refused, and so is one without
// Vccsync-Original-Subject or with a DLQ subject there.
//
// # Caveats
//
// Sequences are DLQ stream sequences; they change meaning only when the
// stream is recreated. A letter dead-lettered while a Scan runs (such as a
// replay that failed at once) is not read by it: Plan stops at the last
// sequence stored when it is called.
//
// A replay is at least once: when the publish is acknowledged but the
// delete of the DLQ copy fails, the letter stays in the DLQ and is counted
// in ReplayCounts.Undeleted; a second replay of it within the duplicate
// window is a duplicate, after it a second copy the worker's ledger
// catches.
//
// The worker adds Vccsync-Previous-Error when a failed message carries
// Vccsync-Error; a replay drops Vccsync-Error with the other DLQ headers,
// so a letter that failed again after a replay does not say why it failed
// before (its replay count does say that it did).
//
// A refusal by the replay limit names the --max-replays option of the
// operator CLI, which sets ReplayOptions.MaxReplays.
//
// Purge deletes for good; asking first is the caller's job.
//
// Every call to the server is bounded by the timeout given to Open; the
// caller's context cancels the whole operation. The one exception: the
// delete after an acknowledged replay is not cancelled with the context,
// so that an interrupted replay does not leave a copy behind.
package dlq
