package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CDCSchema is the field order of a change event's Avro schema: what the
// Pub/Sub API's bitmaps (changedFields, nulledFields, diffFields) count.
// Get it with the Pub/Sub API's GetSchema (the schema id is in every
// event) and keep it with the events it describes: a bitmap read against
// another version of the schema names the wrong fields.
type CDCSchema struct {
	// Name is the record's full name, e.g. com.sforce.eventbus.UserChangeEvent.
	Name string
	// Fields are the record's top-level fields in schema order; bit i of
	// the top-level bitmap is Fields[i].
	Fields []CDCSchemaField
}

// CDCSchemaField is one top-level field of a change event schema.
type CDCSchemaField struct {
	Name string
	// Subfields of a compound field (a nested record such as Name), in
	// schema order: bit i of the "<position>-0x…" bitmap is Subfields[i].
	// Nil for a plain field.
	Subfields []string
}

// ParseCDCSchema reads an Avro record schema in JSON, as GetSchema returns
// it (also accepted: an object holding it as a string in schemaJson or
// schema_json). Named types defined earlier in the schema may be referred
// to by name, as Avro allows.
func ParseCDCSchema(b []byte) (*CDCSchema, error) {
	var wrapper struct {
		SchemaJSON  *string `json:"schemaJson"`
		SchemaJSON2 *string `json:"schema_json"`
	}
	if err := json.Unmarshal(b, &wrapper); err == nil {
		switch {
		case wrapper.SchemaJSON != nil:
			b = []byte(*wrapper.SchemaJSON)
		case wrapper.SchemaJSON2 != nil:
			b = []byte(*wrapper.SchemaJSON2)
		}
	}
	var top any
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("avro schema: not valid JSON: %w", err)
	}
	p := cdcSchemaParser{records: map[string][]string{}}
	rec, ok := top.(map[string]any)
	if !ok || rec["type"] != "record" {
		return nil, errors.New(`avro schema: want a record schema ({"type":"record","name":…,"fields":[…]})`)
	}
	name, fields, err := p.record(rec, "")
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	s := &CDCSchema{Name: name}
	for i, f := range fields {
		fm := f.(map[string]any) // checked by record
		fname := fm["name"].(string)
		ns := cdcNamespace(name)
		sub, err := p.subfields(fm["type"], ns)
		if err != nil {
			return nil, fmt.Errorf("avro schema: field %d (%s): %w", i, fname, err)
		}
		s.Fields = append(s.Fields, CDCSchemaField{Name: fname, Subfields: sub})
	}
	if len(s.Fields) == 0 {
		return nil, fmt.Errorf("avro schema: record %s has no fields", name)
	}
	return s, nil
}

// FieldNames expands bitmap-encoded field lists into field names: a
// top-level bitmap ("0x…") into the names of the fields whose bits are
// set, a compound field's bitmap ("<position>-0x…") into
// "<parent>.<subfield>" names. Entries that are not bitmaps are field
// names already and are kept as they are.
//
// A bitmap is a hexadecimal number, most significant digit first; bit i
// (value 1<<i) stands for field position i. So "0x1" is field 0 and
// "0x650004E0" is fields 5, 6, 7, 10, 24, 26, 29 and 30.
func (s *CDCSchema) FieldNames(list []string) ([]string, error) {
	var names []string
	for _, entry := range list {
		kind, parent, hex := cdcBitmapKind(entry)
		switch kind {
		case cdcNotBitmap:
			names = append(names, entry)
			continue
		case cdcBadBitmap:
			return nil, fmt.Errorf("%q: not a bitmap (want 0x<hex> or <position>-0x<hex>)", entry)
		}
		if s == nil {
			return nil, fmt.Errorf("%q is a Pub/Sub bitmap: decoding it needs the event's Avro schema", entry)
		}
		bits, err := cdcBitmapBits(hex)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", entry, err)
		}
		if kind == cdcTopBitmap {
			for _, b := range bits {
				if b >= len(s.Fields) {
					return nil, fmt.Errorf("%q: bit %d is set but schema %s has %d fields (is it the schema of this event?)", entry, b, s.Name, len(s.Fields))
				}
				names = append(names, s.Fields[b].Name)
			}
			continue
		}
		if parent >= len(s.Fields) {
			return nil, fmt.Errorf("%q: position %d is past the %d fields of schema %s", entry, parent, len(s.Fields), s.Name)
		}
		pf := s.Fields[parent]
		if pf.Subfields == nil {
			return nil, fmt.Errorf("%q: field %d (%s) is not a compound field", entry, parent, pf.Name)
		}
		for _, b := range bits {
			if b >= len(pf.Subfields) {
				return nil, fmt.Errorf("%q: bit %d is set but compound field %s has %d subfields", entry, b, pf.Name, len(pf.Subfields))
			}
			names = append(names, pf.Name+"."+pf.Subfields[b])
		}
	}
	return names, nil
}

type cdcBitmapType int

const (
	cdcNotBitmap cdcBitmapType = iota
	cdcTopBitmap
	cdcNestedBitmap
	cdcBadBitmap
)

// cdcBitmapKind tells a bitmap entry from a field name. Field names start
// with a letter, so "0x…" and "<digits>-…" are bitmaps.
func cdcBitmapKind(entry string) (kind cdcBitmapType, parent int, hex string) {
	if h, ok := cdcCutHexPrefix(entry); ok {
		return cdcTopBitmap, 0, h
	}
	if entry == "" || entry[0] < '0' || entry[0] > '9' {
		return cdcNotBitmap, 0, ""
	}
	pos, rest, ok := strings.Cut(entry, "-")
	if !ok {
		return cdcBadBitmap, 0, ""
	}
	n, err := strconv.Atoi(pos)
	if err != nil || n < 0 {
		return cdcBadBitmap, 0, ""
	}
	h, ok := cdcCutHexPrefix(rest)
	if !ok {
		return cdcBadBitmap, 0, ""
	}
	return cdcNestedBitmap, n, h
}

func cdcCutHexPrefix(s string) (string, bool) {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:], true
	}
	return "", false
}

// cdcBitmapBits returns the positions of the set bits of a hexadecimal
// number (without its 0x), lowest first. The last digit holds bits 0-3,
// the one before it bits 4-7, and so on; any number of digits is read.
func cdcBitmapBits(hex string) ([]int, error) {
	if hex == "" {
		return nil, errors.New("no hexadecimal digits after 0x")
	}
	var bits []int
	for k := 0; k < len(hex); k++ {
		c := hex[len(hex)-1-k]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'f':
			v = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v = int(c-'A') + 10
		default:
			return nil, fmt.Errorf("%q is not a hexadecimal digit", c)
		}
		for b := 0; b < 4; b++ {
			if v&(1<<b) != 0 {
				bits = append(bits, 4*k+b)
			}
		}
	}
	return bits, nil
}

// cdcSchemaParser walks an Avro schema, remembering the fields of every
// named record so that later references by name resolve.
type cdcSchemaParser struct {
	records map[string][]string // full name and short name → field names
}

// record registers a record schema and returns its full name and fields.
func (p *cdcSchemaParser) record(m map[string]any, ns string) (string, []any, error) {
	name, _ := m["name"].(string)
	if name == "" {
		return "", nil, errors.New("record without a name")
	}
	if n, ok := m["namespace"].(string); ok && n != "" {
		ns = n
	}
	full := name
	if !strings.Contains(name, ".") && ns != "" {
		full = ns + "." + name
	}
	fields, ok := m["fields"].([]any)
	if !ok {
		return "", nil, fmt.Errorf("record %s: fields is not a list", full)
	}
	names := make([]string, 0, len(fields))
	for i, f := range fields {
		fm, ok := f.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("record %s: field %d is not an object", full, i)
		}
		fname, _ := fm["name"].(string)
		if fname == "" {
			return "", nil, fmt.Errorf("record %s: field %d has no name", full, i)
		}
		names = append(names, fname)
	}
	p.records[full] = names
	p.records[full[strings.LastIndex(full, ".")+1:]] = names
	for i, f := range fields {
		fm := f.(map[string]any)
		if _, err := p.subfields(fm["type"], cdcNamespace(full)); err != nil {
			return "", nil, fmt.Errorf("record %s: field %d (%s): %w", full, i, names[i], err)
		}
	}
	return full, fields, nil
}

// subfields returns the field names of the record a field's type is (or,
// for a union such as ["null", record], holds), or nil when it holds none.
func (p *cdcSchemaParser) subfields(t any, ns string) ([]string, error) {
	switch v := t.(type) {
	case string:
		if f, ok := p.records[v]; ok {
			return f, nil
		}
		if f, ok := p.records[ns+"."+v]; ok && ns != "" {
			return f, nil
		}
		return nil, nil
	case []any:
		var found []string
		for _, branch := range v {
			f, err := p.subfields(branch, ns)
			if err != nil {
				return nil, err
			}
			if f != nil {
				found = f
			}
		}
		return found, nil
	case map[string]any:
		switch v["type"] {
		case "record", "error":
			_, fields, err := p.record(v, ns)
			if err != nil {
				return nil, err
			}
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.(map[string]any)["name"].(string)
			}
			return names, nil
		case "array":
			_, err := p.subfields(v["items"], ns)
			return nil, err
		case "map":
			_, err := p.subfields(v["values"], ns)
			return nil, err
		}
		return nil, nil
	case nil:
		return nil, errors.New("no type")
	}
	return nil, fmt.Errorf("type %v is not an Avro type", t)
}

func cdcNamespace(full string) string {
	if i := strings.LastIndex(full, "."); i >= 0 {
		return full[:i]
	}
	return ""
}
