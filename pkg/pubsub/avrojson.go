package pubsub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// avroAPI decodes payloads. It is the package's own configuration, so that
// changes to hamba/avro's global DefaultConfig elsewhere do not reach it.
var avroAPI = avro.Config{}.Freeze()

// decodePayload decodes an Avro binary payload written with schema into a
// generic Go value (hamba/avro's: records are map[string]any).
func decodePayload(schema avro.Schema, payload []byte) (any, error) {
	var v any
	if err := avroAPI.Unmarshal(schema, payload, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// avroJSON writes a value decoded with schema as JSON, walking the schema
// alongside the value:
//   - records are objects with their fields in schema order (a field the
//     value lacks is null);
//   - unions are unwrapped: the value of the branch taken, or null. Both
//     forms hamba/avro decodes a union into are read: the branch's value
//     itself (unions of primitives) and a one-key map naming the branch
//     ({"com.sforce.eventbus.Switchable_PersonName": {…}});
//   - enums are their symbols, maps objects (keys sorted), arrays arrays;
//   - int and long are JSON integers, written exactly; float and double
//     are numbers, with NaN and the infinities as the strings "NaN",
//     "Infinity" and "-Infinity", which JSON cannot write as numbers;
//   - bytes and fixed are strings of one code point per byte (U+0000 to
//     U+00FF), as Avro's JSON encoding writes them;
//   - logical types are written as their underlying Avro value: timestamps
//     as epoch milliseconds or microseconds, dates as days since the
//     epoch, times of day as milliseconds or microseconds, decimals as
//     numbers with the schema's scale, durations as objects.
func avroJSON(schema avro.Schema, v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeAvroJSON(&b, schema, v, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAvroJSON writes v as JSON; path names the value in errors.
func writeAvroJSON(b *bytes.Buffer, schema avro.Schema, v any, path string) error {
	if ref, ok := schema.(*avro.RefSchema); ok {
		schema = ref.Schema()
	}
	switch s := schema.(type) {
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return typeError(path, "record "+s.FullName(), v)
		}
		b.WriteByte('{')
		for i, f := range s.Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, f.Name())
			b.WriteByte(':')
			fv, present := m[f.Name()]
			if !present {
				b.WriteString("null")
				continue
			}
			if err := writeAvroJSON(b, f.Type(), fv, joinPath(path, f.Name())); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case *avro.UnionSchema:
		if v == nil {
			b.WriteString("null")
			return nil
		}
		branch, inner := unionBranch(s, v)
		if branch == nil {
			return typeError(path, "one of the union's branches", v)
		}
		return writeAvroJSON(b, branch, inner, path)
	case *avro.NullSchema:
		if v != nil {
			return typeError(path, "null", v)
		}
		b.WriteString("null")
		return nil
	case *avro.EnumSchema:
		sym, ok := v.(string)
		if !ok {
			return typeError(path, "enum "+s.FullName(), v)
		}
		writeJSONString(b, sym)
		return nil
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return typeError(path, "array", v)
		}
		b.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeAvroJSON(b, s.Items(), it, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return typeError(path, "map", v)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if err := writeAvroJSON(b, s.Values(), m[k], joinPath(path, k)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case *avro.FixedSchema:
		if d, ok := v.(avro.LogicalDuration); ok {
			fmt.Fprintf(b, `{"months":%d,"days":%d,"milliseconds":%d}`, d.Months, d.Days, d.Milliseconds)
			return nil
		}
		if r, ok := v.(*big.Rat); ok {
			return writeDecimal(b, r, s.Logical(), path)
		}
		rv := reflect.ValueOf(v)
		if !rv.IsValid() || rv.Kind() != reflect.Array || rv.Type().Elem().Kind() != reflect.Uint8 {
			return typeError(path, "fixed "+s.FullName(), v)
		}
		raw := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(raw), rv)
		writeAvroBytes(b, raw)
		return nil
	case *avro.PrimitiveSchema:
		return writePrimitive(b, s, v, path)
	}
	return fmt.Errorf("%s: Avro type %s is not supported", showPath(path), schema.Type())
}

// unionBranch finds the branch of a union that a decoded value took, and
// the branch's value: a one-key map naming a branch is that branch's
// value; any other value is matched to the first branch whose Go type it
// has.
func unionBranch(u *avro.UnionSchema, v any) (avro.Schema, any) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for name, inner := range m {
			for _, t := range u.Types() {
				if branchName(t) == name {
					return t, inner
				}
			}
		}
	}
	for _, t := range u.Types() {
		if matchesBranch(t, v) {
			return t, v
		}
	}
	return nil, nil
}

// branchName is the name hamba/avro gives a union branch: a named type's
// full name, else the type with its logical type ("long.timestamp-millis").
func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l := logicalType(s); l != "" {
		name += "." + string(l)
	}
	return name
}

func logicalType(s avro.Schema) avro.LogicalType {
	lts, ok := s.(avro.LogicalTypeSchema)
	if !ok {
		return ""
	}
	l := lts.Logical()
	if l == nil || reflect.ValueOf(l).IsNil() {
		return ""
	}
	return l.Type()
}

// matchesBranch reports whether a decoded value can be of the branch's
// type.
func matchesBranch(s avro.Schema, v any) bool {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s.Type() {
	case avro.Null:
		return v == nil
	case avro.Boolean:
		_, ok := v.(bool)
		return ok
	case avro.Int, avro.Long:
		switch v.(type) {
		case int, int8, int16, int32, int64:
			return true
		case time.Time:
			return logicalType(s) != ""
		case time.Duration:
			return logicalType(s) != ""
		}
		return false
	case avro.Float:
		_, ok := v.(float32)
		return ok
	case avro.Double:
		_, ok := v.(float64)
		return ok
	case avro.String, avro.Enum:
		_, ok := v.(string)
		return ok
	case avro.Bytes:
		switch v.(type) {
		case []byte, *big.Rat:
			return true
		}
		return false
	case avro.Record, avro.Map:
		_, ok := v.(map[string]any)
		return ok
	case avro.Array:
		_, ok := v.([]any)
		return ok
	case avro.Fixed:
		switch v.(type) {
		case avro.LogicalDuration, *big.Rat:
			return true
		}
		rv := reflect.ValueOf(v)
		return rv.IsValid() && rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8
	}
	return false
}

func writePrimitive(b *bytes.Buffer, s *avro.PrimitiveSchema, v any, path string) error {
	lt := logicalType(s)
	switch s.Type() {
	case avro.Boolean:
		x, ok := v.(bool)
		if !ok {
			return typeError(path, "boolean", v)
		}
		b.WriteString(strconv.FormatBool(x))
		return nil
	case avro.Int, avro.Long:
		switch x := v.(type) {
		case int:
			b.WriteString(strconv.FormatInt(int64(x), 10))
		case int8:
			b.WriteString(strconv.FormatInt(int64(x), 10))
		case int16:
			b.WriteString(strconv.FormatInt(int64(x), 10))
		case int32:
			b.WriteString(strconv.FormatInt(int64(x), 10))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case time.Time:
			var n int64
			switch lt {
			case avro.Date:
				n = int64(math.Floor(float64(x.Unix()) / 86400))
			case avro.TimestampMicros, avro.LocalTimestampMicros:
				n = x.UnixMicro()
			default:
				n = x.UnixMilli()
			}
			b.WriteString(strconv.FormatInt(n, 10))
		case time.Duration:
			n := x.Milliseconds()
			if lt == avro.TimeMicros {
				n = x.Microseconds()
			}
			b.WriteString(strconv.FormatInt(n, 10))
		default:
			return typeError(path, string(s.Type()), v)
		}
		return nil
	case avro.Float:
		x, ok := v.(float32)
		if !ok {
			return typeError(path, "float", v)
		}
		writeFloat(b, float64(x), 32)
		return nil
	case avro.Double:
		x, ok := v.(float64)
		if !ok {
			return typeError(path, "double", v)
		}
		writeFloat(b, x, 64)
		return nil
	case avro.String:
		x, ok := v.(string)
		if !ok {
			return typeError(path, "string", v)
		}
		writeJSONString(b, x)
		return nil
	case avro.Bytes:
		switch x := v.(type) {
		case []byte:
			writeAvroBytes(b, x)
			return nil
		case *big.Rat:
			return writeDecimal(b, x, s.Logical(), path)
		}
		return typeError(path, "bytes", v)
	case avro.Null:
		if v != nil {
			return typeError(path, "null", v)
		}
		b.WriteString("null")
		return nil
	}
	return fmt.Errorf("%s: Avro type %s is not supported", showPath(path), s.Type())
}

func writeFloat(b *bytes.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		b.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		b.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		b.WriteString(`"-Infinity"`)
	default:
		b.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	}
}

// writeDecimal writes a decimal as a JSON number with the schema's scale.
func writeDecimal(b *bytes.Buffer, r *big.Rat, l avro.LogicalSchema, path string) error {
	if r == nil {
		return typeError(path, "decimal", r)
	}
	scale := 0
	if d, ok := l.(*avro.DecimalLogicalSchema); ok {
		scale = d.Scale()
	}
	b.WriteString(r.FloatString(scale))
	return nil
}

// writeAvroBytes writes bytes as Avro's JSON encoding does: a string whose
// code points are the byte values.
func writeAvroBytes(b *bytes.Buffer, raw []byte) {
	runes := make([]rune, len(raw))
	for i, c := range raw {
		runes[i] = rune(c)
	}
	writeJSONString(b, string(runes))
}

// writeJSONString writes s as a JSON string. Invalid UTF-8 is replaced
// with U+FFFD, as encoding/json does.
func writeJSONString(b *bytes.Buffer, s string) {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func showPath(path string) string {
	if path == "" {
		return "payload"
	}
	return path
}

func typeError(path, want string, v any) error {
	return fmt.Errorf("%s: decoded as %T, want %s", showPath(path), v, want)
}

// commitTimestamp returns ChangeEventHeader.commitTimestamp (epoch ms)
// of a change event's JSON payload, if it has one.
func commitTimestamp(payload []byte) (int64, bool) {
	var ev struct {
		Header struct {
			CommitTimestamp int64 `json:"commitTimestamp"`
		} `json:"ChangeEventHeader"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Header.CommitTimestamp <= 0 {
		return 0, false
	}
	return ev.Header.CommitTimestamp, true
}
