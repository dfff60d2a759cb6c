package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
)

// ContactCenters is contact-center membership: the small interface through
// which vccsync lists, adds and removes members. Client implements it with
// the standard REST API (User.CallCenterId is the membership, reference
// §4); an implementation on the Bulk API (BulkAction=AddUsers) can take
// its place for very large orgs.
type ContactCenters interface {
	// Members lists the members of a contact center.
	Members(ctx context.Context, ccID string) ([]Member, error)
	// AddMembers adds users to a contact center (moving them out of
	// another: a user is a member of one at most) and reports, per user,
	// whether Salesforce accepted it. Adding a member again succeeds.
	AddMembers(ctx context.Context, ccID string, userIDs []string) ([]AddResult, error)
	// RemoveMember removes a user from a contact center; removing a user
	// who is not a member of it succeeds and changes nothing.
	RemoveMember(ctx context.Context, ccID, userID string) error
}

// Member is a member of a contact center.
type Member struct {
	UserID string `json:"Id"`
	// Alias is the user's alias now; the telephony provider's username
	// (Alias@UserId@OrgId) keeps the one the user had when added.
	Alias string `json:"Alias"`
}

// AddResult is the outcome of adding one user.
type AddResult struct {
	UserID string // as passed to AddMembers
	OK     bool
	// Code and Message are Salesforce's refusal when not OK, e.g.
	// FIELD_INTEGRITY_EXCEPTION, INVALID_CROSS_REFERENCE_KEY; CodeNoResult
	// when the reply had no result for the user. Several errors for one
	// user are joined with "; " (Code is the first).
	Code    string
	Message string
}

// ContactCenter returns the name of contact center ccID (04v…). An unknown
// one is an *Error matching ErrNotFound.
func (c *Client) ContactCenter(ctx context.Context, ccID string) (string, error) {
	if err := restCheckContactCenterID(ccID); err != nil {
		return "", err
	}
	var rep struct {
		Name string `json:"Name"`
	}
	err := c.do(ctx, &restRequest{method: http.MethodGet, route: RouteCallCenter, path: c.dataPath("sobjects", "CallCenter", ccID)}, &rep)
	return rep.Name, err
}

// Members lists the members of contact center ccID (04v…), the users whose
// CallCenterId it is, in Id order. An unknown contact center is an *Error
// matching ErrNotFound (it is read first).
func (c *Client) Members(ctx context.Context, ccID string) ([]Member, error) {
	if _, err := c.ContactCenter(ctx, ccID); err != nil {
		return nil, err
	}
	key, _ := events.NormalizeID(ccID)
	soql := "SELECT Id, Alias, CallCenterId FROM User WHERE CallCenterId = '" + key + "' ORDER BY Id"
	members := []Member{}
	err := c.query(ctx, soql, func(u events.User) error {
		members = append(members, Member{UserID: u.ID, Alias: u.Alias.Get()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return members, nil
}

// restRecordResult is one record's result of an sObject Collections call.
type restRecordResult struct {
	ID      *string `json:"id"`
	Success bool    `json:"success"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

// AddMembers adds users to contact center ccID by setting their
// CallCenterId, MaxAddMembers per sObject Collections update (allOrNone
// false: each user succeeds or fails alone). Every ID is checked before any
// request; repeats are sent once. The results follow the order of userIDs
// (without repeats), one per user. When a request fails as a whole, the
// results of the requests before it are returned with the error.
func (c *Client) AddMembers(ctx context.Context, ccID string, userIDs []string) ([]AddResult, error) {
	if err := restCheckContactCenterID(ccID); err != nil {
		return nil, err
	}
	cc, _ := events.NormalizeID(ccID)
	var todo []string
	seen := make(map[string]bool, len(userIDs))
	for i, id := range userIDs {
		if err := restCheckUserID(fmt.Sprintf("userIDs[%d]", i), id); err != nil {
			return nil, err
		}
		k, _ := events.NormalizeID(id)
		if !seen[k] {
			seen[k] = true
			todo = append(todo, id)
		}
	}
	results := make([]AddResult, 0, len(todo))
	for start := 0; start < len(todo); start += MaxAddMembers {
		batch := todo[start:min(start+MaxAddMembers, len(todo))]
		records := make([]map[string]any, len(batch))
		for i, id := range batch {
			records[i] = map[string]any{"attributes": map[string]string{"type": "User"}, "id": id, "CallCenterId": cc}
		}
		var rep []restRecordResult
		err := c.do(ctx, &restRequest{
			method: http.MethodPatch,
			route:  RouteComposite,
			path:   c.dataPath("composite", "sobjects"),
			body:   map[string]any{"allOrNone": false, "records": records},
		}, &rep)
		if err != nil {
			return results, err
		}
		for i, id := range batch {
			res := AddResult{UserID: id, Code: CodeNoResult, Message: "the reply has no result for this user"}
			if i < len(rep) {
				res = restAddResult(id, rep[i])
			}
			results = append(results, res)
		}
	}
	return results, nil
}

// restAddResult reads one record's result; results come in request order.
func restAddResult(id string, r restRecordResult) AddResult {
	res := AddResult{UserID: id, OK: r.Success}
	if r.Success {
		return res
	}
	if len(r.Errors) == 0 {
		res.Code, res.Message = "UNKNOWN_ERROR", "refused without a reason"
		return res
	}
	msgs := make([]string, 0, len(r.Errors))
	for i, e := range r.Errors {
		m := e.Message
		if len(e.Fields) > 0 {
			m += " (" + strings.Join(e.Fields, ", ") + ")"
		}
		if i > 0 && e.StatusCode != "" {
			m = e.StatusCode + ": " + m
		}
		msgs = append(msgs, m)
	}
	res.Code, res.Message = restExcerpt(r.Errors[0].StatusCode), restExcerpt(strings.Join(msgs, "; "))
	return res
}

// RemoveMember removes user userID from contact center ccID by clearing
// their CallCenterId. The user is read first: one who is not a member of
// ccID (of none, or moved to another since) is left as is and the call
// succeeds. An unknown user is an *Error matching ErrNotFound.
func (c *Client) RemoveMember(ctx context.Context, ccID, userID string) error {
	if err := restCheckContactCenterID(ccID); err != nil {
		return err
	}
	if err := restCheckUserID("user ID", userID); err != nil {
		return err
	}
	var cur struct {
		CallCenterID *string `json:"CallCenterId"`
	}
	err := c.do(ctx, &restRequest{
		method: http.MethodGet, route: RouteUser, path: c.dataPath("sobjects", "User", userID) + "?fields=Id,CallCenterId",
	}, &cur)
	if err != nil {
		return err
	}
	cc, _ := events.NormalizeID(ccID)
	if cur.CallCenterID == nil {
		return nil
	}
	if now, err := events.NormalizeID(*cur.CallCenterID); err != nil || now != cc {
		return nil
	}
	return c.do(ctx, &restRequest{
		method: http.MethodPatch,
		route:  RouteUser,
		path:   c.dataPath("sobjects", "User", userID),
		body:   map[string]any{"CallCenterId": nil},
	}, nil)
}

// restCheckContactCenterID checks a contact center (CallCenter) ID before it
// goes into a path or a query.
func restCheckContactCenterID(id string) error {
	if _, err := events.NormalizeID(id); err != nil {
		return fmt.Errorf("salesforce: contact center ID: %v", err)
	}
	if !strings.HasPrefix(id, "04v") {
		return fmt.Errorf("salesforce: contact center ID %q: not a CallCenter ID (04v…, 15 or 18 characters)", id)
	}
	return nil
}
