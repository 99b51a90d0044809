package gwcompat

import (
	"syscall"
	"unsafe"
)

// unread returns how many received bytes wait in the socket's kernel queue
// (SIOCINQ), 0 when it cannot tell.
func unread(raw syscall.RawConn) int {
	n := 0
	raw.Control(func(fd uintptr) {
		var v int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno == 0 {
			n = int(v)
		}
	})
	return n
}
