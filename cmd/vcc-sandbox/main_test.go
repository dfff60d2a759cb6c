package main

import (
	"strings"
	"testing"
)

func TestPubSubListenNeedsSalesforceListen(t *testing.T) {
	err := run([]string{"-listen", "127.0.0.1:0", "-pubsub-listen", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "-salesforce-listen") {
		t.Fatalf("run: %v, want a refusal naming -salesforce-listen", err)
	}
}
