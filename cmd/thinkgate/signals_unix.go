//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// reloadSignals delivers SIGUSR1, Workerman's reload signal.
func reloadSignals() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	return c
}
