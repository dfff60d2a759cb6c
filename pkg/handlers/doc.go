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
//     full and written whole, and the template's selected callback number,
//     in the create as Vonage's "Create user" example sends it (after the
//     lists, with a PATCH, once VCC has refused it in a create: see
//     CacheOptions.SelectAfterCreate);
//     username, name, email and ssoExternalId (= FederationIdentifier) come
//     from Salesforce; agentDisplayId is the NVM Agent Id when Salesforce has
//     one, else the next free ID from the starting ID, skipping IDs in use.
//     A template with WebRTC on gives the new agent its agent ID as phone
//     number (VCC needs one, unique in the account; seed 003's rule for
//     WebRTC-only agents).
//   - An active user with a VCC user gets only what differs written (from
//     what was last synced when that can be trusted: see "Convergence"),
//     and is reverted to active if archived. A VCC user with the same username that
//     vccsync did not create is linked, never duplicated (see "The user
//     index" for how it is found).
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
// Convergence: an apply writes only what differs, so a retry after a crash
// writes nothing new. What it compares with depends on whether the stored
// state (State.Synced: what vccsync last wrote to or saw in VCC) can be
// trusted (VCC's fair-usage limit is 160 requests a minute):
//   - When the desired fields equal what vccsync last synced for a linked
//     user, nothing is read or written.
//   - An update of a linked user (Salesforce changes Email or LastName,
//     deactivates or reactivates the user) is one PATCH of the fields whose
//     desired value differs from State.Synced, with no read first — when,
//     and only when, the state can be trusted: no write intent open from
//     before it (or the state is Fresh: see "Crash safety"), no create step
//     pending, not VerifyUser, and Synced holds every field compared
//     (username, name, email, ssoExternalId, active) and Salesforce's agent
//     ID, if it has one. Every changed field is top-level: one inside a
//     nested object would need the whole object, which Synced does not hold,
//     so such a change would be read first. VCC answers the PATCH with the
//     updated user, and Synced records what that reply holds, so a field
//     VCC does not hold as written (or drifted by hand) is written again
//     with the user's next event. A 404 (the user deleted in VCC behind
//     vccsync's back) is handled like a read's 404: the user is found by
//     username, else created again (or "not provisioned" when inactive).
//   - Every other path reads the VCC user first and writes what differs
//     from it: after a crash (the intent is open, so a retry reads VCC in
//     full), VerifyUser (reconcile, resync, provisioning on demand), admin
//     commands, creates and links, an unfinished create, a user whose
//     Synced lacks a field, a Salesforce agent ID that differs from the one
//     synced. CacheOptions.ReadBeforeWrite makes every update read first
//     (the old behaviour, one call more per update, for comparison).
//
// The caveat: a change made by hand in VCC to a field Salesforce did not
// change is no longer corrected by the user's next Salesforce change (an
// update writes only the fields that differ from Synced), unless that
// PATCH's reply shows it (then by the user's event after it); otherwise it
// is left to reconcile (VerifyUser), as drift on a user Salesforce does not
// change always was. A VCC that stored a written value differently (say,
// normalized its case) would have it written again with each event of the
// user: a PATCH per event, not a loop within one.
//
// The user index. To link rather than duplicate, a Salesforce user without
// a VCC user must be looked up by username before it is created; to
// allocate an agent ID, the IDs in use must be known. Both come from one
// listing of the account's users (GET /users?include=All, pages of 5000
// followed to meta.pageCount), held in memory per Handler: lower-case
// username → VCC user ID, and the agent IDs in use. So a create reads
// nothing in the steady state: POST /users, then the writes of the
// template's lists (PUT skills, groups, callback numbers, group
// permissions, each only when the template has some) — 1 to 5 calls, where
// it used to take one GET /users/by/username/{username} more, and a PATCH
// after the lists to select the callback number. The rules:
//   - Built lazily, by the first lookup or agent-ID allocation, and listed
//     again when older than CacheOptions.UserIndexMaxAge (default 10
//     minutes) at its next use: nothing is listed while no unlinked user
//     comes. One listing runs at a time; concurrent runs wait for it. Changes
//     made meanwhile are replayed onto it.
//   - Kept in step by the handler's own work: a create adds the user, a
//     rename (a PATCH of the username) moves it, a delete command removes
//     it, and every user read from VCC is recorded as read.
//   - A username the index holds is still read from VCC (GET by username,
//     one call), so a user renamed or deleted behind vccsync's back is not
//     linked by mistake: a 404 forgets the name and the user is created.
//   - A username the index does not hold is created at once. When VCC
//     refuses the create as a duplicate (409, or 400 with "already exists"
//     and the like: VCC does not document the status), the user was made in
//     VCC after the listing: it is read by username (the only lookup of the
//     create, on this path only), linked and converged like any existing
//     user, with its own lists left alone, and the agent ID reserved for the
//     create is released. A refusal for which VCC has no user of that
//     username is the agent ID (or the phone number made of it) being
//     taken: an allocated ID is released and the event retried. Either way
//     the index is listed again before its next use.
//   - Recovery does not trust the index: while the user's write intent is
//     open (a crash or a failed run may have left a user VCC created
//     unrecorded) or the create step is still recorded, and for VerifyUser
//     and every admin command, usernames are looked up in VCC, one GET each,
//     as before.
//   - A create refused after an earlier try of the same POST may have been
//     processed (vcc.ErrMaybeCreated: a 5xx, then the lookup's 404, then the
//     POST sent again refused) takes the user found as the one it created:
//     the create step is kept and the template's lists are copied onto it.
//   - Bounded: an account with more than CacheOptions.UserIndexMaxEntries
//     users (default 200000; an entry takes some 250 bytes) is not indexed
//     by username (every unlinked user is looked up in VCC); its agent IDs
//     in use are kept all the same. CacheOptions.NoUsernameIndex turns the
//     username lookups off (the old behaviour, for comparison).
//
// Templates are read once (the template user by username, and its four
// lists) and reused for CacheOptions.TemplateMaxAge (default 5 minutes).
//
// Crash safety: every write goes through ports that first open the user's
// write intent (Journal.OpenIntent, durable). While an intent opened before
// the state at hand is open (State.Fresh false), the handler never
// concludes "unchanged" or "stale" from the stored state, nor writes an
// update against it: it reads VCC in full and writes what differs. The worker closes the intent when it
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
//   - The user index sees a VCC user made behind vccsync's back only at its
//     next listing, or when VCC refuses a create for it: meanwhile an
//     inactive Salesforce user whose VCC user was made since the listing is
//     "not provisioned" (not archived) until the index is older than its
//     max age and a later event of the user comes.
//   - Each Handler (each worker process) has its own index: a user another
//     process creates is seen the same way, by a refusal or the next
//     listing. A listing reads the account page by page while it changes
//     (vcc.ForEachUser): a user made meanwhile may be missed until the
//     next one; the refusal path covers it.
//   - Each refusal of a create the index did not foresee costs, besides
//     the refused POST and the lookup, a listing at the index's next use
//     (one call per 5000 users; refusals while it runs share it): cheap
//     while users made behind vccsync's back are occasional, not when
//     another tool creates the same users at the same time.
//   - Usernames are compared case-insensitively in the index; VCC's own
//     comparison decides, through the GET by username of a hit and the
//     create's refusal.
//   - An agent ID a deleted VCC user had stays "in use" for the allocator.
//   - A template edited in VCC reaches new users within TemplateMaxAge.
package handlers
