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
//   - Contact-center membership has no public REST resource (Salesforce
//     adds members through Setup and the Bulk API). The client reaches it
//     through one small interface, ContactCenters, implemented over an
//     Apex REST resource the org deploys (/services/apexrest/vccsync/…);
//     the real mechanism can be swapped in behind the same interface.
//   - Outbound messages carry only the fields chosen in the message
//     definition: an absent field is unknown, never cleared.
package salesforce
