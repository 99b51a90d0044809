// Package accept runs a listener's accept loop the way net/http does:
// temporary failures such as running out of file descriptors are logged and
// retried with a growing pause instead of stopping the listener.
package accept

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// Loop accepts connections on ln and hands each to handle until ln is
// closed, then returns nil. handle runs on the accept goroutine and must not
// block for long; it usually starts a goroutine.
func Loop(ln net.Listener, log *slog.Logger, handle func(net.Conn)) error {
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		handle(nc)
	}
}
