// Package vcctest is the contract suite of the VCC User Admin API as
// package vcc uses it: one set of checks, run against any target — the
// in-process sandbox in this package's own tests, and a real VCC account
// before go-live — so that the client, the sandbox and VCC are seen to
// agree. It is modelled on watermill's pub/sub test suite: Run takes a
// *testing.T and a Target and runs the checks as subtests.
//
// Read-only checks (always run):
//   - Token: a token is granted and a GET succeeds.
//   - UsersPaging: ForEachUser with a small page size sees the same users
//     as with pages of 5000, none twice.
//   - GetByUsername: the template user is found by username and by ID; a
//     username that cannot exist is a 404 (errors.Is vcc.ErrNotFound).
//   - TemplateLists: the template's skills, groups, callback numbers and
//     group permissions as the client reads them equal the union of small
//     raw pages (ReadPage) — the client follows the pages, so a
//     replace-all PUT built from its read deletes nothing.
//   - AccountCallbackNumbers: the account's callback numbers, read in full
//     the same way; the template's are among them.
//
// Write checks, only when Target.AllowWrites and Target.WriteUser is set;
// each restores what it changed (t.Cleanup), even when it fails:
//   - PatchName: PATCH the name to a new value, read it back, and back.
//   - TelephonyAddress: a read-modify-write of the whole telephonyAddress
//     (one flag changed) keeps the telephone number and the rest.
//   - SkillsRoundTrip: PUT the skills as read, read again: equal.
//   - Unlock: POST /users/{userId}/unlock succeeds and the user reads as
//     not locked.
//
// # Running it against a real account before go-live
//
// Use an API client of the account (users:read users:write), a template
// user to read, and — for the write checks — a test user the checks may
// change (never a real agent: it is changed and restored; never the
// template). Then:
//
//	export VCCSYNC_CONTRACT_VCC_REGION=emea                 # or VCCSYNC_CONTRACT_VCC_BASE_URL=https://emea.api.cc.vonage.com/useradmin
//	export VCCSYNC_CONTRACT_VCC_TOKEN_URL=https://emea.cc.vonage.com/Auth/connect/token  # optional with REGION
//	export VCCSYNC_CONTRACT_VCC_CLIENT_ID=…
//	export VCCSYNC_CONTRACT_VCC_CLIENT_SECRET=…
//	export VCCSYNC_CONTRACT_VCC_TEMPLATE=template.agent@example.com
//	# optional, for the write checks:
//	export VCCSYNC_CONTRACT_VCC_WRITE_USER=vccsync.contract@example.com
//	export VCCSYNC_CONTRACT_VCC_ALLOW_WRITES=yes
//	go test ./pkg/vcc/vcctest -run Live -v
//
// Without the variables the live test is skipped with a message naming
// them. The users-paging check reads every user of the account twice, at
// most about 20 pages each time; the account should be quiet while it runs
// (a user created or archived meanwhile shows as a difference). Requests
// are paced at the client's default, 160 a minute.
package vcctest
