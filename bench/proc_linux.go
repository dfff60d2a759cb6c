package main

import "syscall"

// childAttr puts a child in its own process group, so that a Ctrl-C at the
// terminal reaches only the bench, which stops the child in order, and has
// the kernel kill the child if the bench dies first.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// memoryFS is /dev/shm when it is a memory file system (tmpfs), else "".
func memoryFS() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		return ""
	}
	return "/dev/shm"
}
