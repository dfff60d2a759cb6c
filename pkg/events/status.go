package events

import "time"

// The operators' status service (a NATS micro service, "vccsync"): a
// request carries a Salesforce user ID, the reply is JSON.
const (
	ServiceName    = "vccsync"
	StatusSubject  = "vccsync.svc.status"  // reply: UserStatus
	HistorySubject = "vccsync.svc.history" // reply: []HistoryItem, newest first
)

// UserStatus is what vccsync knows of one Salesforce user.
type UserStatus struct {
	UserID string `json:"userId"`
	// Known is false when vccsync has never applied an event of the user.
	Known         bool       `json:"known"`
	VCCUserID     string     `json:"vccUserId,omitempty"`
	AgentID       string     `json:"agentId,omitempty"`
	Checkpoint    *time.Time `json:"checkpoint,omitempty"` // last applied Salesforce timestamp
	ContactCenter string     `json:"contactCenter,omitempty"`
	Alias         string     `json:"alias,omitempty"`
	Active        *bool      `json:"active,omitempty"`
	LastEventID   string     `json:"lastEventId,omitempty"`
	LastOutcome   string     `json:"lastOutcome,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	UpdatedAt     *time.Time `json:"updatedAt,omitempty"`
	Applied       int64      `json:"applied"`
	// PendingSteps are multi-step changes in progress (a crash between
	// steps resumes them on the user's next event).
	PendingSteps []PendingStep `json:"pendingSteps,omitempty"`
	Worker       WorkerStatus  `json:"worker"`
}

// PendingStep is a saga step in progress.
type PendingStep struct {
	Saga string    `json:"saga"`
	Step string    `json:"step"`
	Data string    `json:"data,omitempty"`
	At   time.Time `json:"at"`
}

// WorkerStatus is the state of the worker that answered.
type WorkerStatus struct {
	Consuming   bool       `json:"consuming"`
	Quarantined bool       `json:"quarantined"`
	Reason      string     `json:"reason,omitempty"`
	Since       *time.Time `json:"since,omitempty"`
}

// HistoryItem is one thing vccsync did for a user.
type HistoryItem struct {
	At          time.Time     `json:"at"`
	EventID     string        `json:"eventId"`
	Type        string        `json:"type"`
	Action      string        `json:"action,omitempty"`
	RequestedBy string        `json:"requestedBy,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	Outcome     string        `json:"outcome"`
	Changes     []FieldChange `json:"changes,omitempty"`
	Error       string        `json:"error,omitempty"`
	// ErrorClass is the dead-letter class of a failed event (ClassPoison,
	// ClassPermanent, ClassExhausted); "" when it did not fail or the
	// worker did not record it.
	ErrorClass string `json:"errorClass,omitempty"`
}

// FieldChange is a field changed, old → new.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// StatusRequest is the body of a status or history request. A bare user ID
// is accepted too.
type StatusRequest struct {
	UserID string `json:"userId"`
	Limit  int    `json:"limit,omitempty"` // history entries, newest first; 0: all kept
}

// PlanSubject is the status service's endpoint that plans a snapshot
// without writing anything (publisher sync --dry-run).
const PlanSubject = "vccsync.svc.plan"

// PlanRequest asks what applying a Salesforce snapshot would do.
type PlanRequest struct {
	User User `json:"user"`
}

// PlanReply is what applying the snapshot would do: the outcome, the VCC
// user it matches, the fields it would change and the calls it would make.
type PlanReply struct {
	UserID    string        `json:"userId"`
	Outcome   string        `json:"outcome"`
	VCCUserID string        `json:"vccUserId,omitempty"`
	Changes   []FieldChange `json:"changes,omitempty"`
	Writes    []string      `json:"writes,omitempty"` // e.g. "POST /users", "PUT /users/{userId}/skills"
	Note      string        `json:"note,omitempty"`
	Error     string        `json:"error,omitempty"` // the refusal applying it would meet
}
