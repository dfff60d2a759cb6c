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
// Endpoints VCC's documentation does not describe are marked [I]: their
// shape is the project's choice, with one client method each on the other
// side.
//   - [I] GET /useradmin/telephonyRegions (users:read):
//     {"telephonyRegions":[{"telephonyRegionId":"…","name":"EMEA - Primary (11)"},…]},
//     the account's regions ([VCC.AddTelephonyRegion]; [VCC.SeedDemo] adds
//     the six VCC documents, see [DemoTelephonyRegions]).
//   - [I] POST /useradmin/users/{userId}/passwordReset (users:write, no
//     body): 202 with no body, and a [PasswordReset] email in the outbox
//     ([VCC.PasswordResets]); 404 for an unknown user, 409 for an archived
//     one. It counts as a POST write of the user.
//   - [I] GET /useradmin/users/{userId}/credentials (users:read):
//     {"credentials":[{"clientId":"…"}]}, the user's user-level API
//     credentials ([VCC.AddUserCredential], [VCC.RemoveUserCredential]).
//   - [I] Unlock is PATCH /useradmin/users/{userId} with {"locked":false}.
//   - POST /sandbox/login ([VCCLoginPath]) is the sandbox's own, not VCC's:
//     it stands in for logging in to the VCC portal or ContactPad so that
//     locking can be exercised. JSON {"username":"…","password":"…"}, no
//     token, no Accept header. 200 {"userId","username","lastLoginTime"};
//     401 {"message":"Invalid username or password"} (unknown user too);
//     423 {"message":"account locked"}; 403 {"message":"account archived"}
//     (right password, archived user); 400 for a missing field. Passwords
//     are set through Go ([VCC.SetPassword]); a user without one cannot log
//     in.
//
// Rules enforced (seed 003, VCC User Admin, and the API reference):
//   - Required username, name, email and role; usernames unique
//     case-insensitively.
//   - agentDisplayId required when acting as agent, unique among active and
//     archived users and immutable once set. Acting as agent: actAsAgent is
//     the allow/deny switch; a Supervisor, Admin or Wallboard allowed for
//     the first time must be given an agentDisplayId in the same request.
//     Once granted (actAsAgent true with an agentDisplayId) agent access
//     cannot be revoked: the agent ID cannot be cleared or changed, even
//     while acting as agent is denied, and the agent settings are kept,
//     hidden, while denied (agentConfiguration is shown only while
//     actAsAgent is true) and shown again when allowed again. An Agent
//     always acts as agent.
//   - outboundTelephonyRegion must be one of the account's telephony
//     regions (400 naming the valid ones); a region already stored is not
//     checked again.
//   - An agent with webrtc true must have a telephoneAddress (VCC routes
//     calls to it when WebRTC is unavailable); telephone addresses are
//     unique in the account (compared as given), among active and archived
//     users. A user already breaking the WebRTC rule (seeded through Go) is
//     not refused for other changes.
//   - Five consecutive failed logins ([VCCLockAfterFailedLogins]) lock a
//     user ("locked":true in the API); a locked user cannot log in even with
//     the right password; a correct login resets the count. {"locked":false}
//     unlocks and resets the count; "locked" cannot be set to true through
//     the API. A password reset does not unlock.
//   - Only archived users can be deleted, only by an admin client, and only
//     when they have no user-level API credentials (409 naming them). While
//     its user is archived, a user-level credential registered as an API
//     client ([VCC.AddClient] with the same ID) gets no token
//     (invalid_client).
//   - Capacity: isAgentLevel false is the account's default, true the
//     agent's own live, nonLive and semiLive percentages, each 0 to 100.
//     enforcedDispositionCodes, callRecordingControls, screenRecording and
//     the other agent switches deep-merge like every PATCH field.
//   - Skill levels 1 to [VCCOptions.MaxSkillLevel] (default 10); callback
//     numbers must be the account's.
//
// Request JSON is decoded leniently: keys match case-insensitively and
// unknown keys are ignored.
//
// State lives in memory and is seeded through Go ([VCC.AddClient],
// [VCC.AddCallbackNumber], [VCC.AddTelephonyRegion], [VCC.AddUser],
// [VCC.SetPassword], [VCC.AddUserCredential], [VCC.SeedDemo]). Tests
// observe it with [VCC.User], [VCC.UserByUsername], [VCC.Users],
// [VCC.FailedLogins], [VCC.UserCredentials], [VCC.PasswordResets],
// [VCC.Stats] and [VCC.WriteCount] (writes per user and method),
// [VCC.NoopWriteCount] (writes that changed nothing) and [VCC.WriteLog] /
// [VCC.WritesTo] (each write with its path and body), and disturb it with
// [VCC.SetFaults] (latency, 429/5xx with an optional Retry-After, an
// outage), [VCC.RevokeTokens] and [VCC.ModifyUser].
//
// Caveats:
//   - Where VCC's documentation is silent the behaviour is a choice, and the
//     status codes are settable in [VCCOptions]: create answers 201
//     (CreateStatus); a duplicate username, agentDisplayId or telephone
//     address 409 (ConflictStatus); deleting an active user 409
//     (DeleteActiveStatus); bad client credentials 401 (InvalidClientStatus);
//     a missing scope or a non-admin delete 403 (ForbiddenStatus); a licence
//     overage 400 (OverageStatus, only with AgentLicences set); whether an
//     agent needs an agentDisplayId (AgentDisplayIDOptional) and whether
//     WebRTC needs a telephone number (WebRTCPhoneOptional).
//   - Also chosen: sub-resource PUTs answer 200 with the new list; GET
//     skills shows the level as a string ("6") as VCC does, and PUT accepts
//     a number or a numeric string; capacity percentages must be 0 to 100; a
//     wrong method on a known path answers 405; deleting a user with
//     credentials and resetting an archived user's password answer 409.
//   - Writes are counted only when they succeed; a PATCH that changes
//     nothing still counts (and also counts as a no-op), so tests can assert
//     that a client writes only what differs.
//   - Not modelled: group permissions and licence endpoints, the account's
//     skills and groups catalogue (any ID is accepted), a numeric rate
//     limit (inject 429s instead), the password-reset link itself, the
//     Global Voice Assurance switch, linked accounts.
package sandbox
