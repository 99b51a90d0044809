//go:build !unix

package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"

	"thinkgate/internal/config"
	"thinkgate/internal/logging"
	"thinkgate/internal/server"
)

// daemonize is not available here: run in the foreground, or as a service.
func daemonize(_ *flags, _ config.Config, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "thinkgate: -d is not available on this system; run thinkgate start in the foreground or as a service")
	return exitUsage
}

func daemonReadyPipe() *os.File { return nil }

func redirectStderr(*os.File) {}

// handleSignals: Ctrl-C stops at once; the other verbs use the control socket.
func handleSignals(node *server.Node, _ *logging.Logger) func() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	done := make(chan struct{})
	go func() {
		select {
		case <-c:
			node.Stop(false)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}
