package bridge

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/salesforce"
)

// Subscribed ingests the change events of a Pub/Sub API subscription:
// each arrives decoded from Avro into the Pub/Sub JSON form with the id and
// text of the schema it was written with. It keeps one Ingester per
// schema, since the bitmaps of changed and nulled fields are read against
// that schema's field positions. It is safe for concurrent use.
type Subscribed struct {
	base IngesterConfig
	log  *zap.Logger

	mu       sync.Mutex
	bySchema map[string]*Ingester
}

// NewSubscribed checks cfg as NewIngester does; its decoder's org and own
// client apply to every schema (its Format and Schema are set per event).
func NewSubscribed(cfg IngesterConfig, log *zap.Logger) (*Subscribed, error) {
	if _, err := NewIngester(cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Subscribed{base: cfg, log: log, bySchema: map[string]*Ingester{}}, nil
}

// ingester returns the Ingester of a schema, parsing the schema once.
func (s *Subscribed) ingester(schemaID, schemaJSON string) (*Ingester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.bySchema[schemaID]; in != nil {
		return in, nil
	}
	schema, err := salesforce.ParseCDCSchema([]byte(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", schemaID, err)
	}
	dec := *s.base.Decoder
	dec.Format, dec.Schema = salesforce.CDCPubSub, schema
	cfg := s.base
	cfg.Decoder = &dec
	in, err := NewIngester(cfg)
	if err != nil {
		return nil, err
	}
	s.bySchema[schemaID] = in
	return in, nil
}

// Handle ingests one event and returns nil once what it asks for is
// stored in the stream (published, duplicate, ignored, gap or overflow
// users read and published), so that the subscription may move past it.
// A failed publish or Salesforce read is an error: the subscription
// resumes before the event and it comes again. An event that cannot be
// decoded or breaks the wire contract is logged at error level with its
// reason, event id and replay id, counted as rejected, and passed over
// (nil): it would fail the same way every time. Salesforce keeps it for 72
// hours, so it can be read again from that replay id once fixed.
func (s *Subscribed) Handle(ctx context.Context, schemaID, schemaJSON, eventID string, replayID []byte, payload []byte) error {
	in, err := s.ingester(schemaID, schemaJSON)
	if err != nil {
		s.log.Error("change event rejected: its schema cannot be read; passed over",
			zap.String("event_id", eventID), zap.String("replay_id", fmt.Sprintf("%x", replayID)), zap.Error(err))
		return nil
	}
	o := in.Ingest(ctx, payload)
	switch o.Status {
	case StatusFailed:
		return fmt.Errorf("change event %s: %w", eventID, o.Err)
	case StatusRejected:
		s.log.Error("change event rejected: nothing published; passed over",
			zap.String("event_id", eventID), zap.String("replay_id", fmt.Sprintf("%x", replayID)), zap.Error(o.Err))
	default:
		s.log.Debug("change event", zap.String("event_id", eventID), zap.String("outcome", o.Line("")))
	}
	return nil
}

// Resync reads every user over REST and publishes their snapshots: what
// follows the loss of a replay position, when changes may have been
// missed. The worker compares each snapshot with VCC and writes what
// differs.
func (s *Subscribed) Resync(ctx context.Context) Outcome {
	in, err := NewIngester(s.base)
	if err != nil {
		return Outcome{Status: StatusFailed, Err: err}
	}
	o := Outcome{Status: StatusOverflow, Reading: true}
	in.resyncAll(ctx, &o)
	in.count(o)
	return o
}
