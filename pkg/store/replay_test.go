package store

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplayStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "publisher.db")
	r, err := OpenReplayStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := r.Load(ctx, "/data/UserChangeEvent"); err != nil || id != nil {
		t.Fatalf("Load on a new store = %x, %v; want nothing", id, err)
	}
	if err := r.Save(ctx, "/data/UserChangeEvent", []byte{0, 0, 0, 7}); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(ctx, "/data/AccountChangeEvent", []byte{9}); err != nil {
		t.Fatal(err)
	}

	// A second opener is refused while the first holds the file.
	if _, err := OpenReplayStore(path); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second open: %v, want in use", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart finds the positions.
	r, err = OpenReplayStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if id, err := r.Load(ctx, "/data/UserChangeEvent"); err != nil || !bytes.Equal(id, []byte{0, 0, 0, 7}) {
		t.Errorf("after reopening: %x, %v; want 00000007", id, err)
	}
	if err := r.Save(ctx, "/data/UserChangeEvent", nil); err != nil {
		t.Fatal(err)
	}
	if id, err := r.Load(ctx, "/data/UserChangeEvent"); err != nil || id != nil {
		t.Errorf("after clearing: %x, %v; want nothing", id, err)
	}
	if id, _ := r.Load(ctx, "/data/AccountChangeEvent"); !bytes.Equal(id, []byte{9}) {
		t.Errorf("clearing one topic touched another: %x", id)
	}
}
