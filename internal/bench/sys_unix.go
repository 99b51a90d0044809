//go:build unix

package bench

import (
	"fmt"
	"os"
	"syscall"
)

// floorSupported: the kernel floor writes raw file descriptors.
const floorSupported = true

func writeFD(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

// raiseFileLimit lifts the soft open-files limit to the hard one, which
// child processes do not inherit from Go's own start-up raise.
func raiseFileLimit() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker: raising RLIMIT_NOFILE:", err)
		}
	}
}
