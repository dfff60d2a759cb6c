// Package vcc is a client of the Vonage Contact Center (VCC) User Admin API
// v4: users (get, get by username, list, create, patch, archive, revert,
// unlock, delete), their skills, groups and callback numbers, and the
// account's callback numbers; and, through endpoints VCC does not document
// (marked [I] below), telephony regions, password resets and a user's API
// credentials.
//
// A Client fetches OAuth client-credentials tokens from the token endpoint,
// caches them and refreshes them shortly before they expire (concurrent
// callers share one refresh); on the first 401 of a call it drops the token
// and sends that request once more with a fresh one. Every API request,
// each retry included, carries Accept: application/vnd.newvoicemedia.v4+json
// and waits for a client-side rate limiter (160 requests a minute by
// default). A RequestObserver is told the method, route template and status
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
//   - ResetPassword (POST /users/{userId}/passwordReset sends an email) is
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
// VCC does not document every endpoint vccsync needs. The project fixes
// the ones below, marked [I] (inferred, not documented); each is behind one
// method, so the real mechanism can replace it without touching the
// callers. A 404 from any of them matches ErrNotFound and other non-2xx
// replies are *Errors classified like the rest (a 409 is permanent and
// carries VCC's message).
//   - [I] ListTelephonyRegions: GET /telephonyRegions →
//     {"telephonyRegions":[{"telephonyRegionId":…,"name":"EMEA - Primary (11)"}]};
//     the IDs are what telephonyAddress.outboundTelephonyRegion holds.
//   - [I] ResetPassword: POST /users/{userId}/passwordReset with no body,
//     202 (any 2xx is accepted). Sends the user an email: not idempotent.
//   - [I] ListUserCredentials: GET /users/{userId}/credentials →
//     {"credentials":[{"clientId":…}]}.
//   - [I] UnlockUser: PATCH /users/{userId} with {"locked":false}.
//
// Caveats:
//   - VCC has no idempotency keys and no ETags. A CreateUser that returned a
//     transient failure may have created the user (when its last try was a
//     lookup, the error says so): callers must look the user up with
//     GetUserByUsername before creating it again. A user of that username that someone else created
//     meanwhile is returned by CreateUser's lookup as if it were the
//     create's; and a POST sent again after a lookup's 404 may meet a first
//     POST that VCC processed late, and be refused as a duplicate (a
//     permanent *Error). Handlers should read, compare and write only what
//     differs.
//   - VCC's rate limit is per account, shared by every client and
//     integration of the account, and unpublished. The limiter of a Client
//     only paces that Client: share one Client per account in a process, and
//     expect 429s anyway (they are retried; Retry-After is honoured when
//     sent, but VCC does not document it). Retries share the limiter too:
//     under a storm of failures each try takes its place in it.
//   - Some behaviour is inferred, not documented, and the client is tolerant
//     of it: POST /users succeeds with 200 or 201 (any 2xx is accepted);
//     archive and revert are PATCHes of "active" and unlock a PATCH of
//     "locked"; a duplicate username or agent ID, deleting a user that is not
//     archived and exceeding the licences (without AllowOverages) may come
//     as 400 or 409; a missing scope as 403; bad credentials as 400 or 401
//     with invalid_client. All of these are permanent *Errors carrying VCC's
//     message, whatever the status: match on the class, not the code.
//   - ResetPassword is not idempotent: each call sends an email, and a
//     call that failed with a 5xx, a 408 or a *TransportError may have sent
//     it. Callers record their intent before calling and report "outcome
//     unknown" after a crash instead of calling again.
//   - agentDisplayId can be set only once; VCC refuses a later change.
//   - Replies are decoded tolerantly: unknown keys are ignored, key case
//     does not matter, the user list may come under "users" or "items", and
//     skill levels as 6 or "6".
//   - ForEachUser reads page after page of a list that may change
//     meanwhile: it is not a snapshot.
package vcc
