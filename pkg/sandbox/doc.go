// Package sandbox holds in-process stand-ins for the external services
// vccsync talks to (Vonage Contact Center and Salesforce), speaking their
// real HTTP APIs with their rules. They are
// written from the vendors' API documentation, not from vccsync's clients,
// so each side checks the other. The HTTP parts use the standard library
// only; the Pub/Sub API needs gRPC (google.golang.org/grpc, with the stubs
// of pkg/pubsub/eventbus) and Avro (github.com/hamba/avro/v2).
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
//   - selectedCallbackNumberId, in a PATCH, must be one of the user's own
//     callback numbers (PUT /users/{userId}/callbackNumbers), and a PUT of
//     the callback numbers cannot drop the selected one (both strict). In a
//     POST /users it must be one of the account's callback numbers: the new
//     user has none of its own yet, and Vonage's "Create user" example
//     (docs-vcc.atlassian.net, VCCA page 3568795697, "All parameters")
//     sends one. [VCCOptions.CreateRefusesSelection] refuses it there too,
//     as an account might. A template copy creates the user with the
//     selection, then PUTs the numbers.
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
//     body; field names match case-insensitively. Every read shows
//     CallCenterId, the user's contact center or null.
//   - PATCH /services/data/vXX.X/composite/sobjects (sObject Collections,
//     reference §5): {"allOrNone":bool,"records":[{"attributes":
//     {"type":"User"},"id":"005…",<User fields>…}]}, 1 to
//     [SFMaxCollectionRecords] (200) records; more is 400 EXCEEDED_ID_LIMIT
//     "record limit reached. cannot submit more than 200 records in a
//     single call" (a top-level error array). Each record is checked and
//     applied exactly as PATCH /sobjects/User/{id} would (the same
//     validation, a PATCH write of that user, LastModifiedDate bumped
//     even when nothing changed), in order. 200 with one result per record
//     in request order: {"id":"005…","success":true,"errors":[]} or
//     {"id":null,"success":false,"errors":[{"statusCode","message",
//     "fields":[…]}]} (statusCode there, not errorCode). With allOrNone
//     true one failure applies nothing, and every other record answers
//     {"id":"005…","success":false,"errors":[{"statusCode":
//     "ALL_OR_NONE_OPERATION_ROLLED_BACK","message":"Record rolled back
//     because not all records were valid and the request was using
//     AllOrNone header","fields":[]}]}. Per-record refusals besides those
//     of PATCH: no attributes.type, INVALID_TYPE "Must send a concrete
//     entity type."; another type, INVALID_TYPE (the sandbox models the
//     User object only); no id, MISSING_ARGUMENT "Id not specified in an
//     update call"; an id that is not a user ID, MALFORMED_ID "malformed id
//     …" (fields ["Id"]); an unknown user, INVALID_CROSS_REFERENCE_KEY
//     "invalid cross reference id".
//   - GET /services/data/vXX.X/sobjects/CallCenter/{id} (?fields=Id,Name):
//     {"attributes":{"type":"CallCenter","url":…},"Id":"04v…","Name":…},
//     or 404 NOT_FOUND "The requested resource does not exist". CallCenter
//     cannot be updated or deleted through the API (reference §4): any
//     other method is 405 METHOD_NOT_ALLOWED "HTTP Method 'PATCH' not
//     allowed. Allowed are GET". Only Id and Name are modelled.
//   - GET /services/data/vXX.X/sobjects/User/describe: {"name":"User",
//     "fields":[{"name","label","type","length","custom","nillable",
//     "createable","updateable"}]}, the fields the API user can read.
//     [Salesforce.HideUserFields] takes read access away from an API user
//     (field-level security, reference §6): describe leaves the field out,
//     a query or ?fields= naming it fails whole with 400 INVALID_FIELD
//     ("No such column …"), and a record read without a field list omits
//     it.
//   - GET /services/data/vXX.X/query?q=SOQL, the subset SELECT <User
//     fields> FROM User [WHERE Id = '…' | WHERE Id IN ('…', …) |
//     WHERE CallCenterId = '…' | WHERE CallCenterId IN ('…', …)] [ORDER BY
//     Id [ASC|DESC]], IDs of 15 or 18 characters compared in their
//     18-character form: SELECT Id, Alias, CallCenterId FROM User WHERE
//     CallCenterId = '04v…' ORDER BY Id lists a contact center's members
//     (reference §4). A filter on a field the API user cannot read fails
//     as selecting it does. Pages of [SalesforceOptions].PageSize (default 2000)
//     records, the next one at nextRecordsUrl
//     (/services/data/vXX.X/query/01g…-<offset>, valid 15 minutes).
//     Anything else is 400 MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE or
//     INVALID_QUERY_FILTER_OPERATOR.
//   - The org deploys no Apex REST class: every path under
//     /services/apexrest ([SFApexRESTRoot]) is 404 NOT_FOUND "Could not
//     find a match for URL".
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
//     unique; Id, LastModifiedDate and SystemModstamp are read-only
//     (INVALID_FIELD_FOR_INSERT_UPDATE). Through the API the
//     alias must be 1 to 8 characters of [A-Za-z0-9_.-] (400
//     FIELD_INTEGRITY_EXCEPTION, fields ["Alias"]); a user created or edited
//     in Setup ([Salesforce.AddUser], [Salesforce.ModifyUser]) may have any
//     alias. Users are deactivated, never deleted.
//   - Every change of a user (create, PATCH, an sObject Collections record,
//     AddMember or RemoveMember, ModifyUser) bumps LastModifiedDate and
//     SystemModstamp to now at millisecond precision, strictly increasing
//     per user; a PATCH or collection record that changes nothing still
//     bumps them, as in Salesforce. Assigning a permission set is not a
//     change of the User record.
//   - Contact centers (reference §4): User.CallCenterId is the membership,
//     an updatable, nillable reference to a CallCenter (04v…). Setting it
//     (PATCH /sobjects/User/{id} or an sObject Collections record, with the
//     ID of 15 or 18 characters; stored and shown in 18) adds the user to
//     that contact center, moving it out of any other: one per user; null
//     removes it. Setting it to anything but one of the org's contact
//     centers is 400 INVALID_CROSS_REFERENCE_KEY "invalid cross reference
//     id" (fields ["CallCenterId"]; for a value that is not a 04v ID, "Call
//     Center ID: id value of incorrect type: …"). Only a user holding the
//     Contact Center Agent or Contact Center Admin permission set
//     ([SFPermissionSetAgent], [SFPermissionSetAdmin] or their Partner
//     Telephony variants; PermissionsIsContactCenterAgent/Admin) can be
//     added or moved: else 400 FIELD_INTEGRITY_EXCEPTION, fields
//     ["CallCenterId"], "CallCenterId: user … needs the Contact Center Agent
//     or Contact Center Admin permission set to be a member of a contact
//     center" (strict: Salesforce does not document the code). A member's
//     alias must be of [A-Za-z0-9_.-] (FIELD_INTEGRITY_EXCEPTION, fields
//     ["Alias"]; the API's alias rule already demands it, and
//     [Salesforce.AddMember] and [Salesforce.AddUser] check it too). Inactive
//     users may be added and removed (Salesforce does not forbid updating
//     them); a member who loses the permission set stays one, and keeping
//     or clearing its CallCenterId is always allowed.
//   - Seed 004: the telephony username [TelephonyUsername]
//     (Alias@UserId@OrgId, both IDs of 18 characters) is fixed when the
//     user is added (CallCenterId set from null, or changed to another
//     contact center) from the alias the record has then; setting the same
//     CallCenterId again changes nothing. Changing a member's alias is
//     allowed but the SSO check fails until the user is removed
//     (CallCenterId null), the alias changed, and the user added back;
//     deactivating a member keeps the membership (and fails the SSO check).
//
// State lives in memory and is seeded through Go ([Salesforce.AddClient],
// [Salesforce.AddProfile], [Salesforce.AddUser],
// [Salesforce.AssignPermissionSet], [Salesforce.AddContactCenter],
// [Salesforce.AddMember] and [Salesforce.RemoveMember], which set and clear
// CallCenterId under the API's rules without counting a write,
// [Salesforce.SeedDemo]). Tests observe it with
// [Salesforce.User], [Salesforce.Users], [Salesforce.ContactCenters],
// [Salesforce.Members] (the users whose CallCenterId it is, in the order
// they joined), [Salesforce.Member], [Salesforce.CheckSSO], [Salesforce.Stats]
// (requests by method and route template, writes per user and method),
// [Salesforce.WriteCount], [Salesforce.NoopWriteCount] and
// [Salesforce.APIUsage], and disturb it with [Salesforce.SetFaults] (latency,
// 429/5xx with an optional Retry-After, 403 REQUEST_LIMIT_EXCEEDED, an
// outage), [Salesforce.SetAPIUsage], [Salesforce.RevokeTokens] and
// [Salesforce.ModifyUser].
//
// # Pub/Sub API
//
// [PubSub] is an org's Salesforce Pub/Sub API, gRPC service
// eventbus.v1.PubSub (stubs in pkg/pubsub/eventbus), for the topic
// /data/UserChangeEvent (reference §2 and §7). [PubSub.Start] serves it as
// plaintext gRPC (the real API is TLS at api.pubsub.salesforce.com:7443;
// plaintext is the sandbox's choice, so tests need no certificates), or
// [PubSub.Register] puts it on a caller's grpc.Server.
//   - Every call needs metadata accesstoken (a live session of the org,
//     checked as the REST API checks a bearer token), instanceurl and
//     tenantid (the org ID, compared on its first 15 characters). Missing or
//     invalid: Unauthenticated; another org: PermissionDenied; both with
//     the error-code trailer sfdc.platform.eventbus.grpc.service.auth.error
//     (Salesforce's "Handle Errors" page). instanceurl must be an http(s) URL
//     but is not compared with the org's (lenient choice). Refusals carry the
//     RPC id after "rpcId: " in the message (documented) and in an rpc-id
//     trailer (the trailer's name is a choice).
//   - GetTopic answers TopicInfo{topic_name, tenant_guid (the org ID),
//     can_subscribe true, can_publish false, schema_id}; GetSchema the
//     schema JSON by id. Another topic or schema id: NotFound with no error
//     code (strict: none is documented).
//   - The schema is the record com.sforce.eventbus.UserChangeEvent:
//     ChangeEventHeader first (the fields and change types of reference
//     §2), then 34 User fields in the order of a real org's schema, each
//     ["null", T] with default null; Name (Switchable_PersonName: Salutation,
//     FirstName, LastName, MiddleName, InformalName, Suffix) and Address
//     are nested records; datetimes are epoch-millisecond longs. Its id is
//     the unpadded base64url of the first 16 bytes of the JSON's SHA-256.
//   - Each change of a user (AddUser, ModifyUser, REST PATCH, an sObject
//     Collections update, membership add or remove) is an event,
//     Avro-encoded: CREATE carries every field, UPDATE only the changed ones
//     (others null), with changedFields and nulledFields as bitmaps over
//     field positions ("0x…" for top-level fields, "<position>-0x…" for
//     Name's subfields; a changed subfield sets its parent's bit too, as
//     Salesforce's samples do; a cleared field is in both lists) and
//     diffFields empty. LastModifiedDate and LastModifiedById are listed
//     with a real change; a write that changes no other schema field
//     publishes nothing (choice: not documented). User fields the sandbox
//     does not model are null, except those Salesforce requires on a User
//     (TimeZoneSidKey, LanguageLocaleKey, LocaleSidKey, EmailEncodingKey,
//     UserType, CommunityNickname), which get fixed defaults at CREATE
//     (choice). Users present when NewPubSub is called get no event.
//   - changeOrigin is "com/salesforce/api/rest/<version>", plus
//     ";client=<id>" when the request sent Sforce-Call-Options client=<id>
//     (documented format; vccsync's own writes say client=vccsync), for
//     changes made through REST while the org is served through
//     [PubSub.SalesforceHandler] or [PubSub.StartSalesforce]. Changes made
//     in Setup (through Go) have "" (as in reference §2's sample).
//     commitUser is the session's user, or a fixed administrator ID for
//     Setup changes. One REST request is one transaction: one
//     transactionKey (a random UUID), sequenceNumber 1, 2, …; commitNumber
//     grows per transaction; commitTimestamp is the user's LastModifiedDate.
//   - [PubSub.PublishMerged] makes one change to several users in one
//     transaction and publishes one UPDATE naming them all (CDC's merged
//     events). [PubSub.PublishGap] publishes a header-only GAP_CREATE,
//     GAP_UPDATE, GAP_DELETE or GAP_UNDELETE with sequenceNumber 1 (CDC
//     guide). [PubSub.PublishOverflow] publishes GAP_OVERFLOW, header only,
//     with recordIds ["000000000000000AAA"] (the guide says an overflow
//     event carries no record ID; the ID is a placeholder).
//   - Subscribe: the first FetchRequest gives topic_name, replay_preset
//     (LATEST: after the newest event; EARLIEST: from the oldest retained;
//     CUSTOM: after the event of replay_id) and num_requested. Refusals,
//     all InvalidArgument: num_requested outside 1..100, in the first or a
//     later request, gives requested.events.invalid; CUSTOM without a
//     replay_id gives replayid.validation.failed; an unknown, malformed or
//     purged replay id gives replayid.corrupted ("invalid or outside the
//     retention window"). The server never sends more than requested and
//     not yet delivered; later requests add to that; pending_num_requested
//     is the balance. Events come in bus order. latest_replay_id is the
//     subscription's position (the last event sent, or where it started),
//     never ahead of what was sent (strict). After KeepAlive (default
//     270 s) with nothing sent, a FetchResponse with no events is sent.
//   - Replay ids are 8 bytes, a big-endian position, not contiguous
//     (opaque, reference §7). Events are kept for Retention (default 72 h)
//     by the clock. Accepted are only the replay ids of retained events and
//     the "nothing yet" id a keepalive gives on an empty bus (strict).
//     [PubSub.ExpireReplayIDs] purges everything and invalidates every id
//     issued so far. [PubSub.FailStreamsAfter] ends streams with
//     Unavailable (error code sfdc.platform.eventbus.grpc.service.unavailable)
//     after n events. Tests observe the bus with [PubSub.Events] and
//     [PubSub.Subscribers].
//   - Not modelled: Publish, PublishStream, ManagedSubscribe, auth_refresh,
//     event headers, DELETE and UNDELETE (users are never deleted),
//     SNAPSHOT, other topics, client and delivery limits.
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
//   - Chosen where the documentation is silent (strict): the error codes of
//     a too long alias (FIELD_INTEGRITY_EXCEPTION, as for invalid
//     characters), of a bad username (FIELD_INTEGRITY_EXCEPTION), of a
//     CallCenterId on a user without the contact-center permission set
//     (FIELD_INTEGRITY_EXCEPTION); an sObject Collections request with no
//     records is 400 MISSING_ARGUMENT "records: at least one record is
//     required", and a record naming a user an earlier record of the same
//     request named fails with DUPLICATE_VALUE "Duplicate id in list: …";
//     injected 429s carry REQUEST_LIMIT_EXCEEDED; the run-as user of the
//     client credentials flow need not be a user of the org (its ID is then
//     [DemoSFIntegrationUserID]).
//   - Not modelled: other sobjects (sObject Collections updates User
//     records only, and CallCenter is read-only with Id and Name), the
//     other sObject Collections and composite resources, the Bulk API
//     (BulkAction=AddUsers), CallCenterRoutingMap, SOQL beyond the subset,
//     describe calls of other objects, the refresh token and web-server
//     flows, per-user API limits, field-level security beyond reading User
//     fields, Experience Cloud sites (an audience Salesforce also accepts).
package sandbox
