package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The binary records of schema version 2 (user states, history entries,
// ledger values) are written with enc and read with dec. The building
// blocks, each self-delimiting:
//
//	uvarint, varint  encoding/binary's variable-length integers
//	str              uvarint length, then the bytes
//	time             kind byte: 0 the zero time; 1 varint Unix milliseconds
//	                 (a whole number of milliseconds); 2 varint Unix seconds
//	                 and uvarint nanoseconds (< 1e9). Read back in UTC.
//	sym              uvarint code: 0 then str (a literal), or k ≥ 1 for the
//	                 k-th string of a fixed table (outcomes, Synced keys, ...)
//	id               uvarint n: 0 then the 16 bytes of a UUID written in
//	                 canonical lower-case form; n ≥ 1 a literal of n-1 bytes
//	pstr             a string of a record with a pool (see pool): uvarint
//	                 h, then by h&3: 0 a literal of h>>2 bytes; 1 a copy of
//	                 pool entry h>>2; 2 a splice of pool entry h>>2: uvarint
//	                 length of its prefix kept, uvarint length of its suffix
//	                 kept, str of what comes between; 3 packed by h>>2: 0 a
//	                 Salesforce ID (18 characters with a valid case suffix)
//	                 in 12 bytes, 1 a UUID in canonical lower-case form in
//	                 16 bytes
//	text             a string cut into parts: uvarint number of parts, then
//	                 for each uvarint h: 4·n and a literal of n bytes, 1 for
//	                 the record's user key, 2 and the 16 bytes of a UUID in
//	                 canonical lower-case form. For event ids, which hold the
//	                 user key and often a UUID ("cdc-<user key>-<Salesforce
//	                 transaction key>-1", "sf-snapshot-<user key>-<ms>").
//
// The tables below are part of the format: entries may be appended, never
// removed or reordered.

// outcomeTable holds the outcomes the handlers, the worker and the metrics use.
var outcomeTable = []string{
	"", "created", "linked", "updated", "reactivated", "archived", "unchanged", "stale",
	"out_of_scope", "not_provisioned", "deleted", "password_reset_sent", "duplicate",
	"dead_lettered", "applied", "retried", "refused",
}

// syncedKeyTable holds the keys the handlers write in UserState.Synced.
var syncedKeyTable = []string{
	"username", "name", "email", "ssoExternalId", "active", "agentDisplayId", "provisioned",
	"deleted", "contactCenter", "alias",
}

// changeFieldTable holds the field names of the handlers' changes.
var changeFieldTable = []string{
	"user", "template", "agentDisplayId", "username", "name", "email", "ssoExternalId", "active",
	"alias", "contactCenter", "passwordReset",
}

// errorClassTable holds the dead-letter classes (events.Class*).
var errorClassTable = []string{"", "poison", "permanent", "exhausted"}

// Time kinds.
const (
	timeZero  = 0
	timeMilli = 1
	timeNano  = 2
)

// maxMilliSeconds bounds the Unix seconds of a time written in
// milliseconds, so that the milliseconds fit an int64.
const maxMilliSeconds = 9_000_000_000_000_000

// enc appends the building blocks of a binary record to b.
type enc struct{ b []byte }

func (e *enc) byte(c byte)      { e.b = append(e.b, c) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *enc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) time(t time.Time) {
	switch sec, ns := t.Unix(), t.Nanosecond(); {
	case t.IsZero():
		e.byte(timeZero)
	case ns%1e6 == 0 && sec > -maxMilliSeconds && sec < maxMilliSeconds:
		e.byte(timeMilli)
		e.varint(sec*1000 + int64(ns/1e6))
	default:
		e.byte(timeNano)
		e.varint(sec)
		e.uvarint(uint64(ns))
	}
}

func (e *enc) sym(s string, table []string) {
	if i := slices.Index(table, s); i >= 0 {
		e.uvarint(uint64(i + 1))
		return
	}
	e.uvarint(0)
	e.str(s)
}

func (e *enc) id(s string) {
	if u, ok := parseUUID(s); ok {
		e.uvarint(0)
		e.b = append(e.b, u[:]...)
		return
	}
	e.uvarint(uint64(len(s)) + 1)
	e.b = append(e.b, s...)
}

// maxPackedText is the longest string text looks into for the user key
// and UUIDs; a longer one is written as one literal.
const maxPackedText = 256

// Text parts (see text).
const (
	textKey  = 1
	textUUID = 2
)

func (e *enc) text(s, key string) {
	type part struct {
		h   uint64
		lit string
		id  [16]byte
	}
	var parts []part
	lit := 0 // start of the pending literal
	flush := func(end int) {
		if end > lit {
			parts = append(parts, part{h: uint64(end-lit) << 2, lit: s[lit:end]})
		}
	}
	for i := 0; i < len(s) && len(s) <= maxPackedText; {
		if key != "" && strings.HasPrefix(s[i:], key) {
			flush(i)
			parts = append(parts, part{h: textKey})
			i += len(key)
			lit = i
			continue
		}
		if i+36 <= len(s) {
			if u, ok := parseUUID(s[i : i+36]); ok {
				flush(i)
				parts = append(parts, part{h: textUUID, id: u})
				i += 36
				lit = i
				continue
			}
		}
		i++
	}
	flush(len(s))
	e.uvarint(uint64(len(parts)))
	for _, p := range parts {
		e.uvarint(p.h)
		switch p.h {
		case textKey:
		case textUUID:
			e.b = append(e.b, p.id[:]...)
		default:
			e.b = append(e.b, p.lit...)
		}
	}
}

// A pool holds the strings a record has written so far (and a few it
// starts with): a later string is written as a copy of one of them, or as
// a splice of one (its prefix, new bytes, its suffix) when that is
// shorter: an email that shares the username's local part and domain, a
// template username that shares its domain. Encoder and decoder add the
// same strings in the same order: every non-empty string pstr writes or
// reads that the pool lacks, and what the record's codec adds itself.
type pool []string

func (p *pool) add(s string) {
	if s != "" && !slices.Contains(*p, s) {
		*p = append(*p, s)
	}
}

// pstr forms.
const (
	psLiteral = 0
	psCopy    = 1
	psSplice  = 2
	psPacked  = 3

	packedSFID = 0
	packedUUID = 1
)

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func (e *enc) pstr(s string, p *pool) {
	defer p.add(s)
	best, form, j, pre, suf := uvarintLen(uint64(len(s))<<2)+len(s), psLiteral, 0, 0, 0
	for i, c := range *p {
		if c == s {
			best, form, j = uvarintLen(uint64(i)<<2|psCopy), psCopy, i
			break
		}
		cp := commonPrefix(c, s)
		cs := commonSuffix(c[cp:], s[cp:])
		mid := len(s) - cp - cs
		cost := uvarintLen(uint64(i)<<2|psSplice) + uvarintLen(uint64(cp)) + uvarintLen(uint64(cs)) +
			uvarintLen(uint64(mid)) + mid
		if cost < best {
			best, form, j, pre, suf = cost, psSplice, i, cp, cs
		}
	}
	if form != psCopy {
		if id, ok := packSFID(s); ok && 13 < best {
			e.uvarint(packedSFID<<2 | psPacked)
			e.b = append(e.b, id[:]...)
			return
		}
		if u, ok := parseUUID(s); ok && 17 < best {
			e.uvarint(packedUUID<<2 | psPacked)
			e.b = append(e.b, u[:]...)
			return
		}
	}
	switch form {
	case psCopy:
		e.uvarint(uint64(j)<<2 | psCopy)
	case psSplice:
		e.uvarint(uint64(j)<<2 | psSplice)
		e.uvarint(uint64(pre))
		e.uvarint(uint64(suf))
		e.str(s[pre : len(s)-suf])
	default:
		e.uvarint(uint64(len(s)) << 2)
		e.b = append(e.b, s...)
	}
}

func (d *dec) pstr(p *pool) string {
	h := d.uvarint()
	if d.err != nil {
		return ""
	}
	var s string
	switch h & 3 {
	case psLiteral:
		s = string(d.bytes(h >> 2))
	case psCopy, psSplice:
		if h>>2 >= uint64(len(*p)) {
			d.failf("string refers to entry %d of %d", h>>2, len(*p))
			return ""
		}
		c := (*p)[h>>2]
		if h&3 == psCopy {
			s = c
			break
		}
		pre, suf := d.uvarint(), d.uvarint()
		mid := d.str()
		if d.err == nil && pre+suf > uint64(len(c)) {
			d.failf("splice of %d and %d bytes of a %d-byte string", pre, suf, len(c))
		}
		if d.err != nil {
			return ""
		}
		s = c[:pre] + mid + c[uint64(len(c))-suf:]
	case psPacked:
		switch h >> 2 {
		case packedSFID:
			b := d.bytes(12)
			if d.err != nil {
				return ""
			}
			var ok bool
			if s, ok = unpackSFID(b); !ok {
				d.failf("packed Salesforce ID %x out of range", b)
				return ""
			}
		case packedUUID:
			b := d.bytes(16)
			if d.err != nil {
				return ""
			}
			s = formatUUID(b)
		default:
			d.failf("unknown packed string %d", h>>2)
			return ""
		}
	}
	if d.err != nil {
		return ""
	}
	p.add(s)
	return s
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// base62 is the alphabet of Salesforce IDs, in the order of their digit values.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sfSuffix is the alphabet of the 3-character case suffix of an 18-character ID.
const sfSuffix = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// packSFID packs an 18-character Salesforce ID whose last three characters
// are the case suffix of the first 15 into 12 bytes: the 15 characters in
// three groups of five base-62 digits, each group a big-endian uint32.
func packSFID(s string) ([12]byte, bool) {
	var out [12]byte
	if len(s) != 18 || sfCaseSuffix(s[:15]) != s[15:] {
		return out, false
	}
	for g := range 3 {
		var v uint32
		for _, c := range []byte(s[g*5 : g*5+5]) {
			i := strings.IndexByte(base62, c)
			if i < 0 {
				return out, false
			}
			v = v*62 + uint32(i)
		}
		binary.BigEndian.PutUint32(out[g*4:], v)
	}
	return out, true
}

func unpackSFID(b []byte) (string, bool) {
	var id [15]byte
	for g := range 3 {
		v := binary.BigEndian.Uint32(b[g*4:])
		for i := 4; i >= 0; i-- {
			id[g*5+i] = base62[v%62]
			v /= 62
		}
		if v != 0 {
			return "", false
		}
	}
	return string(id[:]) + sfCaseSuffix(string(id[:])), true
}

// sfCaseSuffix is the 3-character suffix of a 15-character Salesforce ID:
// for each group of five characters, the bits of its upper-case letters.
func sfCaseSuffix(id15 string) string {
	var out [3]byte
	for g := range 3 {
		bits := 0
		for j := range 5 {
			if c := id15[g*5+j]; c >= 'A' && c <= 'Z' {
				bits |= 1 << j
			}
		}
		out[g] = sfSuffix[bits]
	}
	return string(out[:])
}

// dec reads the building blocks of a binary record. The first error
// sticks: later reads return zero values, and err tells what went wrong.
type dec struct {
	b   []byte
	err error
}

// errTruncated is the cause of reading past the end of a record.
var errTruncated = errors.New("truncated record")

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *dec) failf(format string, args ...any) { d.fail(fmt.Errorf(format, args...)) }

func (d *dec) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next n bytes (a view of the record, not a copy).
func (d *dec) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string { return string(d.bytes(d.uvarint())) }

func (d *dec) time() time.Time {
	switch k := d.byte(); k {
	case timeZero:
		return time.Time{}
	case timeMilli:
		ms := d.varint()
		if d.err != nil {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	case timeNano:
		sec, ns := d.varint(), d.uvarint()
		if d.err != nil {
			return time.Time{}
		}
		if ns >= 1e9 {
			d.failf("time: %d nanoseconds", ns)
			return time.Time{}
		}
		return time.Unix(sec, int64(ns)).UTC()
	default:
		d.failf("unknown time kind %d", k)
		return time.Time{}
	}
}

func (d *dec) sym(table []string) string {
	c := d.uvarint()
	switch {
	case d.err != nil:
		return ""
	case c == 0:
		return d.str()
	case c > uint64(len(table)):
		d.failf("unknown code %d", c)
		return ""
	}
	return table[c-1]
}

func (d *dec) id() string {
	n := d.uvarint()
	if n == 0 {
		u := d.bytes(16)
		if d.err != nil {
			return ""
		}
		return formatUUID(u)
	}
	return string(d.bytes(n - 1))
}

func (d *dec) text(key string) string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.failf("%d text parts", n)
	}
	if d.err != nil || n == 0 {
		return ""
	}
	var b strings.Builder
	for range n {
		switch h := d.uvarint(); {
		case d.err != nil:
			return ""
		case h == textKey:
			b.WriteString(key)
		case h == textUUID:
			u := d.bytes(16)
			if d.err != nil {
				return ""
			}
			b.WriteString(formatUUID(u))
		case h&3 == 0:
			b.Write(d.bytes(h >> 2))
		default:
			d.failf("unknown text part %d", h)
			return ""
		}
	}
	return b.String()
}

// end returns the first error, or an error when bytes are left over.
func (d *dec) end() error {
	if d.err == nil && len(d.b) > 0 {
		return fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

// parseUUID returns the 16 bytes of s when s is a UUID in canonical
// lower-case form (8-4-4-4-12 hexadecimal digits), which formatUUID gives
// back unchanged.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		i, j = i+2, j+1
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u []byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
