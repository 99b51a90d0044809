//go:build !linux

package gwcompat

import "syscall"

// unread cannot look into the kernel queue here; ordering falls back to
// what the goroutines' own state shows.
func unread(syscall.RawConn) int { return 0 }
