//go:build !unix || aix

package driver

import "syscall"

// socketOpen cannot peek here; alive falls back to a read.
func socketOpen(syscall.RawConn) (open, ok bool) { return false, false }
