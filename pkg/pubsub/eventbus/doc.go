// Package eventbus holds the Go stubs of Salesforce's Pub/Sub API (gRPC
// service eventbus.v1.PubSub) as far as vccsync uses it: GetTopic,
// GetSchema and Subscribe. pubsub_api.proto is written from Salesforce's
// published API definition with the same package, service, message and
// field names and numbers, so it is the same on the wire; the .pb.go files
// are generated from it (go generate) and committed.
//
// # Caveats
//
// Publishing and managed subscriptions are not in the proto: vccsync
// neither publishes events to Salesforce nor uses managed subscriptions.
// Salesforce publishes no Go module of its own for the API.
package eventbus
