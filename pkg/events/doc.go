// Package events is vccsync's wire contract: the CloudEvents 1.0 envelope
// (JSON structured mode), the salesforce.user.changed event and the admin
// command types, the NATS subjects they travel on, the DLQ header names, and
// strict validation with specific error messages.
//
// It uses the standard library only, so every other package (and any
// external publisher written in Go) can depend on it.
//
// Caveats:
//   - Salesforce user fields keep three states: absent (unknown — keep what is
//     known), explicit null (cleared) and a value. See [Field].
//   - Salesforce IDs are accepted in their 15- and 18-character forms and
//     normalised to 18 characters ([NormalizeID]), so a subject carrying the
//     15-character form and a body carrying the 18-character form name the
//     same user.
//   - Timestamps are accepted in the forms Salesforce emits (RFC 3339 with or
//     without milliseconds, and "+0000" offsets from the REST API).
//   - [Decode] reads the shape producers write (known keys spelled exactly,
//     strings without escapes) in one pass of its own, and everything else
//     with encoding/json; both read an accepted body alike (the fuzz target
//     FuzzFastEnvelope checks it), so the fast path changes only the cost.
package events
