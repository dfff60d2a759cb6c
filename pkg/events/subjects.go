package events

import (
	"fmt"
	"strings"
)

// Streams, subjects and headers of the wire contract.
const (
	// Stream holds Salesforce user events and admin commands.
	Stream = "VCCSYNC"
	// DLQStream holds dead-lettered messages.
	DLQStream = "VCCSYNC_DLQ"

	// SubjectPrefix starts every user subject: vccsync.user.<SalesforceUserId>.…
	SubjectPrefix = "vccsync.user."
	// SubjectAll matches every user subject.
	SubjectAll = "vccsync.user.>"
	// AccessPrefix starts the subject of a change to a user's access (see
	// User.ChangesAccess): vccsync.access.<SalesforceUserId>. Outside
	// SubjectAll, so that a consumer of their own takes them ahead of a
	// backlog of the others while the main consumer keeps its one filter.
	AccessPrefix = "vccsync.access."
	// SubjectAccessAll matches every access-change subject.
	SubjectAccessAll = "vccsync.access.>"
	// DLQSubjectPrefix starts every dead-letter subject.
	DLQSubjectPrefix = "vccsync.dlq."
	// DLQSubjectAll matches every dead-letter subject.
	DLQSubjectAll = "vccsync.dlq.>"

	// UserIDToken is the 1-based token of a subject that holds the
	// Salesforce user ID (for partition(n, 3)).
	UserIDToken = 3
)

// Headers of the dead-letter format, every one in this one place: the
// worker writes them and pkg/dlq reads them. A dead-lettered message keeps
// the original body and headers and gets these. Their values are part of
// the stored format: changing one makes the dead letters already stored
// unreadable.
const (
	// HeaderMsgID is NATS's message id (the CloudEvents id when published).
	HeaderMsgID = "Nats-Msg-Id"

	// HeaderError is the error that dead-lettered the message.
	HeaderError = "Vccsync-Error"
	// HeaderErrorClass is ClassPoison, ClassPermanent or ClassExhausted.
	HeaderErrorClass = "Vccsync-Error-Class"
	// HeaderOriginalSubject is the subject the message failed on.
	HeaderOriginalSubject = "Vccsync-Original-Subject"
	// HeaderOriginalSequence is its sequence in Stream.
	HeaderOriginalSequence = "Vccsync-Original-Seq"
	// HeaderDeliveries is how many times it was delivered.
	HeaderDeliveries = "Vccsync-Deliveries"
	// HeaderFailedAt is when it was dead-lettered (RFC 3339, UTC).
	HeaderFailedAt = "Vccsync-Failed-At"
	// HeaderOriginalMsgID keeps the original Nats-Msg-Id of a
	// dead-lettered message; the DLQ copy gets its own id (original id and
	// stream sequence), so a message dead-lettered again after a replay is
	// not swallowed by the DLQ stream's duplicate window, and a crash
	// between the DLQ publish and the ack does not store it twice.
	HeaderOriginalMsgID = "Vccsync-Original-Msg-Id"
	// HeaderPreviousError holds, one value each, "class: error" of the
	// earlier failures of a message dead-lettered again after a replay.
	HeaderPreviousError = "Vccsync-Previous-Error"

	// HeaderReplays counts the replays of a message (a DLQ replay sets
	// it). It travels with the replayed message, and back to the DLQ with
	// it when it fails again.
	HeaderReplays = "Vccsync-Replays"
	// HeaderReplayedFrom is the DLQ sequence a replay was made from.
	HeaderReplayedFrom = "Vccsync-Replayed-From"
)

// Error classes written to HeaderErrorClass.
const (
	ClassPoison    = "poison"
	ClassPermanent = "permanent"
	ClassExhausted = "exhausted"
)

// SubjectKind says what a user subject carries.
type SubjectKind int

// Subject kinds.
const (
	KindChanged SubjectKind = iota + 1
	KindCommand
)

// UserChangedSubject is the subject of a salesforce.user.changed event.
func UserChangedSubject(userID string) string {
	return SubjectPrefix + userID + ".changed"
}

// UserPrioritySubject is the subject of a salesforce.user.changed event
// that changes the user's access (User.ChangesAccess): a deactivation, or a
// reactivation that reverts one. The worker takes these on a consumer of
// their own, ahead of a backlog of other changes.
func UserPrioritySubject(userID string) string {
	return AccessPrefix + userID
}

// CommandSubject is the subject of an admin command for a user.
func CommandSubject(userID, action string) string {
	return SubjectPrefix + userID + ".cmd." + action
}

// DLQSubject maps an original subject to its dead-letter subject:
// vccsync.user.X.changed → vccsync.dlq.user.X.changed.
func DLQSubject(original string) string {
	return DLQSubjectPrefix + strings.TrimPrefix(original, "vccsync.")
}

// ParsedSubject is a user subject taken apart.
type ParsedSubject struct {
	UserID   string // as it appears in the subject
	Kind     SubjectKind
	Action   string // for KindCommand
	Priority bool   // a KindChanged on the access-change subject
}

// ParseSubject takes a user subject apart and checks its shape.
func ParseSubject(subject string) (ParsedSubject, error) {
	if id, ok := strings.CutPrefix(subject, AccessPrefix); ok && !strings.Contains(id, ".") {
		if err := checkUserID(id); err != nil {
			return ParsedSubject{}, fmt.Errorf("subject %q: user token: %w", subject, err)
		}
		return ParsedSubject{UserID: id, Kind: KindChanged, Priority: true}, nil
	}
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return ParsedSubject{}, fmt.Errorf("subject %q: does not start with %q", subject, SubjectPrefix)
	}
	// Cut rather than Split: this runs for every message, twice.
	id, kind, _ := strings.Cut(rest, ".")
	kind, action, isCmd := strings.Cut(kind, ".")
	switch {
	case !isCmd && kind == "changed":
		if err := checkUserID(id); err != nil {
			return ParsedSubject{}, fmt.Errorf("subject %q: user token: %w", subject, err)
		}
		return ParsedSubject{UserID: id, Kind: KindChanged}, nil
	case isCmd && kind == "cmd" && !strings.Contains(action, ".") && checkAction(action) == nil:
		if err := checkUserID(id); err != nil {
			return ParsedSubject{}, fmt.Errorf("subject %q: user token: %w", subject, err)
		}
		return ParsedSubject{UserID: id, Kind: KindCommand, Action: action}, nil
	}
	return ParsedSubject{}, fmt.Errorf("subject %q: want vccsync.user.<SalesforceUserId>.changed, vccsync.user.<SalesforceUserId>.cmd.<action> or vccsync.access.<SalesforceUserId>", subject)
}

// checkAction reports whether an admin command's action can be a subject
// token: letters, digits, '-' and '_' (no '.', wildcards or spaces).
func checkAction(action string) error {
	if action == "" {
		return fmt.Errorf("names no action")
	}
	for _, c := range action {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("action %q has %q: actions are letters, digits, '-' and '_'", action, c)
		}
	}
	return nil
}
