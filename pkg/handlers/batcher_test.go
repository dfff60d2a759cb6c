package handlers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// recordingCC is a ContactCenters that records each add request and
// refuses the users it is told to.
type recordingCC struct {
	mu       sync.Mutex
	requests [][]string
	refuse   map[string]bool
}

func (r *recordingCC) AddMembers(_ context.Context, ccID string, ids []string) ([]MemberResult, error) {
	r.mu.Lock()
	r.requests = append(r.requests, append([]string(nil), ids...))
	r.mu.Unlock()
	out := make([]MemberResult, len(ids))
	for i, id := range ids {
		out[i] = MemberResult{UserID: id, OK: !r.refuse[id]}
		if r.refuse[id] {
			out[i].Code, out[i].Message = "FIELD_INTEGRITY_EXCEPTION", "needs the Contact Center Agent permission set"
		}
	}
	return out, nil
}

func (r *recordingCC) RemoveMember(context.Context, string, string) error { return nil }
func (r *recordingCC) SetAlias(context.Context, string, string) error     { return nil }

func TestMemberBatcherCoalescesUpToTheLimit(t *testing.T) {
	cc := &recordingCC{refuse: map[string]bool{"u17": true}}
	b := newMemberBatcher(cc, 50*time.Millisecond)
	const n = 2*MaxAddMembers + 50
	results := make([]MemberResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.Add(context.Background(), "04v5e000000CcAAAAA", fmt.Sprintf("u%d", i))
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	total := 0
	for _, req := range cc.requests {
		if len(req) > MaxAddMembers {
			t.Errorf("a request of %d users, Salesforce takes at most %d", len(req), MaxAddMembers)
		}
		total += len(req)
	}
	if total != n || len(cc.requests) > 4 {
		t.Errorf("%d users in %d requests, want %d users in at most 4 (batches of up to %d)", total, len(cc.requests), n, MaxAddMembers)
	}
	for i, r := range results {
		want := fmt.Sprintf("u%d", i)
		if r.UserID != want || r.OK == (want == "u17") {
			t.Errorf("caller %d got %+v", i, r)
		}
	}
}
