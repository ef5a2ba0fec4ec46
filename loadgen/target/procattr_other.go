//go:build !linux

package target

import "syscall"

// childAttr puts a child in its own process group, so stopping it stops
// its children.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
