//go:build unix && !aix

package driver

import (
	"errors"
	"syscall"
)

// socketOpen peeks at an idle keep-alive socket without waiting: open
// when nothing is pending (EAGAIN); closed when the peer's FIN (a zero
// read), a reset, or bytes nobody asked for are there. ok is false when
// the socket could not be asked.
func socketOpen(rc syscall.RawConn) (open, ok bool) {
	var (
		buf  [1]byte
		rerr error
	)
	if err := rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never park: this is a check, not a read
	}); err != nil {
		return false, false
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK):
		return true, true
	case rerr != nil:
		return false, true
	}
	return false, true // a zero read (closed) or stray bytes
}
