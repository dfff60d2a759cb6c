//go:build race

package main

// raceEnabled: the test binary runs with the race detector, and so do the
// binaries it builds.
const raceEnabled = true
