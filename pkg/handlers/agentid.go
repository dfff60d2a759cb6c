package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/vccsync/vccsync/pkg/vcc"
)

// ErrAgentIDTaken must be wrapped by an AgentIDs implementation's
// ClaimAgentID when another Salesforce user holds the agent ID.
var ErrAgentIDTaken = errors.New("agent ID held by another Salesforce user")

// agentID returns the agent ID for a new VCC user: Salesforce's NVM Agent Id
// when it has one (claimed so no other user is given it), else the next
// free ID from the starting ID, skipping IDs in use in VCC (active and
// archived) and IDs reserved for other users.
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
	if err := h.loadUsedIDs(ctx); err != nil {
		return "", err
	}
	id, err := h.ids.ReserveAgentID(key, h.m.AgentIDStart, func(id string) bool {
		h.idMu.Lock()
		defer h.idMu.Unlock()
		return h.usedID[id]
	})
	if err != nil {
		return "", fmt.Errorf("reserve agent ID: %w", err)
	}
	return id, nil
}

// loadUsedIDs reads every VCC user's agent ID once (and again after
// forgetUsedIDs).
func (h *Handler) loadUsedIDs(ctx context.Context) error {
	h.idMu.Lock()
	loaded := h.usedID != nil
	h.idMu.Unlock()
	if loaded {
		return nil
	}
	used := map[string]bool{}
	err := h.vcc.ForEachUser(ctx, vcc.IncludeAll, 5000, func(u *vcc.User) error {
		if id := u.AgentDisplayID(); id != "" {
			used[id] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list VCC users for agent IDs in use: %w", err)
	}
	h.idMu.Lock()
	if h.usedID == nil {
		h.usedID = used
	}
	h.idMu.Unlock()
	return nil
}

func (h *Handler) markUsedID(id string) {
	if id == "" {
		return
	}
	h.idMu.Lock()
	if h.usedID != nil {
		h.usedID[id] = true
	}
	h.idMu.Unlock()
}

func (h *Handler) forgetUsedIDs() {
	h.idMu.Lock()
	h.usedID = nil
	h.idMu.Unlock()
}
