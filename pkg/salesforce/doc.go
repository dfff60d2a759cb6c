// Package salesforce is vccsync's adapter for Salesforce: the Outbound
// Message SOAP codec (notifications in, Ack and Fault out), Change Data
// Capture decoding (UserChangeEvent in the Streaming JSON form and the
// decoded Pub/Sub form), and the REST client for users, aliases and
// contact-center membership.
//
// Everything here turns Salesforce's shapes into the wire contract's
// (pkg/events) and back; it knows nothing of NATS or VCC.
//
// Caveats:
//   - Contact-center membership is User.CallCenterId (one contact center
//     per user): Members queries it with SOQL, AddMembers sets it with
//     sObject Collections updates (MaxAddMembers records, allOrNone
//     false), RemoveMember reads it and clears it only when it is still
//     the contact center named. It sits behind ContactCenters so that a
//     Bulk API implementation can replace it. Removing does not touch the
//     telephony provider's user beyond what Salesforce does itself.
//   - LimitUserFields (run by the start-up check) leaves out of queries
//     the optional User fields the API user cannot read; until it runs,
//     a query names every field and fails whole if one is hidden.
//   - Outbound messages carry only the fields chosen in the message
//     definition: an absent field is unknown, never cleared.
package salesforce
