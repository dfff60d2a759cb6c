// Package preflight holds the start-up checks of the sync worker: that
// VCC grants the worker's token and lets it read users, that every template
// user of the mapping exists and can be read with all its lists, that the
// configured telephony-region GUIDs are ones VCC uses, and that Salesforce
// (when configured) grants its token and shows every User field vccsync
// reads.
//
// A Suite runs the checks in order and keeps each one's last result:
// `syncworker --check` prints them, one line per check, and exits 0 or 1;
// the running worker runs them at start, re-runs the failed ones until
// they pass (Watch), and its /readyz answers 503 naming each check that
// has not passed (Err).
//
// Caveats:
//   - A check is a snapshot: a template deleted after its check passed is
//     found by the worker when it needs it (and quarantines it: see
//     handlers.ConfigError), not by the suite.
//   - VCC has no endpoint that lists telephony regions, so a region GUID
//     can only be compared with those users carry: one that no user
//     carries yet is a warning, not a failure.
//   - The VCC write scope cannot be checked without writing: the token
//     request asks for users:read and users:write, and VCC refuses a
//     token whose client lacks a scope it asks for (invalid_scope).
package preflight
