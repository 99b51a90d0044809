package phpworker

import (
	"fmt"
	"os"
	"syscall"
)

// pipe makes a blocking pipe. Go's os.Pipe is non-blocking and read
// through the runtime poller, which costs a wake-up through epoll and the
// scheduler on every frame: a blocking read wakes the waiting thread
// directly, which halves the Go<->PHP round trip here (see BENCHMARKS.md).
// A worker's reader blocks a thread while it waits, one per PHP process.
func pipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe2: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
