package phpworker

import "syscall"

// procAttr makes the kernel kill a worker when thinkgate dies, so no PHP
// process outlives its supervisor, and gives the worker its own process
// group, so a Ctrl-C in thinkgate's terminal reaches thinkgate alone, which
// then stops the workers in order.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
