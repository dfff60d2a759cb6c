package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vccsync/vccsync/pkg/events"
)

// PublishResult is the stream's answer to a publish.
type PublishResult struct {
	// Sequence in VCCSYNC; for a duplicate, the sequence of the first copy.
	Sequence uint64
	// Duplicate is true when the server already had a message with this
	// id within the duplicate window and stored nothing.
	Duplicate bool
}

// Publish publishes env on env.NATSSubject() with Nats-Msg-Id = env.ID and
// waits for the stream's acknowledgement. It does not validate the envelope
// beyond what the subject needs; callers check it with events.Parse.
func Publish(ctx context.Context, js jetstream.JetStream, env events.Envelope) (PublishResult, error) {
	return PublishWithID(ctx, js, env, env.ID)
}

// PublishWithID is Publish with an explicit message id, for re-publishing an
// event (a DLQ replay) that the duplicate window would otherwise drop.
func PublishWithID(ctx context.Context, js jetstream.JetStream, env events.Envelope, msgID string) (PublishResult, error) {
	if msgID == "" {
		return PublishResult{}, errors.New("publish: empty message id (Nats-Msg-Id is required for deduplication)")
	}
	subject, err := env.NATSSubject()
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: %w", msgID, err)
	}
	body, err := env.Marshal()
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: encode: %w", msgID, err)
	}
	ack, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(msgID))
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %s to %s: %w", msgID, subject, err)
	}
	return PublishResult{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Partition returns the partition in [0, n) of a Salesforce user ID, or 0
// when n < 2. It is the hash NATS subject mapping uses for partition(n, …):
// FNV-1a 32-bit of the token, modulo n. A mapping that partitions on the
// user token, such as
//
//	vccsync.user.*.>  →  vccsync.p.{{partition(n,1)}}.user.{{wildcard(1)}}.>
//
// (wildcard 1 is subject token 3, the user ID) sends a user's messages to
// partition Partition(n, userID), so a process can tell which partition
// owns a user without asking the server. The ID is hashed as given: use the
// same form (the 18-character ID) as in the subject.
func Partition(n int, userID string) int {
	if n < 2 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int(h.Sum32() % uint32(n))
}
