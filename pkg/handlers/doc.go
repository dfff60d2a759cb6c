// Package handlers is vccsync's domain: from a Salesforce user snapshot and
// the mapping configuration it derives the desired VCC user, reads the VCC
// user, plans the difference and applies only that difference through the
// small VCC interface it declares.
//
// Rules (seed 000 "create VCC users from a template", done better):
//   - An active user in scope with no VCC user gets one created from the
//     template VCC user of its ProfileId (or the default template): role,
//     chargeable, actAsAgent and every agent setting of VCC's documented
//     user object (location, telephony region, capacity, wrap-up,
//     auto-answer, transcription, ...), skills with levels, groups,
//     callback numbers and group permissions are copied, each list read in
//     full and written whole, and then the template's selected callback
//     number (VCC accepts only one of the user's own numbers there);
//     username, name, email and ssoExternalId (= FederationIdentifier) come
//     from Salesforce; agentDisplayId is the NVM Agent Id when Salesforce has
//     one, else the next free ID from the starting ID, skipping IDs in use.
//     A template with WebRTC on gives the new agent its agent ID as phone
//     number (VCC needs one, unique in the account; seed 003's rule for
//     WebRTC-only agents).
//   - An active user with a VCC user gets only what differs written, and is
//     reverted to active if archived. A VCC user with the same username that
//     vccsync did not create is linked, never duplicated.
//   - An inactive user's VCC user is archived, in the same PATCH as every
//     other field that differs (an email changed on the way out, say).
//   - A created VCC user is linked (Journal.Link) right after the create,
//     before the template's lists are copied or the contact center is
//     asked; a copy left unfinished is finished by the user's next event,
//     active or not.
//
// Nested objects: VCC does not document whether a PATCH of part of a nested
// object (telephonyAddress) merges or replaces it, so a command that changes
// one field of it writes the user's whole current object with that field
// changed.
//
// Configuration errors: a template user VCC does not have is a
// *ConfigError (Misconfigured), so the worker quarantines instead of
// dead-lettering every create until an administrator creates it. Telephony
// regions are named to GUIDs in the mapping (VCC lists none).
//
// Convergence: every apply reads the target first and writes only what
// differs, so a retry after a crash writes nothing new. When the desired
// fields equal what vccsync last synced for a linked user, the handler skips
// even the read (VCC's fair-usage limit is 160 requests a minute); drift made
// by hand in VCC is therefore corrected on the next Salesforce change, not
// on every event.
//
// Crash safety: every write goes through ports that first open the user's
// write intent (Journal.OpenIntent, durable). While an intent opened before
// the state at hand is open (State.Fresh false), the handler never
// concludes "unchanged" or "stale" from the stored state: it reads VCC in
// full and writes what differs. The worker closes the intent when it
// commits a state that accounts for the writes. Every error returns a
// Partial result: what the run reached (the merged snapshot, a link), to
// record with the dead letter.
//
// Caveats:
//   - Template settings are copied at creation only; later edits of the
//     template, or a ProfileId change, do not rewrite existing users.
//   - VCC keeps agentDisplayId immutable: a Salesforce NVM Agent Id that
//     differs from the VCC user's existing agent ID is reported, not written.
//   - A user first seen through a partial event (no username or name known)
//     is read from Salesforce when a reader is set (ReadSalesforce); without
//     one, what the event carries is applied, and a user that would need
//     creating cannot be: the error says which fields are missing.
//   - Intents cover VCC and Salesforce writes alike, but a verification
//     reads the VCC user (and the create step), not contact-center
//     membership: a membership change lost in a crash is redone by the
//     event's own retry, which finds the saga step or the stale membership.
//   - A user that leaves the mapping's scope is left as it is.
package handlers
