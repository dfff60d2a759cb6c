package pubsub

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// sfTestdata is pkg/salesforce's testdata, where the change event schema
// and the decoded Pub/Sub fixtures are.
const sfTestdata = "../salesforce/testdata"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sfTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cdcSchemaJSON is the UserChangeEvent Avro schema of the fixtures.
func cdcSchemaJSON(t testing.TB) string {
	return string(readFixture(t, "cdc_pubsub_schema.avsc"))
}

func parseSchema(t testing.TB, schemaJSON string) avro.Schema {
	t.Helper()
	s, err := avro.ParseWithCache(schemaJSON, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return s
}

// decodeJSON decodes a JSON document keeping numbers as json.Number.
func decodeJSON(t testing.TB, doc []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode JSON: %v", err)
	}
	return v
}

// encodeAvro encodes a JSON document (the decoded Pub/Sub form) as the
// Avro binary Salesforce sends, with hamba/avro.
func encodeAvro(t testing.TB, schema avro.Schema, doc []byte) []byte {
	t.Helper()
	b, err := avro.Marshal(schema, avroValue(t, schema, decodeJSON(t, doc)))
	if err != nil {
		t.Fatalf("encode Avro: %v", err)
	}
	return b
}

// avroValue turns a JSON value into the Go value hamba/avro encodes with
// schema: a union branch of a complex type is named ({"<full name>": v}).
func avroValue(t testing.TB, schema avro.Schema, v any) any {
	t.Helper()
	if ref, ok := schema.(*avro.RefSchema); ok {
		schema = ref.Schema()
	}
	switch s := schema.(type) {
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("record %s: got %T", s.FullName(), v)
		}
		out := map[string]any{}
		for _, f := range s.Fields() {
			if fv, ok := m[f.Name()]; ok {
				out[f.Name()] = avroValue(t, f.Type(), fv)
			}
		}
		return out
	case *avro.UnionSchema:
		if v == nil {
			return nil
		}
		for _, b := range s.Types() {
			if !jsonFits(b, v) {
				continue
			}
			av := avroValue(t, b, v)
			switch b.Type() {
			case avro.Record, avro.Enum, avro.Fixed, avro.Map, avro.Array, avro.Ref:
				return map[string]any{branchName(b): av}
			}
			return av
		}
		t.Fatalf("no union branch for %v", v)
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			t.Fatalf("array: got %T", v)
		}
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = avroValue(t, s.Items(), it)
		}
		return out
	case *avro.EnumSchema:
		return v.(string)
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Int:
			n, err := v.(json.Number).Int64()
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		case avro.Long:
			n, err := v.(json.Number).Int64()
			if err != nil {
				t.Fatal(err)
			}
			return n
		case avro.Double:
			f, err := v.(json.Number).Float64()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		return v
	}
	t.Fatalf("schema type %s not supported here", schema.Type())
	return nil
}

func jsonFits(s avro.Schema, v any) bool {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch v.(type) {
	case map[string]any:
		return s.Type() == avro.Record || s.Type() == avro.Map
	case []any:
		return s.Type() == avro.Array
	case string:
		return s.Type() == avro.String || s.Type() == avro.Enum
	case json.Number:
		switch s.Type() {
		case avro.Int, avro.Long, avro.Float, avro.Double:
			return true
		}
	case bool:
		return s.Type() == avro.Boolean
	}
	return false
}

// waitFor waits until cond holds, failing the test after a while.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
