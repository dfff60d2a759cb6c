package events

import (
	"errors"
	"fmt"
)

// ErrNotUserID is wrapped by errors about malformed Salesforce user IDs.
var ErrNotUserID = errors.New("not a Salesforce user ID (005…, 15 or 18 characters)")

const idSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// NormalizeID returns the 18-character form of a 15- or 18-character
// Salesforce ID. It checks the characters and, for the 18-character form,
// the case-checksum suffix.
func NormalizeID(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if len(id) == 18 {
		return id, nil // as checked: no copy
	}
	sum := checksum(id)
	return id + string(sum[:]), nil
}

// checkID checks what NormalizeID checks, without building the result:
// it runs for every message, on its subject and body.
func checkID(id string) error {
	if len(id) != 15 && len(id) != 18 {
		return fmt.Errorf("%q has %d characters, want 15 or 18", id, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%q has character %q at %d, want letters and digits only", id, c, i)
		}
	}
	if sum := checksum(id); len(id) == 18 && id[15:] != string(sum[:]) {
		return fmt.Errorf("%q has checksum suffix %q, want %q", id, id[15:], string(sum[:]))
	}
	return nil
}

// checksum computes the 3-character suffix that encodes the case of the
// first 15 characters of an ID (5 characters per suffix character,
// uppercase bits).
func checksum(id string) [3]byte {
	var out [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		bits := 0
		for j := 0; j < 5; j++ {
			c := id[chunk*5+j]
			if c >= 'A' && c <= 'Z' {
				bits |= 1 << j
			}
		}
		out[chunk] = idSuffixAlphabet[bits]
	}
	return out
}

// checkUserID reports whether id is a Salesforce user ID (key prefix 005).
func checkUserID(id string) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("%w: %v", ErrNotUserID, err)
	}
	if id[:3] != "005" {
		return fmt.Errorf("%w: %q has key prefix %q", ErrNotUserID, id, id[:3])
	}
	return nil
}

// UserKey returns the canonical (18-character) key of a Salesforce user ID,
// or an error wrapping ErrNotUserID.
func UserKey(id string) (string, error) {
	if err := checkUserID(id); err != nil {
		return "", err
	}
	return NormalizeID(id)
}
