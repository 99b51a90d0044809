//go:build !linux

package phpworker

import "syscall"

// procAttr: without Pdeathsig, workers are stopped by the pool on shutdown.
func procAttr() *syscall.SysProcAttr { return nil }
