//go:build !linux

package phpworker

import "os"

// pipe is os.Pipe off Linux.
func pipe() (r, w *os.File, err error) { return os.Pipe() }
