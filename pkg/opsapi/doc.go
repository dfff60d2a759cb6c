// Package opsapi is the worker's operators' service and its one client:
// what vccsync knows of a Salesforce user (status), what it did for the
// user (history, newest first), and what applying a Salesforce snapshot
// would do, writing nothing (plan, for sync --dry-run).
//
// The service runs inside the worker and reads its state through the small
// interfaces it declares ([Store], [PlanStore], [Worker]); the binary adapts
// its bbolt store and worker to them, so this package knows neither. It is
// served two ways:
//
//	NATS micro service "vccsync" (events.ServiceName; `nats micro ls`)
//	  endpoint status   subject vccsync.svc.status    StatusRequest or a bare user ID → UserStatus
//	  endpoint history  subject vccsync.svc.history   StatusRequest or a bare user ID → []HistoryItem
//	  endpoint plan     subject vccsync.svc.plan      PlanRequest → PlanReply (only with a planner)
//	HTTP, on the worker's listener
//	  GET /v1/users/{id}/status                       → UserStatus
//	  GET /v1/users/{id}/history?limit=N              → []HistoryItem
//
// The subjects, endpoint names and JSON bodies (pkg/events) are a contract
// with deployed clients: keep them. A request that names no Salesforce user
// is answered with error code 400 (HTTP status 400, body {"error": "..."});
// a store that cannot be read with 500.
//
// [Client] is the one client of the service, over NATS request/reply
// ([NewClient]) or HTTP ([NewHTTPClient]). Errors the service answered with
// are [*Error]; no answer at all (no worker running, timeout) matches
// [ErrNoAnswer] with errors.Is. [Client.WaitApplied] follows an event the
// caller published to its outcome.
//
// [NewPlanner] runs the handlers (pkg/handlers) with dry ports: VCC is read
// for real and every write (VCC, contact-center membership, aliases) is
// recorded instead of made; agent IDs, saga steps and write intents are read
// from the store and nothing is reserved or recorded.
//
// # Caveats
//
//   - The answer is the answering worker's: its bbolt state and its consumer.
//     The micro service's endpoints form a queue group, so with several
//     workers (one per partition) a request reaches any one of them, which
//     may know nothing of the user.
//   - Plan is served over NATS only (it reads VCC, which shares the account's
//     rate limit); the HTTP client's Plan fails with errors.ErrUnsupported.
//   - A plan reads VCC and Salesforce state as they are now and the stored
//     state as it is now: events queued before it are not taken into
//     account. A plan may skip reading VCC where the worker would too (the
//     desired fields equal what was last synced); sync itself verifies.
//   - NATS micro wants a SemVer version: [Service.ServeNATS] drops a Go module
//     version's leading "v" and serves anything else (a "(devel)" build) as
//     0.0.0-devel.
package opsapi
