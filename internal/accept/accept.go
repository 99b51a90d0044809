// Package accept runs a listener's accept loop the way net/http does:
// temporary failures such as running out of file descriptors are logged and
// retried with a growing pause instead of stopping the listener.
package accept

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
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

// Tracker keeps a listener's open connections so that Shutdown can stop
// accepting, wake readers and wait for the handlers to finish.
type Tracker struct {
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen records the listener that Shutdown closes.
func (t *Tracker) Listen(ln net.Listener) {
	t.mu.Lock()
	t.ln = ln
	t.mu.Unlock()
}

// Add records a new connection; false once Shutdown has begun, when the
// caller must close it. Every Add that returns true needs one Done.
func (t *Tracker) Add(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.conns == nil {
		t.conns = map[net.Conn]struct{}{}
	}
	t.conns[nc] = struct{}{}
	t.wg.Add(1)
	return true
}

// Done forgets a connection whose handler has finished.
func (t *Tracker) Done(nc net.Conn) {
	t.mu.Lock()
	delete(t.conns, nc)
	t.mu.Unlock()
	t.wg.Done()
}

// Len returns the number of open connections.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// Shutdown closes the listener, calls wake on every open connection (to end
// reads between requests; nil closes them) and waits for their handlers or
// for ctx.
func (t *Tracker) Shutdown(ctx context.Context, wake func(net.Conn)) error {
	if wake == nil {
		wake = func(nc net.Conn) { nc.Close() }
	}
	t.mu.Lock()
	t.closed = true
	if t.ln != nil {
		t.ln.Close()
	}
	for nc := range t.conns {
		wake(nc)
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CloseRead ends reads on a TCP connection and keeps writes open, so a
// request already read is still answered; other connections are closed.
func CloseRead(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseRead()
		return
	}
	nc.Close()
}

// Limit returns a listener that holds at most n connections of ln open at
// once: Accept waits while n are open, leaving newer connections in the
// kernel's queue, where they cost this process no file descriptor. full is
// called (when set) each time the limit is first reached.
func Limit(ln net.Listener, n int, full func()) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{}), full: full}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	full      func()
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		if l.full != nil {
			l.full()
		}
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its place back when closed (once).
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// SyscallConn, CloseRead and CloseWrite reach the TCP connection beneath,
// for code that needs them (a peek at unread bytes, half-closes).
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *limitConn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return errors.ErrUnsupported
}

func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
