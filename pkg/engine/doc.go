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
// Store.Commit reads the stored record of each user it has not seen in the
// batch, to carry its applied count forward; a batch with many new users
// costs one read each. History keeps every command and every Salesforce
// event that changed something or failed, not the unchanged ones, so that
// no-op events do not push the rest out of the bounded history.
package engine
