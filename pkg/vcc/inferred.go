package vcc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// The endpoints below are not documented by VCC; their paths, bodies and
// status codes are inferred (see the package documentation). Each sits
// behind one method so the real mechanism can replace it without touching
// the callers.

// ListTelephonyRegions returns the account's telephony regions, whose IDs
// appear in telephonyAddress.outboundTelephonyRegion (GET
// /telephonyRegions, reply {"telephonyRegions":[…]}; a bare array or
// "items" is accepted too). Inferred, not documented by VCC.
func (c *Client) ListTelephonyRegions(ctx context.Context) ([]TelephonyRegion, error) {
	var raw json.RawMessage
	r := &request{method: http.MethodGet, route: RouteTelephonyRegions, path: "/telephonyRegions"}
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	var out []TelephonyRegion
	if err := decodeList(raw, "telephonyRegions", &out); err != nil {
		return nil, fmt.Errorf("vcc: GET %s: decode reply: %w", RouteTelephonyRegions, err)
	}
	return out, nil
}

// ResetPassword asks VCC to send the user a password-reset email (POST
// /users/{userId}/passwordReset with no body; VCC answers 202, any 2xx is
// accepted). Inferred, not documented by VCC.
//
// It is not idempotent: every successful call sends another email, and a
// failure other than a 4xx *Error (a 5xx, a timeout, a broken connection)
// leaves the outcome unknown — the email may have been sent. So the client
// sends it again only after a 429 (VCC refused it unprocessed, within the
// retry budget) or when no token could be had (it was not sent); any other
// failure is returned at once. Callers must record their intent durably
// before calling and, finding that intent after a crash, report the
// outcome as unknown instead of calling again. A 401 is sent again once
// with a fresh token, as for every request: VCC refused that request
// before acting on it.
func (c *Client) ResetPassword(ctx context.Context, userID string) error {
	if err := requireID("ResetPassword", userID); err != nil {
		return err
	}
	r := &request{method: http.MethodPost, route: RouteUserPasswordReset, path: userPath(userID) + "/passwordReset"}
	return c.do(ctx, r, nil)
}

// ListUserCredentials returns the API credentials (OAuth clients) that
// belong to the user (GET /users/{userId}/credentials, reply
// {"credentials":[{"clientId":…}]}). Inferred, not documented by VCC.
func (c *Client) ListUserCredentials(ctx context.Context, userID string) ([]UserCredential, error) {
	var out []UserCredential
	if err := c.getList(ctx, "ListUserCredentials", RouteUserCredentials, userID, "/credentials", "credentials", &out); err != nil {
		return nil, err
	}
	return out, nil
}
