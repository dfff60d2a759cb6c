// Package reconcile compares every Salesforce user with VCC and with
// contact-center membership, classifies each, plans the events that fix the
// differences and publishes them: the salesforce.user.changed event of the
// user's current snapshot, which the worker's handlers apply like any
// other. It decides nothing about what VCC should look like itself: the
// desired user and the fields that differ come from pkg/handlers
// (Mapping.Desired, Diff, AgentIDConflict), the same functions the worker
// writes by, so reconcile and the worker never disagree.
//
// Matching follows the worker's: a Salesforce user's stored link (the VCC
// user the worker linked it to, when the caller knows the links) first,
// then the VCC username the mapping derives (case-insensitively). A VCC
// user that holds the Salesforce user's NVM Agent Id under another
// username, or shares its email, makes the match ambiguous: the worker
// would be refused (VCC keeps agent IDs unique) or could pick the wrong
// user, so reconcile reports it and plans nothing for it.
//
// Classes: in_step, differs, missing, vcc_only, ambiguous, out_of_scope
// (see the constants). An archive guard refuses a plan that archives more
// users than a threshold, in case the mapping's scope or username source
// is wrong.
//
// Caveats:
//   - Reading is not a snapshot: users changed while reconcile reads are
//     planned from what was read; the events carry the snapshot's
//     SystemModstamp, so the worker skips any that is older than what it
//     applied.
//   - Without the stored links a user whose VCC username was changed by
//     hand is reported missing (the worker, which has the link, would
//     update it).
package reconcile
