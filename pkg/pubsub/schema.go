package pubsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
	"go.uber.org/zap"

	"github.com/vccsync/vccsync/pkg/pubsub/eventbus"
)

// eventSchema is an event schema as GetSchema returned it, parsed.
type eventSchema struct {
	id   string
	json string
	avro avro.Schema
}

// schema returns the schema of an id, fetching and parsing it the first
// time. Schemas are kept for the Subscriber's life: an id names one
// schema for good, and a topic has few.
func (r *runState) schema(ctx context.Context, id string) (*eventSchema, error) {
	if id == "" {
		return nil, errors.New("the event names no schema id")
	}
	if s, ok := r.schemas[id]; ok {
		return s, nil
	}
	cctx, cancel := context.WithTimeout(r.authCtx(ctx), r.cfg.RPCTimeout)
	defer cancel()
	info, err := r.client.GetSchema(cctx, &eventbus.SchemaRequest{SchemaId: id})
	if err != nil {
		return nil, fmt.Errorf("GetSchema %s: %w", id, err)
	}
	if info.GetSchemaJson() == "" {
		return nil, fmt.Errorf("GetSchema %s: the answer holds no schema", id)
	}
	// Each schema is parsed with a cache of its own: hamba/avro's default
	// cache is global and keyed by type name, and every version of a
	// topic's schema defines the same names.
	parsed, err := avro.ParseWithCache(info.GetSchemaJson(), "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("GetSchema %s: parse the Avro schema: %w", id, err)
	}
	s := &eventSchema{id: id, json: info.GetSchemaJson(), avro: parsed}
	r.schemas[id] = s
	r.m.schemas.Inc()
	r.log.Info("pubsub: schema fetched", zap.String("schema_id", id), zap.String("schema", branchName(parsed)))
	return s, nil
}
