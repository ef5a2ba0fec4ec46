package target

import "syscall"

// childAttr puts a child in its own process group (so stopping it stops
// its children) and has the kernel send it SIGTERM if loadgen dies
// without stopping it (e.g. SIGKILL), so no sessiond is left behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
