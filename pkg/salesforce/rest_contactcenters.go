package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vccsync/vccsync/pkg/events"
)

// ContactCenters is contact-center membership: the small interface through
// which vccsync adds and removes members, so the mechanism (here an Apex
// REST resource the org deploys) can be swapped.
type ContactCenters interface {
	// Members lists the members of a contact center.
	Members(ctx context.Context, ccID string) ([]Member, error)
	// AddMembers adds users to a contact center and reports, per user,
	// whether Salesforce accepted it. Adding a member again succeeds.
	AddMembers(ctx context.Context, ccID string, userIDs []string) ([]AddResult, error)
	// RemoveMember removes a user from a contact center; removing a user
	// who is not a member succeeds.
	RemoveMember(ctx context.Context, ccID, userID string) error
}

// Member is a member of a contact center.
type Member struct {
	UserID string `json:"userId"`
	// TelephonyUsername is the telephony provider's username,
	// Alias@UserId@OrgId as computed when the user was added.
	TelephonyUsername string `json:"telephonyUsername"`
}

// AddResult is the outcome of adding one user.
type AddResult struct {
	UserID string // as passed to AddMembers
	OK     bool
	// Code and Message are Salesforce's refusal when not OK, e.g.
	// NO_CONTACT_CENTER_PERMISSION, ALREADY_IN_CONTACT_CENTER, INVALID_ALIAS,
	// INACTIVE_USER; CodeNoResult when the reply had no result for the user.
	// Several errors for one user are joined with "; " (Code is the first).
	Code    string
	Message string
}

// Members lists the members of contact center ccID (04v…). An unknown
// contact center is an *Error matching ErrNotFound.
func (c *Client) Members(ctx context.Context, ccID string) ([]Member, error) {
	if err := restCheckContactCenterID(ccID); err != nil {
		return nil, err
	}
	var rep struct {
		Members *[]Member `json:"members"`
	}
	err := c.do(ctx, &restRequest{
		method: http.MethodGet,
		route:  RouteMembers,
		path:   restMembersPath(ccID),
	}, &rep)
	if err != nil {
		return nil, err
	}
	if rep.Members == nil {
		return nil, fmt.Errorf("salesforce: GET %s: no members in the reply", RouteMembers)
	}
	return *rep.Members, nil
}

// restAddReply is the reply of an add request.
type restAddReply struct {
	Results *[]struct {
		UserID  string          `json:"userId"`
		Success bool            `json:"success"`
		Errors  []restErrorItem `json:"errors"`
	} `json:"results"`
}

// AddMembers adds users to contact center ccID, MaxAddMembers per request.
// Every ID is checked before any request; repeats are sent once. The
// results follow the order of userIDs (without repeats), one per user.
// When a request fails as a whole, the results of the requests before it
// are returned with the error.
func (c *Client) AddMembers(ctx context.Context, ccID string, userIDs []string) ([]AddResult, error) {
	if err := restCheckContactCenterID(ccID); err != nil {
		return nil, err
	}
	type entry struct{ id, key string }
	var todo []entry
	seen := make(map[string]bool, len(userIDs))
	for i, id := range userIDs {
		if err := restCheckUserID(fmt.Sprintf("userIDs[%d]", i), id); err != nil {
			return nil, err
		}
		k, _ := events.NormalizeID(id)
		if !seen[k] {
			seen[k] = true
			todo = append(todo, entry{id, k})
		}
	}
	results := make([]AddResult, 0, len(todo))
	for start := 0; start < len(todo); start += MaxAddMembers {
		batch := todo[start:min(start+MaxAddMembers, len(todo))]
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.id
		}
		var rep restAddReply
		err := c.do(ctx, &restRequest{
			method: http.MethodPost,
			route:  RouteMembers,
			path:   restMembersPath(ccID),
			body:   map[string][]string{"userIds": ids},
		}, &rep)
		if err != nil {
			return results, err
		}
		if rep.Results == nil {
			return results, fmt.Errorf("salesforce: POST %s: no results in the reply", RouteMembers)
		}
		byKey := make(map[string]AddResult, len(*rep.Results))
		for _, r := range *rep.Results {
			k, err := events.NormalizeID(r.UserID)
			if err != nil {
				continue
			}
			res := AddResult{OK: r.Success}
			if !r.Success {
				res.Code, res.Message = restAddRefusal(r.Errors)
			}
			byKey[k] = res
		}
		for _, e := range batch {
			res, ok := byKey[e.key]
			if !ok {
				res = AddResult{Code: CodeNoResult, Message: "the reply has no result for this user"}
			}
			res.UserID = e.id
			results = append(results, res)
		}
	}
	return results, nil
}

// restAddRefusal condenses a user's errors into a code and a message.
func restAddRefusal(errs []restErrorItem) (code, message string) {
	if len(errs) == 0 {
		return "UNKNOWN_ERROR", "refused without a reason"
	}
	msgs := make([]string, 0, len(errs))
	for i, e := range errs {
		switch {
		case i == 0:
			msgs = append(msgs, e.Message)
		case e.ErrorCode != "":
			msgs = append(msgs, e.ErrorCode+": "+e.Message)
		default:
			msgs = append(msgs, e.Message)
		}
	}
	return restExcerpt(errs[0].ErrorCode), restExcerpt(strings.Join(msgs, "; "))
}

// RemoveMember removes user userID from contact center ccID. Removing a
// user who is not a member succeeds; an unknown contact center is an
// *Error matching ErrNotFound.
func (c *Client) RemoveMember(ctx context.Context, ccID, userID string) error {
	if err := restCheckContactCenterID(ccID); err != nil {
		return err
	}
	if err := restCheckUserID("user ID", userID); err != nil {
		return err
	}
	return c.do(ctx, &restRequest{
		method: http.MethodDelete,
		route:  RouteMember,
		path:   restMembersPath(ccID) + "/" + url.PathEscape(userID),
	}, nil)
}

func restMembersPath(ccID string) string {
	return "/services/apexrest/vccsync/contactcenters/" + url.PathEscape(ccID) + "/members"
}

// restCheckContactCenterID checks a contact center (CallCenter) ID before it
// goes into a path.
func restCheckContactCenterID(id string) error {
	if _, err := events.NormalizeID(id); err != nil {
		return fmt.Errorf("salesforce: contact center ID: %v", err)
	}
	if !strings.HasPrefix(id, "04v") {
		return fmt.Errorf("salesforce: contact center ID %q: not a CallCenter ID (04v…, 15 or 18 characters)", id)
	}
	return nil
}
