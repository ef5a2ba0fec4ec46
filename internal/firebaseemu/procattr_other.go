//go:build !linux

package firebaseemu

import "syscall"

// childAttr puts the CLI in its own process group, so Close stops its
// node children too.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
