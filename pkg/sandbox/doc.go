// Package sandbox holds in-process stand-ins for the external services
// vccsync talks to (Vonage Contact Center and Salesforce), speaking their
// real HTTP APIs with their rules. They are
// written from the vendors' API documentation, not from vccsync's clients,
// so each side checks the other. The package uses the standard library only.
//
// # VCC
//
// [VCC] is a Vonage Contact Center account behind the User Admin API v4,
// following VCC's documentation (docs-vcc.atlassian.net, space VCCA; the
// project's summary is shared/reference/vcc-user-admin-api.md). Where the
// documentation is silent the sandbox is strict: it refuses what might not
// work on the real system, and each such behaviour is marked "strict"
// below and in the code.
//
// Documented endpoints, and only those (any other path under /useradmin is
// 404; a documented path asked with another method is 405 with Allow):
//   - POST /Auth/connect/token: client credentials (form or HTTP Basic),
//     scopes users:read and users:write, opaque bearer tokens with an
//     expiry. Errors {"error":...,"error_description":...}.
//   - GET /users (include=Active|Archived|All), GET /users/{userId},
//     GET /users/by/username/{username}, POST /users?allowOverages=,
//     PATCH /users/{userId}?allowOverages=&acceptArchiveInMultipleAccounts=
//     ({"active":false} archives, {"active":true} reverts),
//     DELETE /users/{userId} (204).
//   - GET and PUT /users/{userId}/skills, /groups, /callbackNumbers and
//     /permissions/groups (PUT replaces all and answers 200 with no body,
//     as documented: "Successful requests return a 200 Success code"),
//     and GET /callbackNumbers (the account's outbound CLIDs).
//   - POST /users/{userId}/unlock: unlocks the user and resets the count
//     of failed logins; 200, no body.
//   - POST /users/{userId}/forgotPassword: sends the password-reset email
//     (a [PasswordReset] in [VCC.PasswordResets]); 200, no body; 404 for an
//     unknown user; 409 for an archived one (strict).
//
// Every /useradmin request needs a bearer token and
// Accept: application/vnd.newvoicemedia.v4+json; GETs need users:read, the
// rest users:write (403). Errors are {"statusCode":400,"error":"Bad
// Request","message":...} for the Accept header and {"message":...} for
// everything else.
//
// Every list is paged: limit 1 to 5000 (default 25), page 1 to 1000000000
// (default 1); anything else is 400. The reply is
// {"meta":{"page","count","pageCount","totalCount"},<key>:[…]} with key
// users, agentSkills, agentGroups, callbackNumbers or groupPermissions
// (user lists also carry "userId"); a page past the end is an empty list.
// Items keep a stable order: users by creation, a user's items in the
// order last PUT, the account's numbers in the order added. A reader that
// does not follow meta.pageCount sees 25 items, and the demo agent
// template has more than that in every list.
//
// The user object is the documented v4 one, agentConfiguration included:
// agentDisplayId, webrtc, agentControlWebrtc, handleMultipleInteractions,
// enforcedDispositionCodes, screenRecording, callRecordingControls,
// transcribeCalls, transcribeCallsRealTime, callParking, video,
// salesCadence, outboundAutoanswer, inboundAutoanswer (booleans),
// outboundWrapUp, backToReadyAfterNoAnswer, backToReadyAfterLineBusy,
// backToReadyAfterInvalidNumber, backToReadyAfterNetworkIssue,
// callRatingFrequency (whole numbers), location, telephonyAddress
// (telephoneAddress, telephonyExtension, outboundTelephonyRegion,
// nationalDisplay, virtualLocation, preventAutoCallbackNumber,
// selectedCallbackNumberId) and capacity (isAgentLevel, live, nonLive,
// semiLive). associatedUsers is not modelled. Request JSON is decoded
// leniently: keys match case-insensitively (nonlive too), unknown keys are
// ignored.
//
// Rules enforced (VCC's API pages, seed 003 and strict choices):
//   - Required username, name, email and role; usernames unique
//     case-insensitively.
//   - agentDisplayId required when acting as agent, unique among active and
//     archived users and immutable once set. actAsAgent is the allow/deny
//     switch; a Supervisor, Admin or Wallboard allowed for the first time
//     must be given an agentDisplayId in the same request. Once granted,
//     agent access cannot be revoked: the agent ID cannot be cleared or
//     changed, and the agent settings are kept, hidden, while denied
//     (agentConfiguration is shown only while actAsAgent is true). An
//     Agent always acts as agent.
//   - PATCH merges top-level, userAccountConfiguration and
//     agentConfiguration scalars (only the keys present change), but a
//     telephonyAddress or capacity in the body replaces the whole stored
//     object: fields left out become empty (strict: VCC does not say
//     whether a partial nested object is merged).
//   - locked is read-only: a POST or PATCH body with locked (any value) is
//     400 "locked is read-only: unlock with POST /users/{userId}/unlock"
//     (strict). Five consecutive failed logins ([VCCLockAfterFailedLogins])
//     lock a user; a locked user cannot log in even with the right
//     password; a correct login resets the count; unlock resets it; a
//     password reset does not unlock.
//   - outboundTelephonyRegion must be one of the account's regions (400
//     naming them). VCC has no endpoint that lists regions: they are seeded
//     through Go ([VCC.AddTelephonyRegion], [DemoTelephonyRegions]). A
//     region already stored is not checked again.
//   - selectedCallbackNumberId must be one of the user's own callback
//     numbers (PUT /users/{userId}/callbackNumbers), on create too, where
//     the user has none yet; and a PUT of the callback numbers cannot drop
//     the selected one (both strict). A template copy creates the user,
//     PUTs the numbers, then PATCHes the selection.
//   - An agent with webrtc true must have a telephoneAddress (VCC routes
//     calls to it when WebRTC is unavailable); telephone addresses are
//     unique in the account, among active and archived users.
//   - Capacity and callRatingFrequency are percentages 0 to 100 (the
//     latter's range is a strict choice); the timespans cannot be negative.
//   - Skill levels 1 to [VCCOptions.MaxSkillLevel] (default 10), as a number
//     or a numeric string; GET shows them as strings ("6"). Skill IDs are
//     not checked (no skills catalogue). Groups and group permissions must
//     name the account's groups ([VCC.AddGroup]; strict for agentGroups);
//     groupPermission is exactly None, Read or Write; callback numbers must
//     be the account's. An item listed twice is refused.
//   - Archiving (a PATCH with active false) a user who belongs to several
//     VCC accounts ([VCC.SetAccounts], [DemoMultiAccountUsername]) without
//     acceptArchiveInMultipleAccounts=true is refused with
//     [MsgMultiAccountArchive] (status MultiAccountArchiveStatus, 400).
//   - Only archived users can be deleted, only by an admin client, and
//     only when they have no user-level API credentials (409
//     [MsgDeleteWithCredentials], seed 003's wording). VCC documents no
//     endpoint for these credentials: they exist through Go only
//     ([VCC.AddUserCredential]). While its user is archived, a user-level
//     credential registered as an API client gets no token.
//   - Fair usage: with [VCCOptions].RateLimitPerMinute, at most that many
//     /useradmin requests in any sliding 60 seconds of [VCCOptions].Now;
//     more are 429 {"message":"Too Many Requests"} with no Retry-After (VCC
//     documents none). Refused requests do not count in the window;
//     [VCCStats].RateLimited counts them.
//
// POST /sandbox/login ([VCCLoginPath]) is the sandbox's own, not VCC's: it
// stands in for logging in to the VCC portal or ContactPad so that locking
// can be exercised. JSON {"username":"…","password":"…"}, no token, no
// Accept header. 200 {"userId","username","lastLoginTime"}; 401
// {"message":"Invalid username or password"} (unknown user too); 423
// {"message":"account locked"}; 403 {"message":"account archived"} (right
// password, archived user); 400 for a missing field. Passwords are set
// through Go ([VCC.SetPassword]).
//
// State lives in memory and is seeded through Go ([VCC.AddClient],
// [VCC.AddCallbackNumber], [VCC.AddGroup], [VCC.AddTelephonyRegion],
// [VCC.AddUser], [VCC.SetPassword], [VCC.AddUserCredential],
// [VCC.SetAccounts], [VCC.SeedDemo]). Tests observe it with [VCC.User],
// [VCC.UserByUsername], [VCC.Users], [VCC.FailedLogins],
// [VCC.UserCredentials], [VCC.Accounts], [VCC.PasswordResets], [VCC.Stats]
// and [VCC.WriteCount] (writes per user and method), [VCC.NoopWriteCount]
// (writes that changed nothing) and [VCC.WriteLog] / [VCC.WritesTo] (each
// write with its path and body), and disturb it with [VCC.SetFaults]
// (latency, 429/5xx with an optional Retry-After, an outage),
// [VCC.RevokeTokens] and [VCC.ModifyUser].
//
// Caveats:
//   - Where VCC's documentation leaves a status or shape open it is
//     settable in [VCCOptions]: create answers 201 (CreateStatus) with the
//     user, or no body (CreateEmptyBody); a duplicate username,
//     agentDisplayId or telephone address 409 (ConflictStatus; 400 is
//     seen too); deleting an active user 409 (DeleteActiveStatus); bad
//     client credentials 401 (InvalidClientStatus); a missing scope or a
//     non-admin delete 403 (ForbiddenStatus); a licence overage 400
//     (OverageStatus, only with AgentLicences set); the multi-account
//     archive refusal 400 (MultiAccountArchiveStatus); lists as bare arrays
//     (ListsAsBareArrays); whether an agent needs an agentDisplayId
//     (AgentDisplayIDOptional) and whether WebRTC needs a telephone number
//     (WebRTCPhoneOptional).
//   - Writes are counted only when they succeed; a PATCH, PUT or unlock
//     that changes nothing still counts (and also counts as a no-op), so
//     tests can assert that a client writes only what differs.
//   - Not modelled: the licences, schedules and address, interaction plan
//     and queue permission endpoints, the account's skills catalogue (any
//     skill ID is accepted), associatedUsers, the password-reset link
//     itself, the Global Voice Assurance switch.
//
// # Salesforce
//
// [Salesforce] is a Salesforce org (organization ID
// [SalesforceOptions].OrgID, default [DemoSFOrgID]) with the parts of the
// platform vccsync uses:
//   - POST /services/oauth2/token ([SFTokenPath]), form body: the client
//     credentials flow (client_id, client_secret; the connected app's run-as
//     user, [SFClient].Username, is required: "no client credentials user
//     enabled") and the JWT bearer flow (grant_type
//     urn:ietf:params:oauth:grant-type:jwt-bearer, assertion = an RS256 JWT
//     verified with crypto/rsa against the connected app's public key or
//     certificate; iss = client ID, sub = the app's user or an active user
//     of the org, aud = https://login.salesforce.com or
//     https://test.salesforce.com — never the org's My Domain or instance
//     URL, which Salesforce refuses with "audience is invalid" even on the
//     My Domain token endpoint (reference §6) — exp in the future and at
//     most three minutes ahead). 200 {"access_token","instance_url","id",
//     "token_type":"Bearer","issued_at","scope"}; 400
//     {"error":"invalid_client"|"invalid_grant"|"unsupported_grant_type",
//     "error_description":…}.
//   - Every /services/data and /services/apexrest call needs
//     Authorization: Bearer (or OAuth) with a live token, else 401
//     [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
//     Errors are JSON arrays [{"message","errorCode","fields"}]. Every reply
//     carries Sforce-Limit-Info: api-usage=N/M; beyond
//     [SalesforceOptions].APIRequestLimit calls answer 403
//     REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.".
//   - GET and PATCH /services/data/vXX.X/sobjects/User/{id} (15- or
//     18-character ID; GET takes ?fields=): the record with API field names
//     ([SFUserFields]), "attributes" first, null for a field with no value,
//     datetimes as 2024-04-26T18:25:03.000+0000. PATCH answers 204 with no
//     body; field names match case-insensitively.
//   - GET /services/data/vXX.X/sobjects/User/describe: {"name":"User",
//     "fields":[{"name","label","type","length","custom","nillable",
//     "createable","updateable"}]}, the fields the API user can read.
//     [Salesforce.HideUserFields] takes read access away from an API user
//     (field-level security, reference §6): describe leaves the field out,
//     a query or ?fields= naming it fails whole with 400 INVALID_FIELD
//     ("No such column …"), and a record read without a field list omits
//     it.
//   - GET /services/data/vXX.X/query?q=SOQL, the subset SELECT <User
//     fields> FROM User [WHERE Id = '…' | WHERE Id IN ('…', …)] [ORDER BY Id
//     [ASC|DESC]]; pages of [SalesforceOptions].PageSize (default 2000)
//     records, the next one at nextRecordsUrl
//     (/services/data/vXX.X/query/01g…-<offset>, valid 15 minutes).
//     Anything else is 400 MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE or
//     INVALID_QUERY_FILTER_OPERATOR.
//   - [I] The contact-center membership resource, an Apex REST class the
//     org deploys (Salesforce has no public REST resource for it: Setup and
//     the Bulk API add members): GET and POST
//     /services/apexrest/vccsync/contactcenters/{ccId}/members ([SFMembersPath])
//     and DELETE …/members/{userId}. GET answers {"members":[{"userId",
//     "telephonyUsername"}]}; POST {"userIds":[…]} answers 200
//     {"results":[{"userId","success","errors":[{"errorCode","message"}]}]}
//     in request order; DELETE answers 204, also for a non-member; an
//     unknown contact center is 404 NOT_FOUND.
//   - POST /sandbox/sso/check ([SFSSOCheckPath]) is the sandbox's own: it
//     stands in for a telephony single sign-on. {"userId":"005…"} → 200
//     {"ok":true,"telephonyUsername":…} or 401 {"ok":false,"reason":…}; no
//     token; never disturbed by injected faults.
//
// Rules enforced (reference §3–§5 and seed 004):
//   - IDs are 15 or 18 characters; the 18-character form carries the
//     case-checksum suffix ([SalesforceID18]) and is what the org returns.
//     Users are 005…, profiles 00e…, contact centers 04v…, outbound
//     notifications 04l…, the outbound action 04k….
//   - Users: required Username (email form, unique case-insensitively),
//     LastName, Alias, Email and ProfileId (one of the org's profiles once
//     it has any); length limits (Alias 8, FirstName 40, LastName 80,
//     Username 80, Email 128, FederationIdentifier 512); FederationIdentifier
//     unique; Id, CallCenterId, LastModifiedDate and SystemModstamp are
//     read-only (INVALID_FIELD_FOR_INSERT_UPDATE). Through the API the
//     alias must be 1 to 8 characters of [A-Za-z0-9_.-] (400
//     FIELD_INTEGRITY_EXCEPTION, fields ["Alias"]); a user created or edited
//     in Setup ([Salesforce.AddUser], [Salesforce.ModifyUser]) may have any
//     alias. Users are deactivated, never deleted.
//   - Every change of a user (create, PATCH, membership add or remove,
//     ModifyUser) bumps LastModifiedDate and SystemModstamp to now at
//     millisecond precision, strictly increasing per user; a PATCH that
//     changes nothing still bumps them, as in Salesforce. Assigning a
//     permission set is not a change of the User record.
//   - Contact centers: one per user; at most [SFMaxMembersPerAdd] users
//     per add (400 LIMIT_EXCEEDED "At most 100 users can be added at a
//     time"); only active users holding the Contact Center Agent or Contact
//     Center Admin permission set ([SFPermissionSetAgent],
//     [SFPermissionSetAdmin] or their Partner Telephony variants;
//     PermissionsIsContactCenterAgent/Admin) can be added. Per-user refusals:
//     NO_CONTACT_CENTER_PERMISSION, ALREADY_IN_CONTACT_CENTER, INACTIVE_USER,
//     INVALID_ALIAS, NOT_FOUND, INVALID_ID_FIELD. Adding sets CallCenterId
//     and fixes the telephony username [TelephonyUsername]
//     (Alias@UserId@OrgId, both IDs of 18 characters); re-adding a member of
//     the same contact center succeeds and changes nothing; removing clears
//     both. Changing a member's alias is allowed but the SSO check fails
//     until the user is removed and added back; deactivating a member keeps
//     the membership (and fails the SSO check).
//
// State lives in memory and is seeded through Go ([Salesforce.AddClient],
// [Salesforce.AddProfile], [Salesforce.AddUser],
// [Salesforce.AssignPermissionSet], [Salesforce.AddContactCenter],
// [Salesforce.AddMember], [Salesforce.SeedDemo]). Tests observe it with
// [Salesforce.User], [Salesforce.Users], [Salesforce.Members],
// [Salesforce.Member], [Salesforce.CheckSSO], [Salesforce.Stats] (requests by
// method and route template, writes per user and method),
// [Salesforce.WriteCount], [Salesforce.NoopWriteCount] and
// [Salesforce.APIUsage], and disturb it with [Salesforce.SetFaults] (latency,
// 429/5xx with an optional Retry-After, 403 REQUEST_LIMIT_EXCEEDED, an
// outage), [Salesforce.SetAPIUsage], [Salesforce.RevokeTokens] and
// [Salesforce.ModifyUser].
//
// # Outbound messages
//
// An [OutboundSender] sends Salesforce outbound messages for an org's User
// changes to a listener URL: SOAP 1.1 POSTs with SOAPAction: "" and
// Content-Type: text/xml; charset=utf-8, a notifications element in
// [SFOutboundNS] with OrganizationId, ActionId, SessionId xsi:nil="true",
// EnterpriseUrl, PartnerUrl and 1 to 100 Notifications, each an Id (04l…)
// and an sObject xsi:type="sf:User" whose fields are in
// [SFEnterpriseSObjectNS]: Id, then the selected fields in alphabetical
// order, a field with no value left out. Each change queues one
// notification; a message carries the records' data at the time it is
// sent. Only HTTP 200 with a SOAP body whose notificationsResponse has
// Ack true is an acknowledgement; anything else (another status, a SOAP
// Fault, Ack false, no answer within the timeout) leaves the whole message
// for a retry after the next delay of the backoff schedule, until
// [OutboundOptions].MaxAge, when it is dropped. Duplicates after an ack
// ([OutboundOptions].DuplicateRate, [OutboundSender.DuplicateNext]) and
// out-of-order delivery of older data ([OutboundSender.DelayNext]) can be
// injected; [OutboundSender.Stats] and [OutboundSender.Deliveries] show the
// attempts, acknowledgements and what is pending.
//
// Caveats of the Salesforce stand-in:
//   - [I] The membership resource's paths and bodies are the project's
//     choice; the rules behind them are Salesforce's (Setup, reference §4).
//   - Chosen where the documentation is silent: the error codes of a too
//     long alias (FIELD_INTEGRITY_EXCEPTION, as for invalid characters), of
//     a bad username (FIELD_INTEGRITY_EXCEPTION) and of an empty add
//     request (400 INVALID_INPUT); injected 429s carry REQUEST_LIMIT_EXCEEDED;
//     the run-as user of the client credentials flow need not be a user
//     of the org (its ID is then [DemoSFIntegrationUserID]).
//   - Not modelled: other sobjects, composite and Bulk API, SOQL beyond the
//     subset, describe calls of other objects, the refresh token and
//     web-server flows, per-user API limits, field-level security beyond
//     reading User fields, Experience Cloud sites (an audience Salesforce
//     also accepts).
package sandbox
