package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultHistoryLimit is how many history entries are kept per user when
// Options.HistoryLimit is zero.
const DefaultHistoryLimit = 100

// FieldChange is one field of a user that an event changed, old → new. An
// empty Old or New means the field had or has no value.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// HistoryEntry is one line of a user's history: what an event or an
// operator command did to the user, for status and history views. It is
// stored in the binary form of encodeHistoryEntry; the JSON names are
// those of schema version 1, which Open migrates from.
type HistoryEntry struct {
	At          time.Time     `json:"at"`                    // when it was applied; zero is set to the commit time
	EventID     string        `json:"eventId,omitempty"`     // CloudEvents id of the event or command
	Type        string        `json:"type,omitempty"`        // event type, e.g. salesforce.user.changed or vccsync.command.set-webrtc
	Action      string        `json:"action,omitempty"`      // command action, "" for Salesforce events
	RequestedBy string        `json:"requestedBy,omitempty"` // who asked (commands)
	Reason      string        `json:"reason,omitempty"`      // why (commands)
	Outcome     string        `json:"outcome,omitempty"`     // created, updated, unchanged, archived, refused, dead_lettered, ...
	Changes     []FieldChange `json:"changes,omitempty"`     // fields changed, old → new
	Error       string        `json:"error,omitempty"`       // the error, for a refusal or a failure
	ErrorClass  string        `json:"errorClass,omitempty"`  // dead-letter class of the error: poison, permanent or exhausted
}

// History returns the user's history, newest first: at most limit entries,
// or every entry kept when limit <= 0. A user without history has none (a
// nil slice and no error).
func (db *DB) History(userKey string, limit int) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if userKey == "" {
			return nil
		}
		prefix := []byte(userKey)
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := lastWithPrefix(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(k) != len(prefix)+historyKeyExtra {
				continue // another user's, whose key starts with this one
			}
			if limit > 0 && len(out) >= limit {
				break
			}
			e, err := decodeHistoryEntry(userKey, k[len(prefix):], v)
			if err != nil {
				return fmt.Errorf("decode entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", userKey, err)
	}
	return out, nil
}

// A history key is the user key, the 8-byte big-endian nanoseconds of the
// entry's time (math.MaxInt64 at most, so the first byte is below 0x80)
// and a 2-byte big-endian tiebreak that orders entries of the same
// nanosecond. Key times never go backwards within a user: an entry older
// than the user's last is keyed at the last one's time, with its own At
// kept in the value. A user's keys are thus in the order they were
// appended, newest last.
const historyKeyExtra = 8 + 2

// lastWithPrefix moves c to the last key that is below prefix ‖ 0x80 (past
// every history key of the user prefix) and returns it.
func lastWithPrefix(c *bolt.Cursor, prefix []byte) ([]byte, []byte) {
	end := append(slices.Clip(prefix), 0x80)
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

func historyKey(prefix []byte, ns uint64, seq uint16) []byte {
	k := make([]byte, 0, len(prefix)+historyKeyExtra)
	k = append(k, prefix...)
	k = binary.BigEndian.AppendUint64(k, ns)
	return binary.BigEndian.AppendUint16(k, seq)
}

// userHistory is the encoded history of one user in a batch.
type userHistory struct {
	key     string
	entries []encodedEntry
}

type encodedEntry struct {
	at   time.Time
	body []byte // encodeHistoryEntry, without the trailing At
}

// encodeHistory checks and encodes a batch's history, users in key order,
// each user's entries in the order given. A zero At is set to now.
func encodeHistory(h map[string][]HistoryEntry, now time.Time) ([]userHistory, error) {
	keys := make([]string, 0, len(h))
	for k, entries := range h {
		if len(entries) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]userHistory, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			return nil, errors.New("history: empty user key")
		}
		uh := userHistory{key: k, entries: make([]encodedEntry, len(h[k]))}
		for i, e := range h[k] {
			if e.At.IsZero() {
				e.At = now
			}
			uh.entries[i] = encodedEntry{at: e.At, body: encodeHistoryEntry(k, e)}
		}
		out = append(out, uh)
	}
	return out, nil
}

// Flags of a history entry.
const (
	hfAction = 1 << iota
	hfRequestedBy
	hfReason
	hfError
	hfErrorClass
	hfChanges
	hfKnown = 1<<iota - 1
)

// Type codes of a history entry.
const (
	htLiteral = iota
	htEmpty
	htUserChanged
	htCommand // "vccsync.command." + Action
)

const (
	typeUserChanged = "salesforce.user.changed"
	commandPrefix   = "vccsync.command."
)

// historyCodec is the leading byte of a history entry.
const historyCodec = 1

// encodeHistoryEntry is the binary form of e (of the user userKey) but its
// time, which the key holds:
//
//	byte     historyCodec (1)
//	uvarint  flags: which of the optional fields follow
//	pstr     Action (flag)
//	uvarint  Type: 1 "", 2 salesforce.user.changed, 3 vccsync.command.<Action>,
//	         0 and a str otherwise
//	text     EventID
//	sym      Outcome (outcomeTable)
//	pstr     RequestedBy, Reason, Error (flags); sym ErrorClass (flag)
//	uvarint  number of Changes, then each: sym Field (changeFieldTable),
//	         pstr Old, pstr New (flag)
//	time     At, only when the key's time is not At (appended by appendHistory)
//
// Its pool (see pool) starts with the user key: a new value that differs
// from the old in a few characters is a splice of it.
func encodeHistoryEntry(userKey string, e HistoryEntry) []byte {
	var flags uint64
	for _, f := range []struct {
		set  bool
		flag uint64
	}{
		{e.Action != "", hfAction}, {e.RequestedBy != "", hfRequestedBy}, {e.Reason != "", hfReason},
		{e.Error != "", hfError}, {e.ErrorClass != "", hfErrorClass}, {len(e.Changes) > 0, hfChanges},
	} {
		if f.set {
			flags |= f.flag
		}
	}
	w := enc{b: make([]byte, 0, 128)}
	p := pool{userKey}
	w.byte(historyCodec)
	w.uvarint(flags)
	if flags&hfAction != 0 {
		w.pstr(e.Action, &p)
	}
	switch {
	case e.Type == "":
		w.uvarint(htEmpty)
	case e.Type == typeUserChanged:
		w.uvarint(htUserChanged)
	case e.Action != "" && e.Type == commandPrefix+e.Action:
		w.uvarint(htCommand)
	default:
		w.uvarint(htLiteral)
		w.str(e.Type)
	}
	w.text(e.EventID, userKey)
	w.sym(e.Outcome, outcomeTable)
	if flags&hfRequestedBy != 0 {
		w.pstr(e.RequestedBy, &p)
	}
	if flags&hfReason != 0 {
		w.pstr(e.Reason, &p)
	}
	if flags&hfError != 0 {
		w.pstr(e.Error, &p)
	}
	if flags&hfErrorClass != 0 {
		w.sym(e.ErrorClass, errorClassTable)
	}
	if flags&hfChanges != 0 {
		w.uvarint(uint64(len(e.Changes)))
		for _, c := range e.Changes {
			w.sym(c.Field, changeFieldTable)
			w.pstr(c.Old, &p)
			w.pstr(c.New, &p)
		}
	}
	return w.b
}

// decodeHistoryEntry decodes the entry of userKey whose key ends in tail
// (historyKeyExtra bytes: time, tiebreak).
func decodeHistoryEntry(userKey string, tail, v []byte) (HistoryEntry, error) {
	if len(v) == 0 || v[0] != historyCodec {
		return HistoryEntry{}, fmt.Errorf("unknown record format (first byte %#x, want %#x)", first(v), historyCodec)
	}
	d := dec{b: v[1:]}
	p := pool{userKey}
	var e HistoryEntry
	flags := d.uvarint()
	if flags&^hfKnown != 0 {
		return HistoryEntry{}, fmt.Errorf("unknown flags %#x", flags)
	}
	if flags&hfAction != 0 {
		e.Action = d.pstr(&p)
	}
	switch t := d.uvarint(); t {
	case htLiteral:
		e.Type = d.str()
	case htEmpty:
	case htUserChanged:
		e.Type = typeUserChanged
	case htCommand:
		e.Type = commandPrefix + e.Action
	default:
		d.failf("unknown type code %d", t)
	}
	e.EventID = d.text(userKey)
	e.Outcome = d.sym(outcomeTable)
	if flags&hfRequestedBy != 0 {
		e.RequestedBy = d.pstr(&p)
	}
	if flags&hfReason != 0 {
		e.Reason = d.pstr(&p)
	}
	if flags&hfError != 0 {
		e.Error = d.pstr(&p)
	}
	if flags&hfErrorClass != 0 {
		e.ErrorClass = d.sym(errorClassTable)
	}
	if flags&hfChanges != 0 {
		n := d.uvarint()
		if d.err == nil && (n == 0 || n > uint64(len(d.b))) {
			d.failf("%d changes", n)
		}
		if d.err == nil {
			e.Changes = make([]FieldChange, n)
			for i := range e.Changes {
				c := FieldChange{Field: d.sym(changeFieldTable)}
				c.Old = d.pstr(&p)
				c.New = d.pstr(&p)
				e.Changes[i] = c
			}
		}
	}
	if d.err == nil && len(d.b) > 0 {
		e.At = d.time()
	} else {
		e.At = time.Unix(0, int64(binary.BigEndian.Uint64(tail))).UTC()
	}
	if err := d.end(); err != nil {
		return HistoryEntry{}, err
	}
	return e, nil
}

// appendHistory appends the user's encoded entries after the user's last
// entry, then deletes the oldest entries beyond limit.
func appendHistory(hb *bolt.Bucket, uh userHistory, limit int) error {
	prefix := []byte(uh.key)
	c := hb.Cursor()
	var (
		lastNS  uint64
		lastSeq uint16
		have    bool
	)
	for k, _ := lastWithPrefix(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) == len(prefix)+historyKeyExtra {
			tail := k[len(prefix):]
			lastNS, lastSeq, have = binary.BigEndian.Uint64(tail), binary.BigEndian.Uint16(tail[8:]), true
			break
		}
	}
	for _, e := range uh.entries {
		ns, seq := nanos(e.at), uint16(0)
		if have && ns <= lastNS {
			ns, seq = lastNS, lastSeq+1
			if lastSeq == math.MaxUint16 {
				if lastNS == math.MaxInt64 {
					return fmt.Errorf("no history key left after %x", historyKey(prefix, lastNS, lastSeq))
				}
				ns, seq = lastNS+1, 0
			}
		}
		v := e.body
		if !exact(ns, e.at) {
			w := enc{b: slices.Clip(e.body)}
			w.time(e.at)
			v = w.b
		}
		if err := hb.Put(historyKey(prefix, ns, seq), v); err != nil {
			return err
		}
		lastNS, lastSeq, have = ns, seq, true
	}
	return trimHistory(hb, prefix, limit)
}

// trimHistory deletes the user's entries beyond the newest limit, walking
// the user's keys from the newest (limit and the entries just appended,
// unless the limit was lowered since).
func trimHistory(hb *bolt.Bucket, prefix []byte, limit int) error {
	if limit <= 0 {
		return nil
	}
	var keys [][]byte
	n := 0
	c := hb.Cursor()
	for k, _ := lastWithPrefix(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) != len(prefix)+historyKeyExtra {
			continue
		}
		if n++; n > limit {
			// Keys must not be used after the cursor moves past a deletion; copy them.
			keys = append(keys, append([]byte(nil), k...))
		}
	}
	for _, k := range keys {
		if err := hb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
