// Package vcc is a client of the Vonage Contact Center (VCC) User Admin API
// v4: users (get, get by username, list, create, patch, archive, revert,
// unlock, delete), their skills, groups and callback numbers, and the
// account's callback numbers; and, through endpoints VCC does not document
// (marked [I] below), telephony regions, password resets and a user's API
// credentials.
//
// A Client fetches OAuth client-credentials tokens from the token endpoint,
// caches them and refreshes them shortly before they expire (concurrent
// callers share one refresh); on a 401 from the API it drops the token and
// retries that request once with a fresh one. Every API request carries
// Accept: application/vnd.newvoicemedia.v4+json and waits for a client-side
// rate limiter (160 requests a minute by default). A RequestObserver is told
// the method, route template and status of every HTTP request, for metrics.
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
// The client retries nothing itself except the single 401 refresh: the
// caller retries with backoff, honouring RetryAfter.
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
//   - VCC has no idempotency keys and no ETags. A CreateUser that failed
//     without a reply (timeout, broken connection) may have created the user:
//     callers must look the user up with GetUserByUsername before creating
//     it again. Handlers should read, compare and write only what differs.
//   - VCC's rate limit is per account, shared by every client and
//     integration of the account, and unpublished. The limiter of a Client
//     only paces that Client: share one Client per account in a process, and
//     expect 429s anyway (Retry-After is honoured when sent, but VCC does not
//     document it).
//   - Some behaviour is inferred, not documented, and the client is tolerant
//     of it: POST /users succeeds with 200 or 201 (any 2xx is accepted);
//     archive and revert are PATCHes of "active" and unlock a PATCH of
//     "locked"; a duplicate username or agent ID, deleting a user that is not
//     archived and exceeding the licences (without AllowOverages) may come
//     as 400 or 409; a missing scope as 403; bad credentials as 400 or 401
//     with invalid_client. All of these are permanent *Errors carrying VCC's
//     message, whatever the status: match on the class, not the code.
//   - ResetPassword is not idempotent: each call sends an email, and a
//     call that failed without an *Error may have sent it. Callers record
//     their intent before calling and report "outcome unknown" after a
//     crash instead of calling again.
//   - agentDisplayId can be set only once; VCC refuses a later change.
//   - Replies are decoded tolerantly: unknown keys are ignored, key case
//     does not matter, the user list may come under "users" or "items", and
//     skill levels as 6 or "6".
//   - ForEachUser reads page after page of a list that may change
//     meanwhile: it is not a snapshot.
package vcc
