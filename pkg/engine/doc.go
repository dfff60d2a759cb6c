// Package engine joins the parts of the sync engine that do not know each
// other: it gives pkg/worker its Store and Handler ports, the handlers
// their Durable port and the operators' service (pkg/opsapi) its store, all
// backed by the bbolt store (pkg/store) and the domain handlers
// (pkg/handlers). syncworker assembles the engine from these; nothing in
// here talks to NATS, VCC or Salesforce.
//
//	worker ──Store──▶ engine.Store ──▶ store.DB (ledger, users, history)
//	worker ──Handler──▶ engine.Handler ──▶ handlers.Handler ──Durable──▶ engine.Durable ──▶ store.DB
//	opsapi ──Store, PlanStore──▶ engine.OpsStore ──▶ store.DB (read only)
//
// # Caveats
//
// Store decodes a user's stored state once per lane run, in Load (the
// worker keeps it in memory while the user's lane is busy): Store.Commit
// does not read the users again, it hands the batch's applied counts to
// the store as increments (store.Batch.AddApplied), which reads only the
// head of each record it replaces.
// History keeps every command and every Salesforce event that changed
// something or failed, not the unchanged ones, so that no-op events do not
// push the rest out of the bounded history.
package engine
