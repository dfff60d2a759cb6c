package main

import (
	"os"
	"runtime/debug"
)

// The collector's defaults for the worker, unless GOGC or GOMEMLIMIT is
// set. The worker's live heap is small (a few MiB: the store is a mapped
// file, outside the heap) while it allocates quickly under load (bbolt
// copies every page a commit touches), so with Go's default GOGC=100 it
// collects about a hundred times a second and spends a seventh of its CPU
// on it. It lets the heap grow to five times what is live instead, under
// a soft limit on the Go runtime's memory that makes it collect harder
// before it grows past that.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 192 << 20 // bytes
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
