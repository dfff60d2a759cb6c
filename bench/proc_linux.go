package main

import "syscall"

// childAttr puts a child in its own process group, so that a Ctrl-C at the
// terminal reaches only the bench, which stops the child in order, and has
// the kernel kill the child if the bench dies first.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
