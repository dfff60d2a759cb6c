package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vccsync/vccsync/pkg/events"
)

// restUserFields are the User fields the client reads: those of
// events.User.
var restUserFields = []string{
	"Id", "Username", "Alias", "Email", "FirstName", "LastName", "IsActive",
	"FederationIdentifier", "ProfileId", "CallCenterId", events.AgentIDField,
	"LastModifiedDate", "SystemModstamp",
}

// restOptionalFields are the User fields vccsync can do without when the
// API user cannot read them: the snapshots then leave them unknown.
// VCC's managed-package field is readable only with the package's
// permission set.
var restOptionalFields = []string{"FirstName", "FederationIdentifier", "CallCenterId", events.AgentIDField}

// GetUser reads one user. A field present in the record is Set (JSON null
// → Null); a field the record lacks is left unset. An unknown user is an
// *Error matching ErrNotFound.
func (c *Client) GetUser(ctx context.Context, id string) (events.User, error) {
	if err := restCheckUserID("user ID", id); err != nil {
		return events.User{}, err
	}
	var raw json.RawMessage
	err := c.do(ctx, &restRequest{
		method: http.MethodGet,
		route:  RouteUser,
		path:   c.dataPath("sobjects", "User", id),
	}, &raw)
	if err != nil {
		return events.User{}, err
	}
	u, err := restDecodeUser(raw)
	if err != nil {
		return events.User{}, fmt.Errorf("salesforce: GET %s: %w", RouteUser, err)
	}
	return u, nil
}

// QueryUsers reads the users with the given IDs (15 or 18 characters),
// MaxQueryIDs per SOQL query, following nextRecordsUrl. IDs are checked
// before any request and repeats are read once. Users Salesforce does not
// know are left out of the result. On an error no users are returned.
func (c *Client) QueryUsers(ctx context.Context, ids []string) ([]events.User, error) {
	keys := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := restCheckUserID(fmt.Sprintf("ids[%d]", i), id); err != nil {
			return nil, err
		}
		k, _ := events.NormalizeID(id)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var users []events.User
	for start := 0; start < len(keys); start += MaxQueryIDs {
		batch := keys[start:min(start+MaxQueryIDs, len(keys))]
		err := c.queryUsers(ctx, " WHERE Id IN ('"+strings.Join(batch, "','")+"')", func(u events.User) error {
			users = append(users, u)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

// ForEachUser calls fn for every user of the org, in Id order, page by page.
// It stops at the first error fn returns and returns that error as is.
func (c *Client) ForEachUser(ctx context.Context, fn func(events.User) error) error {
	return c.queryUsers(ctx, " ORDER BY Id", fn)
}

// SetAlias changes a user's alias. The alias is checked first (1 to 8
// characters of [A-Za-z0-9_.-]); a bad one is an error wrapping
// ErrInvalidAlias and nothing is sent.
func (c *Client) SetAlias(ctx context.Context, userID, alias string) error {
	if err := restCheckUserID("user ID", userID); err != nil {
		return err
	}
	if err := CheckAlias(alias); err != nil {
		return err
	}
	return c.do(ctx, &restRequest{
		method: http.MethodPatch,
		route:  RouteUser,
		path:   c.dataPath("sobjects", "User", userID),
		body:   map[string]string{"Alias": alias},
	}, nil)
}

// CheckAlias reports whether alias can be a contact-center member's alias:
// 1 to 8 characters of [A-Za-z0-9_.-]. The error wraps ErrInvalidAlias.
func CheckAlias(alias string) error {
	if alias == "" {
		return fmt.Errorf("%w: empty", ErrInvalidAlias)
	}
	for i, r := range alias {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("%w: %q has %q at byte %d", ErrInvalidAlias, alias, r, i)
		}
	}
	if len(alias) > 8 {
		return fmt.Errorf("%w: %q has %d characters", ErrInvalidAlias, alias, len(alias))
	}
	return nil
}

// queryUsers runs SELECT <the user fields> FROM User<suffix>. A query
// refused with INVALID_FIELD before LimitUserFields ran (a field the API
// user cannot read: the query fails whole, on its first page) runs
// LimitUserFields and, when it left optional fields out, once more without
// them; Config.HiddenFields hears of them.
func (c *Client) queryUsers(ctx context.Context, suffix string, fn func(events.User) error) error {
	err := c.query(ctx, c.selectUsers()+suffix, fn)
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != "INVALID_FIELD" || c.fields.Load() != nil {
		return err
	}
	hidden, lerr := c.LimitUserFields(ctx)
	if lerr != nil || len(hidden) == 0 {
		return err
	}
	if c.hiddenFields != nil {
		c.hiddenFields(hidden)
	}
	return c.query(ctx, c.selectUsers()+suffix, fn)
}

func (c *Client) selectUsers() string {
	fields := restUserFields
	if f := c.fields.Load(); f != nil {
		fields = *f
	}
	return "SELECT " + strings.Join(fields, ", ") + " FROM User"
}

// restQueryPage is one page of a query reply.
type restQueryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// query runs a SOQL query over users and calls fn for each record, page by
// page, following nextRecordsUrl.
func (c *Client) query(ctx context.Context, soql string, fn func(events.User) error) error {
	r := &restRequest{
		method: http.MethodGet,
		route:  RouteQuery,
		path:   c.dataPath("query"),
		query:  url.Values{"q": {soql}},
	}
	visited := map[string]bool{}
	for {
		var page restQueryPage
		if err := c.do(ctx, r, &page); err != nil {
			return err
		}
		for i, rec := range page.Records {
			u, err := restDecodeUser(rec)
			if err != nil {
				return fmt.Errorf("salesforce: GET %s: records[%d]: %w", r.route, i, err)
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		if page.Done {
			return nil
		}
		next := page.NextRecordsURL
		if err := c.checkNextRecordsURL(next); err != nil {
			return fmt.Errorf("salesforce: GET %s: %w", r.route, err)
		}
		if visited[next] {
			return fmt.Errorf("salesforce: GET %s: nextRecordsUrl %q repeats a page already read", r.route, next)
		}
		visited[next] = true
		r = &restRequest{method: http.MethodGet, route: RouteQueryMore, path: next}
	}
}

// checkNextRecordsURL accepts only a path of this API version's query
// resource, so the session is never sent elsewhere.
func (c *Client) checkNextRecordsURL(next string) error {
	if next == "" {
		return fmt.Errorf("reply is not done but has no nextRecordsUrl")
	}
	prefix := c.dataPath("query") + "/"
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Fragment != "" ||
		!strings.HasPrefix(next, prefix) || len(next) == len(prefix) || strings.Contains(next, "..") {
		return fmt.Errorf("nextRecordsUrl %q: want a path under %s", next, prefix)
	}
	return nil
}

// restCheckUserID checks a Salesforce user ID before it goes into a path or
// a query; the error wraps events.ErrNotUserID.
func restCheckUserID(what, id string) error {
	if _, err := events.UserKey(id); err != nil {
		return fmt.Errorf("salesforce: %s: %w", what, err)
	}
	return nil
}

// restDecodeUser decodes a User record of the REST API into events.User:
// a field present in the record is Set (null → Null), a field absent is
// left unset, "attributes" and fields vccsync does not use are ignored.
func restDecodeUser(raw json.RawMessage) (events.User, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return events.User{}, fmt.Errorf("decode User record: %w", err)
	}
	if rec == nil {
		return events.User{}, fmt.Errorf("decode User record: null")
	}
	var u events.User
	idRaw, ok := rec["Id"]
	if !ok || restIsNull(idRaw) {
		return events.User{}, fmt.Errorf("User record has no Id")
	}
	if err := json.Unmarshal(idRaw, &u.ID); err != nil || u.ID == "" {
		return events.User{}, fmt.Errorf("User record: Id %s: want a non-empty string", idRaw)
	}
	var errs []string
	str := func(name string, f *events.Field[string], numeric bool) {
		v, ok := rec[name]
		if !ok {
			return
		}
		r, err := restStringField(v, numeric)
		if err != nil {
			errs = append(errs, name+": "+err.Error())
			return
		}
		*f = r
	}
	str("Username", &u.Username, false)
	str("Alias", &u.Alias, false)
	str("Email", &u.Email, false)
	str("FirstName", &u.FirstName, false)
	str("LastName", &u.LastName, false)
	str("FederationIdentifier", &u.FederationIdentifier, false)
	str("ProfileId", &u.ProfileID, false)
	str("CallCenterId", &u.CallCenterID, false)
	str(events.AgentIDField, &u.AgentID, true)
	if v, ok := rec["IsActive"]; ok {
		if restIsNull(v) {
			u.IsActive = events.Null[bool]()
		} else {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				errs = append(errs, fmt.Sprintf("IsActive: %s is not a boolean", restExcerpt(string(v))))
			} else {
				u.IsActive = events.Val(b)
			}
		}
	}
	for _, tf := range []struct {
		name string
		f    *events.Field[events.Time]
	}{{"LastModifiedDate", &u.LastModifiedDate}, {"SystemModstamp", &u.SystemModstamp}} {
		v, ok := rec[tf.name]
		if !ok {
			continue
		}
		t, err := restTimeField(v)
		if err != nil {
			errs = append(errs, tf.name+": "+err.Error())
			continue
		}
		*tf.f = t
	}
	if len(errs) > 0 {
		return events.User{}, fmt.Errorf("User %s: %s", u.ID, strings.Join(errs, "; "))
	}
	return u, nil
}

func restIsNull(v json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// restStringField decodes a text field; numeric also accepts a JSON number
// (a Number field such as an agent ID), written without a fraction when it
// is whole.
func restStringField(v json.RawMessage, numeric bool) (events.Field[string], error) {
	if restIsNull(v) {
		return events.Null[string](), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return events.Val(s), nil
	}
	if numeric {
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			if f, err := strconv.ParseFloat(n.String(), 64); err == nil && f == float64(int64(f)) {
				return events.Val(strconv.FormatInt(int64(f), 10)), nil
			}
			return events.Val(n.String()), nil
		}
	}
	return events.Field[string]{}, fmt.Errorf("%s is not a string", restExcerpt(string(v)))
}

// restTimeField decodes a datetime: Salesforce's "2024-04-26T18:25:03.000+0000"
// (or another form events.ParseTime reads), or epoch milliseconds.
func restTimeField(v json.RawMessage) (events.Field[events.Time], error) {
	if restIsNull(v) {
		return events.Null[events.Time](), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		t, err := events.ParseTime(strings.TrimSpace(s))
		if err != nil {
			return events.Field[events.Time]{}, err
		}
		return events.Val(t), nil
	}
	var ms int64
	if err := json.Unmarshal(v, &ms); err == nil {
		return events.Val(events.Time{Time: time.UnixMilli(ms).UTC()}), nil
	}
	return events.Field[events.Time]{}, fmt.Errorf("%s is neither a datetime string nor epoch milliseconds", restExcerpt(string(v)))
}

// LimitUserFields asks Salesforce which User fields the API user can read
// (the User describe) and leaves the unreadable optional ones
// (FirstName, FederationIdentifier, CallCenterId, the NVM agent id) out of
// every later query, so that a query does not fail whole (INVALID_FIELD)
// for want of them; users then carry those fields unknown. It returns the
// fields left out. A required field that cannot be read (Id, Username,
// Alias, Email, LastName, IsActive, ProfileId, LastModifiedDate,
// SystemModstamp) is an error naming it, and nothing changes.
func (c *Client) LimitUserFields(ctx context.Context) (hidden []string, err error) {
	var d struct {
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := c.do(ctx, &restRequest{method: http.MethodGet, route: RouteDescribe, path: c.dataPath("sobjects", "User", "describe")}, &d); err != nil {
		return nil, err
	}
	readable := map[string]bool{}
	for _, f := range d.Fields {
		readable[strings.ToLower(f.Name)] = true
	}
	var fields, missing []string
	for _, f := range restUserFields {
		switch {
		case readable[strings.ToLower(f)]:
			fields = append(fields, f)
		case slices.Contains(restOptionalFields, f):
			hidden = append(hidden, f)
		default:
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return hidden, fmt.Errorf("salesforce: the API user cannot read User field(s) %s, which vccsync needs: grant read access in its profile or a permission set", strings.Join(missing, ", "))
	}
	c.fields.Store(&fields)
	return hidden, nil
}

// CheckUserFields reads the User fields the API user can read
// (LimitUserFields, so later queries leave out the optional ones it
// cannot) and runs a query of them; it returns the optional fields left
// out.
func (c *Client) CheckUserFields(ctx context.Context) ([]string, error) {
	hidden, err := c.LimitUserFields(ctx)
	if err != nil {
		return hidden, err
	}
	_, err = c.QueryUsers(ctx, []string{"005000000000000"})
	return hidden, err
}
