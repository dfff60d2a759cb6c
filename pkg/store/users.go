package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vccsync/vccsync/pkg/events"
)

// UserState is what vccsync knows about one Salesforce user, keyed by the
// 18-character Salesforce user ID. It is stored in the binary form of
// encodeUser; the JSON names are those of schema version 1, which Open
// migrates from.
type UserState struct {
	Key         string            `json:"key"`                   // Salesforce user ID (18)
	VCCUserID   string            `json:"vccUserId,omitempty"`   // link to the VCC user, "" if none
	Checkpoint  time.Time         `json:"checkpoint"`            // last applied Salesforce timestamp (SystemModstamp / LastModifiedDate)
	LastEventID string            `json:"lastEventId,omitempty"` // id of the last event applied
	Snapshot    events.User       `json:"snapshot"`              // merged last known Salesforce user
	Synced      map[string]string `json:"synced,omitempty"`      // what vccsync last wrote/saw in VCC, field → value
	AgentID     string            `json:"agentId,omitempty"`     // agent ID of the VCC user
	Outcome     string            `json:"outcome,omitempty"`     // last outcome (created, updated, archived, unchanged, ...)
	LastError   string            `json:"lastError,omitempty"`   // last error, "" after a success
	UpdatedAt   time.Time         `json:"updatedAt"`             // when this state was committed
	Applied     int64             `json:"applied"`               // count of events applied for this user
}

// User returns the state of the user with the given key, and whether there
// is one.
func (db *DB) User(key string) (UserState, bool, error) {
	var (
		u  UserState
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		u, ok, err = getUser(tx, key)
		return err
	})
	if err != nil {
		return UserState{}, false, fmt.Errorf("read user %s: %w", key, err)
	}
	return u, ok, nil
}

// UserByVCCID returns the state of the user linked to the VCC user
// vccUserID, and whether there is one.
func (db *DB) UserByVCCID(vccUserID string) (UserState, bool, error) {
	var (
		u  UserState
		ok bool
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if vccUserID == "" {
			return nil
		}
		key := tx.Bucket(bucketUsersByVCC).Get(vccKey(vccUserID))
		if key == nil {
			return nil
		}
		var err error
		u, ok, err = getUser(tx, string(key))
		return err
	})
	if err != nil {
		return UserState{}, false, fmt.Errorf("read user by vcc id %s: %w", vccUserID, err)
	}
	return u, ok, nil
}

// ForEachUser calls fn for every user state, in key order, inside one read
// transaction; it stops at and returns the first error fn returns. fn must
// not write to the store (a write waiting on the read transaction can
// deadlock when the file grows).
func (db *DB) ForEachUser(fn func(UserState) error) error {
	var fnErr error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			u, err := decodeUser(string(k), v)
			if err != nil {
				return fmt.Errorf("decode user %s: %w", k, err)
			}
			if err := fn(u); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("iterate users: %w", err)
	}
	return nil
}

func getUser(tx *bolt.Tx, key string) (UserState, bool, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(key))
	if v == nil {
		return UserState{}, false, nil
	}
	u, err := decodeUser(key, v)
	if err != nil {
		return UserState{}, false, fmt.Errorf("decode user %s: %w", key, err)
	}
	return u, true, nil
}

// putUser stores u (encoded as v) and keeps the VCC-ID index in step: the
// old link is removed when it pointed at this user, the new one is set.
// When addApplied is set, u.Applied (and the count in v) is an increment:
// the stored count is added to it. Only the head of the stored record is
// read (peekUser), not the whole of it.
func putUser(tx *bolt.Tx, u UserState, v []byte, addApplied bool) error {
	users, byVCC := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByVCC)
	key := []byte(u.Key)
	var old userHead
	if ov := users.Get(key); ov != nil {
		var err error
		if old, err = peekUser(ov); err != nil {
			return fmt.Errorf("decode user %s: %w", u.Key, err)
		}
	}
	if addApplied && old.applied != 0 {
		u.Applied += old.applied
		v = withApplied(v, u.Applied)
	}
	if old.vccUserID != "" && old.vccUserID != u.VCCUserID {
		if string(byVCC.Get(vccKey(old.vccUserID))) == u.Key {
			if err := byVCC.Delete(vccKey(old.vccUserID)); err != nil {
				return err
			}
		}
	}
	// The index entry of a user still linked to the same VCC user is
	// there already: a Put would copy and rewrite its page all the same.
	if u.VCCUserID != "" {
		vk := vccKey(u.VCCUserID)
		if old.vccUserID != u.VCCUserID || string(byVCC.Get(vk)) != u.Key {
			if err := byVCC.Put(vk, key); err != nil {
				return err
			}
		}
	}
	return users.Put(key, v)
}

// vccKey is the users_by_vcc_v2 key of a VCC user id: 0x01 and the 16
// bytes of a canonical lower-case UUID (what VCC's ids are), 0x00 and the
// id as given otherwise.
func vccKey(id string) []byte {
	if u, ok := parseUUID(id); ok {
		return append([]byte{1}, u[:]...)
	}
	return append([]byte{0}, id...)
}

// userCodec is the leading byte of a user record of schema version 2.
const userCodec = 1

// Snapshot field states, two bits per field in the snapshot word.
const (
	stAbsent = 0
	stNull   = 1
	stValue  = 2
	stOther  = 3 // IsActive: true (stValue is false); a time: equal to Checkpoint
)

// snapChanged is the snapshot word's bit for ChangedFields following;
// bits above it are unknown.
const (
	snapChanged   = 1 << 24
	snapKnownBits = 1<<25 - 1
)

// snapshotFields are the fields of events.User in codec order (two state
// bits each in the snapshot word). Adding a field to events.User needs a
// new entry here and a test update (TestCodecCoversEveryUserField).
type snapshotFields struct {
	str [9]*events.Field[string] // codec indexes strIndex[i]
	act *events.Field[bool]
	lmd *events.Field[events.Time]
	sms *events.Field[events.Time]
}

// Codec index of each string field, and of the others.
var strIndex = [9]int{0, 1, 2, 3, 4, 6, 7, 8, 9}

const (
	idxIsActive = 5
	idxLMD      = 10
	idxSMS      = 11
)

func fieldsOf(u *events.User) snapshotFields {
	return snapshotFields{
		str: [9]*events.Field[string]{&u.Username, &u.Alias, &u.Email, &u.FirstName, &u.LastName,
			&u.FederationIdentifier, &u.ProfileID, &u.CallCenterID, &u.AgentID},
		act: &u.IsActive, lmd: &u.LastModifiedDate, sms: &u.SystemModstamp,
	}
}

func state[T any](f events.Field[T]) uint32 {
	switch {
	case !f.Set:
		return stAbsent
	case f.Null:
		return stNull
	}
	return stValue
}

// known is the value of a field as it is stored: "" unless set and not null.
func known(f events.Field[string]) string {
	if f.Known() {
		return f.Value
	}
	return ""
}

// snapshotName is "FirstName LastName" of what is known, which the pool
// of a user record holds after the snapshot (the handlers' name in VCC
// mostly). It is part of the format: do not change it.
func snapshotName(s *events.User) string {
	first, last := known(s.FirstName), known(s.LastName)
	switch {
	case first == "":
		return last
	case last == "":
		return first
	}
	return first + " " + last
}

// userPool is the pool a user record starts with (see pool).
func userPool(key string) pool { return pool{key, "true", "false"} }

// encodeUser is the binary form of u (its Key is the bbolt key and is not
// repeated):
//
//	byte     userCodec (1)
//	varint   Applied                 } the head, read by peekUser
//	id       VCCUserID               }
//	time     Checkpoint
//	text     LastEventID
//	snapshot (see encodeSnapshot)
//	pstr     AgentID
//	uvarint  number of Synced entries, then for each in key order:
//	         sym key (syncedKeyTable), pstr value
//	sym      Outcome (outcomeTable)
//	pstr     LastError
//	time     UpdatedAt
//
// Its pool starts with the key, "true" and "false"; the snapshot's name
// (snapshotName) is added after the snapshot. Most Synced values are then
// a byte: copies of the snapshot's.
func encodeUser(u UserState) []byte {
	e := enc{b: make([]byte, 0, 256)}
	p := userPool(u.Key)
	e.byte(userCodec)
	e.varint(u.Applied)
	e.id(u.VCCUserID)
	e.time(u.Checkpoint)
	e.text(u.LastEventID, u.Key)
	e.snapshot(&u.Snapshot, u.Checkpoint, &p)
	p.add(snapshotName(&u.Snapshot))
	e.pstr(u.AgentID, &p)
	keys := sortedKeys(u.Synced)
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.sym(k, syncedKeyTable)
		e.pstr(u.Synced[k], &p)
	}
	e.sym(u.Outcome, outcomeTable)
	e.pstr(u.LastError, &p)
	e.time(u.UpdatedAt)
	return e.b
}

// encodeSnapshot writes the snapshot word (4 bytes, little endian: the
// state of each field in two bits, in codec order, and whether
// ChangedFields follow), then ID (pstr: one byte when it is the key),
// then the value of each field whose state says one follows, in codec
// order: a pstr for a string, a time for a time (state 3: equal to
// Checkpoint, nothing follows); IsActive holds its value in its state.
// ChangedFields come last, as a count and strs.
func (e *enc) snapshot(s *events.User, checkpoint time.Time, p *pool) {
	f := fieldsOf(s)
	var w uint32
	for i, sf := range f.str {
		w |= state(*sf) << (2 * strIndex[i])
	}
	act := state(*f.act)
	if act == stValue && f.act.Value {
		act = stOther
	}
	w |= act << (2 * idxIsActive)
	lmd, sms := timeState(*f.lmd, checkpoint), timeState(*f.sms, checkpoint)
	w |= lmd<<(2*idxLMD) | sms<<(2*idxSMS)
	if len(s.ChangedFields) > 0 {
		w |= snapChanged
	}
	e.b = binary.LittleEndian.AppendUint32(e.b, w)
	e.pstr(s.ID, p)
	for _, sf := range f.str {
		if sf.Known() {
			e.pstr(sf.Value, p)
		}
	}
	if lmd == stValue {
		e.time(f.lmd.Value.Time)
	}
	if sms == stValue {
		e.time(f.sms.Value.Time)
	}
	if len(s.ChangedFields) > 0 {
		e.uvarint(uint64(len(s.ChangedFields)))
		for _, c := range s.ChangedFields {
			e.str(c)
		}
	}
}

func timeState(f events.Field[events.Time], checkpoint time.Time) uint32 {
	st := state(f)
	if st == stValue && !checkpoint.IsZero() && f.Value.Equal(checkpoint) {
		return stOther
	}
	return st
}

func (d *dec) snapshot(checkpoint time.Time, p *pool) events.User {
	var s events.User
	b := d.bytes(4)
	if d.err != nil {
		return s
	}
	w := binary.LittleEndian.Uint32(b)
	if w&^snapKnownBits != 0 {
		d.failf("snapshot word %#x has unknown bits", w)
		return s
	}
	s.ID = d.pstr(p)
	f := fieldsOf(&s)
	for i, sf := range f.str {
		switch st := (w >> (2 * strIndex[i])) & 3; st {
		case stNull:
			*sf = events.Null[string]()
		case stValue:
			*sf = events.Val(d.pstr(p))
		case stOther:
			d.failf("snapshot word %#x: string field %d in state %d", w, strIndex[i], st)
		}
	}
	switch (w >> (2 * idxIsActive)) & 3 {
	case stNull:
		*f.act = events.Null[bool]()
	case stValue:
		*f.act = events.Val(false)
	case stOther:
		*f.act = events.Val(true)
	}
	for _, t := range []struct {
		idx int
		f   *events.Field[events.Time]
	}{{idxLMD, f.lmd}, {idxSMS, f.sms}} {
		switch (w >> (2 * t.idx)) & 3 {
		case stNull:
			*t.f = events.Null[events.Time]()
		case stValue:
			*t.f = events.Val(events.Time{Time: d.time()})
		case stOther:
			if checkpoint.IsZero() {
				d.failf("field %d refers to a zero checkpoint", t.idx)
			}
			*t.f = events.Val(events.Time{Time: checkpoint})
		}
	}
	if w&snapChanged != 0 {
		n := d.uvarint()
		if d.err == nil && (n == 0 || n > uint64(len(d.b))) {
			d.failf("%d changed fields", n)
		}
		if d.err != nil {
			return s
		}
		s.ChangedFields = make([]string, n)
		for i := range s.ChangedFields {
			s.ChangedFields[i] = d.str()
		}
	}
	return s
}

// decodeUser decodes a user record stored under key.
func decodeUser(key string, v []byte) (UserState, error) {
	if len(v) == 0 || v[0] != userCodec {
		return UserState{}, fmt.Errorf("unknown record format (first byte %#x, want %#x)", first(v), userCodec)
	}
	d := dec{b: v[1:]}
	p := userPool(key)
	u := UserState{Key: key}
	u.Applied = d.varint()
	u.VCCUserID = d.id()
	u.Checkpoint = d.time()
	u.LastEventID = d.text(key)
	u.Snapshot = d.snapshot(u.Checkpoint, &p)
	p.add(snapshotName(&u.Snapshot))
	u.AgentID = d.pstr(&p)
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			d.failf("%d synced entries", n)
		} else {
			u.Synced = make(map[string]string, n)
			prev := ""
			for i := range n {
				k := d.sym(syncedKeyTable)
				val := d.pstr(&p)
				if d.err == nil && i > 0 && k <= prev {
					d.failf("synced key %q out of order", k)
				}
				u.Synced[k], prev = val, k
			}
		}
	}
	u.Outcome = d.sym(outcomeTable)
	u.LastError = d.pstr(&p)
	u.UpdatedAt = d.time()
	if err := d.end(); err != nil {
		return UserState{}, err
	}
	return u, nil
}

// userHead is the start of a user record: what putUser needs of the
// record it replaces.
type userHead struct {
	applied   int64
	vccUserID string
}

// peekUser reads the head of a user record without decoding the rest.
func peekUser(v []byte) (userHead, error) {
	if len(v) == 0 || v[0] != userCodec {
		return userHead{}, fmt.Errorf("unknown record format (first byte %#x, want %#x)", first(v), userCodec)
	}
	d := dec{b: v[1:]}
	h := userHead{applied: d.varint(), vccUserID: d.id()}
	return h, d.err
}

// withApplied returns the user record v with its applied count set to n.
func withApplied(v []byte, n int64) []byte {
	_, size := binary.Varint(v[1:])
	out := make([]byte, 0, len(v)+binary.MaxVarintLen64)
	out = append(out, v[0])
	out = binary.AppendVarint(out, n)
	return append(out, v[1+size:]...)
}

func first(v []byte) byte {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
