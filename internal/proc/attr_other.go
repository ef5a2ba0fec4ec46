//go:build !linux

package proc

import "syscall"

// ChildAttr puts a child in its own process group, so stopping it stops
// its children.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
