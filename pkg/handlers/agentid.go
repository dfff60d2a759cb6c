package handlers

import (
	"context"
	"errors"
	"fmt"
)

// ErrAgentIDTaken must be wrapped by an AgentIDs implementation's
// ClaimAgentID when another Salesforce user holds the agent ID.
var ErrAgentIDTaken = errors.New("agent ID held by another Salesforce user")

// agentID returns the agent ID for a new VCC user: Salesforce's NVM Agent Id
// when it has one (claimed so no other user is given it), else the next
// free ID from the starting ID, skipping IDs in use in VCC (active and
// archived, as the user index lists them: no call per create) and IDs
// reserved for other users.
func (h *Handler) agentID(ctx context.Context, key, fromSalesforce string) (string, error) {
	if fromSalesforce != "" {
		if err := h.ids.ClaimAgentID(key, fromSalesforce); err != nil {
			if errors.Is(err, ErrAgentIDTaken) {
				return "", permanent("NVM Agent Id %s of Salesforce user %s is already the agent ID of another user: %v", fromSalesforce, key, err)
			}
			return "", fmt.Errorf("claim agent ID %s: %w", fromSalesforce, err)
		}
		return fromSalesforce, nil
	}
	if err := h.idx.ready(ctx); err != nil {
		return "", fmt.Errorf("agent IDs in use: %w", err)
	}
	id, err := h.ids.ReserveAgentID(key, h.m.AgentIDStart, h.idx.agentIDInUse)
	if err != nil {
		return "", fmt.Errorf("reserve agent ID: %w", err)
	}
	return id, nil
}
