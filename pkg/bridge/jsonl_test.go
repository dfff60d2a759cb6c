package bridge

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestPublishInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out strings.Builder
	c, err := PublishLines(ctx, nil, strings.NewReader("{}\n"), &out, LinesOptions{Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "interrupted after line 0") || c != (LineCounts{}) || out.Len() != 0 {
		t.Errorf("PublishLines with a cancelled context = %v, %v, %q; want an interruption and nothing done", c, err, out.String())
	}
}
