//go:build !linux

package main

import "syscall"

// childAttr: elsewhere than Linux the children share the bench's process
// group (and memory figures, read from /proc, are not available).
func childAttr() *syscall.SysProcAttr { return nil }

// memoryFS: the tmpfs run is made on Linux only.
func memoryFS() string { return "" }
