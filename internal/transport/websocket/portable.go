package websocket

import (
	"bufio"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/transport"
)

// portable is the goroutine-per-connection Transport: one reader goroutine
// per client, and a writer goroutine that exists only while the client's
// queue is not empty.
type portable struct {
	base

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	shutdown bool
	done     chan struct{} // closed when the last conn is gone after shutdown
	stop     chan struct{} // closed by Shutdown
}

// NewPortable returns the portable Transport.
func NewPortable(opts Options, h transport.Handler, log *slog.Logger) Transport {
	p := &portable{conns: map[*conn]struct{}{}, done: make(chan struct{}), stop: make(chan struct{})}
	p.init(opts, h, log)
	return p
}

func (p *portable) Serve(ln net.Listener) error { return p.serve(ln, p) }

func (p *portable) begin(ln net.Listener) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return false
	}
	p.ln = ln
	return true
}

func (p *portable) stopped() <-chan struct{} { return p.stop }

func (p *portable) handle(nc net.Conn) { go p.serveConn(nc, p.pending.add(nc)) }

func (p *portable) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.shutdown {
		p.shutdown = true
		close(p.stop)
		if p.ln != nil {
			p.ln.Close()
		}
		if len(p.conns) == 0 {
			close(p.done)
		}
	}
	p.mu.Unlock()
	var conns []*conn
	p.each(func(c pingable) { conns = append(conns, c.(*conn)) })
	for _, c := range conns {
		c.Close(int(ws.StatusGoingAway), "server shutting down")
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		return fmt.Errorf("websocket shutdown: %d clients dropped: %w", len(conns), ctx.Err())
	}
}

func (p *portable) add(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return false
	}
	p.conns[c] = struct{}{}
	p.active.Add(1)
	return true
}

func (p *portable) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	p.active.Add(-1)
	if p.shutdown && len(p.conns) == 0 {
		close(p.done)
	}
}

// each calls fn for every connection.
func (p *portable) each(fn func(pingable)) {
	p.mu.Lock()
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		fn(c)
	}
}

func (p *portable) serveConn(nc net.Conn, e *list.Element) {
	req, fb, err := upgrade(nc, p.opts())
	p.pending.done(e)
	if fb != nil {
		p.serveFallback(nc, fb)
		nc.Close()
		return
	}
	if err != nil {
		if !errors.Is(err, errStatic) {
			p.handshakeFailed.Add(1)
		}
		p.log.Debug("websocket handshake failed", "remote", nc.RemoteAddr(), "err", err)
		nc.Close()
		return
	}

	c := &conn{p: p, nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.touch()
	if !p.add(c) {
		nc.Write(goingAway)
		nc.Close()
		return
	}
	c.setPeer(p.handler.Open(c, req))
	c.readLoop()
	c.drop()
	c.gone()
	p.remove(c)
}

// conn is one client of the portable transport.
type conn struct {
	p        *portable
	nc       net.Conn
	raw      syscall.RawConn // for non-blocking direct writes; nil if the conn has none
	lastRead atomic.Int64    // unix nanoseconds of the last frame read

	peerState

	mu       sync.Mutex
	queue    [][]byte
	spare    [][]byte
	pending  int    // bytes queued or being written
	writing  bool   // a writer goroutine is running
	closing  bool   // a close frame is queued; no more sends
	closed   bool   // the socket is closed
	lingered bool   // the close frame is written
	idleCode uint16 // the close code for silence (SetIdleCode); 0: CloseIdle
}

func (c *conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *conn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

func (c *conn) lastReadNanos() int64 { return c.lastRead.Load() }

func (c *conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return false
	}
	if limit := c.p.opts().MaxSendBuffer; c.pending >= limit {
		c.p.closedSlow.Add(1)
		c.p.log.Warn("client closed: send buffer full", "remote", c.nc.RemoteAddr(), "limit", limit)
		c.dropLocked(CloseSlow, "too slow")
		go c.gone() // not from here: Send runs inside the hub's fan-out
		return false
	}
	if !c.writing && c.raw != nil {
		// Nothing queued: try to hand the frame to the kernel right here, one
		// syscall and no goroutine; queue only what the socket did not take.
		n, err := c.writeNow(frame)
		if err != nil {
			c.closed = true
			c.mu.Unlock()
			c.nc.Close()
			return false
		}
		if n == len(frame) {
			c.mu.Unlock()
			return true
		}
		frame = frame[n:]
	}
	c.enqueueLocked(frame)
	return true
}

func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.enqueueLocked(closeFrame(code, reason))
	// The client is gone for the application now, not when the close
	// handshake ends (which can take seconds): isOnline and counts drop at
	// once.
	c.goneSoon()
}

// enqueueLocked queues frame, starts the writer if none runs, and unlocks.
func (c *conn) enqueueLocked(frame []byte) {
	c.queue = append(c.queue, frame)
	c.pending += len(frame)
	if c.writing {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	go c.write()
}

// write drains the queue with vectored writes, then exits.
func (c *conn) write() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.writing = false
			finish := c.closing && !c.closed && !c.lingered
			c.lingered = c.lingered || finish
			c.mu.Unlock()
			if finish {
				c.linger()
			}
			return
		}
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.mu.Unlock()

		n := 0
		for _, f := range batch {
			n += len(f)
		}
		bufs := net.Buffers(batch)
		_, err := bufs.WriteTo(c.nc)
		clear(batch)

		c.mu.Lock()
		c.pending -= n
		c.spare = batch[:0]
		c.mu.Unlock()
		if err != nil {
			c.drop()
			return
		}
	}
}

// linger half-closes after our close frame and gives the reader a moment to
// see the client's close frame or EOF before the socket goes.
func (c *conn) linger() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(closeLinger))
}

// Destroy closes the connection at once, dropping what is queued, with a
// best-effort close frame (CloseDestroyed).
func (c *conn) Destroy() {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return
	}
	c.dropLocked(CloseDestroyed, "destroyed")
	c.goneSoon()
}

// dropLocked closes the connection with a close frame saying why, best
// effort, and unlocks: what is queued is dropped but its head (which can be
// the rest of a frame Send began writing itself), and a write that has not
// finished within DropGrace ends the socket.
// SetIdleCode sets the close code a silent client is dropped with.
func (c *conn) SetIdleCode(code uint16) {
	c.mu.Lock()
	c.idleCode = code
	c.mu.Unlock()
}

func (c *conn) dropLocked(code int, reason string) {
	if code == CloseIdle && c.idleCode != 0 {
		code = int(c.idleCode)
	}
	c.closing = true
	var dropped int
	c.queue, dropped = keepHead(c.queue)
	c.pending -= dropped
	c.nc.SetWriteDeadline(time.Now().Add(DropGrace))
	c.enqueueLocked(closeFrame(code, reason))
}

// drop closes the socket now.
func (c *conn) drop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.nc.Close()
}

// closeWith sends a close frame for a protocol problem or an oversize
// message, counts it, and ends reading.
func (c *conn) closeWith(code ws.StatusCode, reason string) {
	c.p.countClose(code)
	c.p.log.Debug("client closed", "remote", c.nc.RemoteAddr(), "code", code, "reason", reason)
	c.Close(int(code), reason)
}

// readLoop reads frames until the connection ends or misbehaves.
func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 2048)
	var a assembler
	for {
		o := c.p.opts()
		if d := o.IdleTimeout; d > 0 && !c.isClosing() {
			c.nc.SetReadDeadline(time.Now().Add(d))
		}
		h, err := ws.ReadHeader(br)
		if err != nil {
			c.readError(err, br)
			return
		}
		c.touch()
		if code, reason := a.check(h, o.MaxMessageSize); code != 0 {
			c.closeWith(code, reason)
			c.drain(br)
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			c.readError(err, br)
			return
		}
		ws.Cipher(payload, h.Mask, 0)
		v, code, reason := a.frame(h, payload)
		switch v {
		case vPing:
			c.Send(ws.MustCompileFrame(ws.NewPongFrame(payload)))
		case vClose:
			c.p.log.Debug("client sent close", "remote", c.nc.RemoteAddr(), "code", code)
			c.Close(int(code), "")
			c.drain(br)
			return
		case vFail:
			c.closeWith(code, reason)
			c.drain(br)
			return
		case vMessage:
			if c.isClosing() {
				continue
			}
			c.p.message(c, a.binary, a.msg)
		}
	}
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.closed
}

// drain reads and discards until the close handshake ends: the client's EOF
// or close reply, or the linger deadline set once our close frame is out.
func (c *conn) drain(br *bufio.Reader) {
	c.nc.SetReadDeadline(time.Now().Add(2 * closeLinger))
	io.Copy(io.Discard, io.LimitReader(br, 1<<20))
}

// readError ends reading; a client silent past the idle timeout gets a
// close frame (CloseIdle) first.
func (c *conn) readError(err error, br *bufio.Reader) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return
	}
	c.p.closedIdle.Add(1)
	c.p.log.Debug("client closed: idle", "remote", c.nc.RemoteAddr(), "timeout", c.p.opts().IdleTimeout)
	c.dropLocked(CloseIdle, "idle")
	c.goneSoon()
	c.drain(br)
}
