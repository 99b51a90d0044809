package phpworker

import "syscall"

// procAttr makes the kernel kill a worker when thinkgate dies, so no PHP
// process outlives its supervisor.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
