//go:build !linux

package main

import "syscall"

// childAttr: elsewhere than Linux the children share the bench's process
// group (and memory figures, read from /proc, are not available).
func childAttr() *syscall.SysProcAttr { return nil }
