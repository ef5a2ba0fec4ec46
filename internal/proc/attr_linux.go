package proc

import "syscall"

// ChildAttr puts a child in its own process group (so stopping it stops
// its children) and has the kernel send it SIGTERM if the parent dies
// without stopping it (e.g. SIGKILL), so nothing is left behind.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
