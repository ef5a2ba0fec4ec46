package firebaseemu

import "syscall"

// childAttr puts the CLI in its own process group (so Close stops its
// node children too) and has the kernel send it SIGTERM if our process
// dies without closing it, so no emulator is left behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
