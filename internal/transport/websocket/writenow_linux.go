package websocket

import (
	"errors"
	"syscall"
	"unsafe"
)

// writeNow makes one non-blocking write attempt; a full socket buffer is not
// an error, it just writes less.
func (c *conn) writeNow(b []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		// A raw syscall: the socket is non-blocking, so the call cannot park
		// the thread and the scheduler need not hand this P to another thread.
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		switch errno {
		case 0:
			n = int(r)
		case syscall.EAGAIN, syscall.EINTR:
		default:
			werr = errno
		}
		return true // never wait for writability here
	})
	return n, errors.Join(err, werr)
}
