// Package vcc is a client of the Vonage Contact Center (VCC) User Admin API
// v4, as VCC documents it. Every call is one documented endpoint (under
// the API root, e.g. https://emea.api.cc.vonage.com/useradmin):
//
//	GET    /users?include=&page=&limit=            ListUsers, ForEachUser, RegionsInUse
//	GET    /users/{userId}                          GetUser
//	GET    /users/by/username/{username}            GetUserByUsername
//	POST   /users?allowOverages=                    CreateUser
//	PATCH  /users/{userId}?allowOverages=[&acceptArchiveInMultipleAccounts=true]
//	                                                PatchUser, ArchiveUser, RevertUser
//	DELETE /users/{userId}                          DeleteUser
//	GET/PUT /users/{userId}/skills                  GetSkills, PutSkills
//	GET/PUT /users/{userId}/groups                  GetGroups, PutGroups
//	GET/PUT /users/{userId}/callbackNumbers         GetCallbackNumbers, PutCallbackNumbers
//	GET/PUT /users/{userId}/permissions/groups      GetGroupPermissions, PutGroupPermissions
//	POST   /users/{userId}/unlock                   UnlockUser
//	POST   /users/{userId}/forgotPassword           ResetPassword (VCC emails the user)
//	GET    /callbackNumbers                         ListCallbackNumbers
//
// No call depends on an undocumented path. VCC has no endpoint that lists
// telephony regions (users carry only the region's GUID, in
// telephonyAddress.outboundTelephonyRegion): RegionsInUse reads every user
// and says which GUIDs are in use, by how many users, with example
// usernames, so an operator can map region names to GUIDs in the
// configuration. No endpoint for a user's API credentials is documented
// either: VCC refuses to delete a user who has some, and DeleteUser
// returns its message.
//
// Paging. Every list VCC serves is paged: limit 1 to 5000, default 25,
// page from 1 (VCC's pages disagree on 0 or 1, so both are always sent).
// A read that does not follow the pages sees only the first 25 items, and
// a replace-all PUT built from such a partial read deletes the rest — 40
// skills read as 25 and put back lose 15. So every list read of the client
// (GetSkills, GetGroups, GetCallbackNumbers, GetGroupPermissions,
// ListCallbackNumbers) sends limit=5000&page=N from page 1 and reads every
// page: it follows meta.pageCount when the reply has it, and otherwise (a
// bare array, or a wrapper without meta) reads the next page while a page
// comes back full. An empty page ends a read. A server that ignores paging
// is guarded against: a page equal to the one before ends the read (an
// error when meta says more pages follow), and a read past 1000 pages is
// an error. ForEachUser pages the same way with the page size it is given.
// ReadPage reads one raw page of a list, for checking VCC's paging (the
// contract suite in package vcctest runs the client against the sandbox
// and, before go-live, against a real account).
//
// A Client fetches OAuth client-credentials tokens from the token endpoint,
// caches them and refreshes them shortly before they expire (concurrent
// callers share one refresh); on the first 401 of a call it drops the token
// and sends that request once more with a fresh one. Every API request,
// each retry included, carries Accept: application/vnd.newvoicemedia.v4+json
// and waits for the client's limiter. By default that is a fixed token
// bucket of Config.RatePerMinute (160 a minute, Vonage's own sample) with a
// burst of Config.RateBurst (10, never more than the per-minute rate);
// Config.Limiter replaces it with any Limiter — Wait before each API
// request (token requests excluded), Observe after each API reply, true
// when VCC answered 429 — e.g. an adaptive one that slows down when VCC
// throttles. A RequestObserver is told the method, route template and status
// of every HTTP request, each retry included, for metrics.
//
// Errors classify themselves by behaviour:
//   - *Error is a non-2xx reply, with VCC's own message (or the OAuth
//     error and error_description of the token endpoint). Temporary() is
//     true for 408, 429 and 5xx; RetryAfter() is the Retry-After the server
//     sent, if any. A 404 matches ErrNotFound.
//   - *TransportError is a failure to get a complete reply (connection
//     refused or reset, the per-request timeout): always temporary.
//   - When the caller's context is cancelled or past its deadline, the
//     error wraps context.Canceled or context.DeadlineExceeded.
//   - Anything else (an invalid argument, a 2xx reply that does not decode)
//     is permanent.
//
// Retries. A call whose try fails transiently — an *Error with Temporary()
// true (408, 429, 5xx) or a *TransportError, from the API or from the
// token endpoint — is tried again inside the call when its method allows:
//   - GET, PUT (the replace-all lists), PATCH (setting fields) and DELETE
//     are idempotent and are tried again after every transient failure.
//   - CreateUser (POST /users) is never sent again blindly. A 429 means VCC
//     did not process it: it is sent again. After any other transient
//     failure (a 5xx, a 408, a *TransportError) the user may have been
//     created all the same, so the next try is GET
//     /users/by/username/{username}: a user found is the create's result,
//     a 404 sends the POST again, and a lookup that fails transiently is
//     tried again. A create without a username is tried again only after a
//     429.
//   - UnlockUser (POST /users/{userId}/unlock) sets a state: tried again
//     like a PUT.
//   - ResetPassword (POST /users/{userId}/forgotPassword sends an email) is
//     tried again only after a 429; any other failure is returned at once,
//     the email may have gone.
//   - Whatever the call, a temporary failure to get a token is tried again
//     (the request itself was not sent), and a permanent failure never is.
//
// Before each new try the client waits an exponential backoff with jitter —
// Config.RetryInitial (default 200ms), twice as long each time, drawn within
// ±50%, at most Config.RetryMax (default 5s) — or the server's Retry-After
// when that is longer. A call sends at most Config.MaxTries requests
// (default 6, the first included; the 401 re-send does not count) and
// spends at most Config.RetryBudget (default 30s, from its start) trying
// and waiting: when the next wait would end past the budget, or past the
// context's deadline, the call returns the last failure at once, unchanged
// — an *Error keeps its RetryAfter, so the caller can delay the whole job
// instead. A try already under way is not cut short by the budget; it ends
// within Config.Timeout. MaxTries 1 turns retries off for a Client, and
// WithoutRetries for the calls made with one context (a health probe that
// must see VCC's first answer). Cancelling the context ends a wait at once,
// with an error wrapping the context's error.
//
// When the retries run out the error is that of the last try (for a
// CreateUser whose last try was the lookup, wrapped in one that says the
// user may have been created), classified as above, so the caller may retry
// later with backoff, honouring RetryAfter.
//
// The client secret and access tokens never appear in errors.
//
// Archiving a user of several accounts. VCC refuses to archive a user who
// belongs to several VCC accounts unless the PATCH carries
// acceptArchiveInMultipleAccounts=true, which archives the user in all of
// them. When a PATCH that sets active=false (ArchiveUser, or PatchUser
// with Active false) is refused with a 4xx whose message names
// acceptArchiveInMultipleAccounts or "multiple accounts", the client sends
// it again with that flag if Config.AcceptArchiveInMultipleAccounts is
// set; otherwise it returns a permanent error that matches
// ErrMultipleAccounts (errors.Is), holds VCC's *Error (errors.As) and says
// how to allow it.
//
// Caveats:
//   - VCC has no idempotency keys and no ETags. A CreateUser that returned a
//     transient failure may have created the user (when its last try was a
//     lookup, the error says so): callers must look the user up with
//     GetUserByUsername before creating it again. A user of that username that someone else created
//     meanwhile is returned by CreateUser's lookup as if it were the
//     create's; and a POST sent again after a lookup's 404 may meet a first
//     POST that VCC processed late, and be refused as a duplicate (a
//     permanent *Error that also matches ErrMaybeCreated: the user of that
//     username may be the one the call created). Handlers should read,
//     compare and write only what differs.
//   - VCC's rate limit is per account, shared by every client and
//     integration of the account, and unpublished. The limiter of a Client
//     only paces that Client: share one Client per account in a process, and
//     expect 429s anyway (they are retried; Retry-After is honoured when
//     sent, but VCC does not document it). Retries share the limiter too:
//     under a storm of failures each try takes its place in it.
//   - Some behaviour is not documented, and the client is tolerant of it:
//     POST /users succeeds with 200 or 201 (any 2xx is accepted), and one
//     with no body is read back by username; archive and revert are
//     PATCHes of "active"; a list may come as a bare array; a duplicate
//     username or agent ID may come as 400 or 409 (IsDuplicate tells it by
//     VCC's message); deleting a user that is not archived and exceeding
//     the licences (without AllowOverages) may come as 400 or 409; a
//     missing scope as 403; bad credentials as 400 or 401 with
//     invalid_client. All of these are permanent *Errors carrying VCC's
//     message, whatever the status: match on the class, not the code. A
//     429 may come without Retry-After: it is retried after the backoff.
//   - ResetPassword is not idempotent: each call sends an email, and a
//     call that failed with a 5xx, a 408 or a *TransportError may have sent
//     it. Callers record their intent before calling and report "outcome
//     unknown" after a crash instead of calling again.
//   - agentDisplayId can be set only once; VCC refuses a later change.
//   - Replies are decoded tolerantly: unknown keys are ignored, key case
//     does not matter (VCC spells outboundAutoanswer, older pages nonlive),
//     a list — the user list included — may come under its own key, "items"
//     or as a bare array, and skill levels as 6 or "6".
//   - Whether a PATCH of part of a nested object (e.g. only
//     telephonyAddress.outboundTelephonyRegion) merges or replaces it is
//     not documented: write the whole nested object, as read.
//   - ForEachUser reads page after page of a list that may change
//     meanwhile: it is not a snapshot.
package vcc
