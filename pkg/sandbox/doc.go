// Package sandbox holds in-process stand-ins for the external services
// vccsync talks to, speaking their real HTTP APIs with their rules. They are
// written from the vendors' API documentation, not from vccsync's clients,
// so each side checks the other. The package uses the standard library only.
//
// # VCC
//
// [VCC] is a Vonage Contact Center account behind the User Admin API v4:
// the token endpoint POST /Auth/connect/token (client credentials, scopes
// users:read and users:write, opaque bearer tokens with an expiry) and, under
// /useradmin, the users list (include, page, limit), get by userId and by
// username, create, PATCH (deep merge; {"active":false} archives,
// {"active":true} reverts), delete, the skills, groups and callbackNumbers
// sub-resources of a user (PUT replaces all) and the account's callback
// numbers. Every /useradmin request needs a bearer token and
// Accept: application/vnd.newvoicemedia.v4+json, and the error bodies are
// VCC's: {"error":...,"error_description":...} from the token endpoint,
// {"statusCode":400,"error":"Bad Request","message":...} for the Accept
// header and {"message":...} for everything else.
//
// Rules enforced: required username, name, email and role; usernames unique
// case-insensitively; agentDisplayId required when acting as agent, unique
// among active and archived users and immutable once set; an Agent always
// acts as agent; agentConfiguration shown only while actAsAgent is true (it
// is kept, with its agent ID, when actAsAgent is turned off); only archived
// users can be deleted, and only by an admin client; skill levels 1 to
// [VCCOptions.MaxSkillLevel]; callback numbers must be the account's.
// Request JSON is decoded leniently: keys match case-insensitively and
// unknown keys are ignored.
//
// State lives in memory and is seeded through Go ([VCC.AddClient],
// [VCC.AddCallbackNumber], [VCC.AddUser], [VCC.SeedDemo]). Tests observe it
// with [VCC.User], [VCC.UserByUsername], [VCC.Users] and [VCC.Stats] (writes
// per user and method), and disturb it with [VCC.SetFaults] (latency,
// 429/5xx with an optional Retry-After, an outage), [VCC.RevokeTokens] and
// [VCC.ModifyUser].
//
// Caveats:
//   - Where VCC's documentation is silent the behaviour is a choice, and the
//     status codes are settable in [VCCOptions]: create answers 201
//     (CreateStatus); a duplicate username, agentDisplayId or telephone
//     address 409 (ConflictStatus); deleting an active user 409
//     (DeleteActiveStatus); bad client credentials 401 (InvalidClientStatus);
//     a missing scope or a non-admin delete 403 (ForbiddenStatus); a licence
//     overage 400 (OverageStatus, only with AgentLicences set); whether an
//     agent needs an agentDisplayId (AgentDisplayIDOptional).
//   - Also chosen: sub-resource PUTs answer 200 with the new list; GET
//     skills shows the level as a string ("6") as VCC does, and PUT accepts
//     a number or a numeric string; "locked" can be cleared by PATCH but not
//     set; capacity percentages must be 0 to 100; a telephone address must
//     be unique (VCC's help says so for agents); a wrong method on a known
//     path answers 405.
//   - Writes are counted only when they succeed; a PATCH that changes
//     nothing still counts, so tests can assert that a client writes only
//     what differs.
//   - Not modelled: group permissions and licence endpoints, the account's
//     skills and groups catalogue (any ID is accepted), a numeric rate
//     limit (inject 429s instead), logins and password resets.
package sandbox
