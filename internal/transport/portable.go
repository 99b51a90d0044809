package transport

import (
	"bufio"
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
	"unicode/utf8"

	"github.com/gobwas/ws"

	"thinkgate/internal/accept"
)

// closeLinger is how long a closing connection waits for the client's close
// frame (or EOF) after sending its own, before the socket is dropped.
const closeLinger = 2 * time.Second

// portable is the goroutine-per-connection Transport: one reader goroutine
// per client, and a writer goroutine that exists only while the client's
// queue is not empty.
type portable struct {
	cur     atomic.Pointer[settings]
	handler Handler
	log     *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	shutdown bool
	done     chan struct{} // closed when the last conn is gone after shutdown
	stop     chan struct{} // closed by Shutdown

	accepted, handshakeFailed, closedSlow, closedOversize, closedIdle, closedProtocol, received atomic.Uint64
	active                                                                                      atomic.Int64
}

// settings are the Options in force plus the frames compiled from them.
type settings struct {
	Options
	pingFrame, pingReply []byte // nil: none
}

func newSettings(o Options) *settings {
	s := &settings{Options: o}
	if o.ServerPing != "" {
		s.pingFrame = ws.MustCompileFrame(ws.NewTextFrame([]byte(o.ServerPing)))
	}
	if o.PingReply != "" {
		s.pingReply = ws.MustCompileFrame(ws.NewTextFrame([]byte(o.PingReply)))
	}
	return s
}

// NewPortable returns the portable Transport.
func NewPortable(opts Options, h Handler, log *slog.Logger) Transport {
	p := &portable{handler: h, log: log, conns: map[*conn]struct{}{},
		done: make(chan struct{}), stop: make(chan struct{})}
	p.cur.Store(newSettings(opts))
	return p
}

// SetOptions applies new limits and heartbeat settings to every connection
// from its next frame on.
func (p *portable) SetOptions(o Options) { p.cur.Store(newSettings(o)) }

func (p *portable) opts() *settings { return p.cur.Load() }

func (p *portable) Stats() Stats {
	return Stats{
		Accepted: p.accepted.Load(), Active: p.active.Load(), HandshakeFailed: p.handshakeFailed.Load(),
		ClosedSlow: p.closedSlow.Load(), ClosedOversize: p.closedOversize.Load(), ClosedIdle: p.closedIdle.Load(),
		ClosedProtocol: p.closedProtocol.Load(), MessagesReceived: p.received.Load(),
	}
}

func (p *portable) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return nil
	}
	p.ln = ln
	p.mu.Unlock()
	go p.pingIdle()
	return accept.Loop(ln, p.log, func(nc net.Conn) {
		p.accepted.Add(1)
		go p.serveConn(nc)
	})
}

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
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
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

// pingIdle sends the server ping to clients that were silent for a whole
// interval (GatewayWorker's pingData).
func (p *portable) pingIdle() {
	interval := p.opts().ServerPingInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			o := p.opts()
			if o.ServerPingInterval != interval { // changed by a reload
				interval = o.ServerPingInterval
				t.Reset(interval)
			}
			if o.pingFrame == nil {
				continue
			}
			idleSince := now.Add(-interval).UnixNano()
			p.mu.Lock()
			for c := range p.conns {
				if c.lastRead.Load() <= idleSince {
					c.Send(o.pingFrame)
				}
			}
			p.mu.Unlock()
		}
	}
}

func (p *portable) serveConn(nc net.Conn) {
	req := &Request{RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	up := ws.Upgrader{
		OnRequest: func(uri []byte) error { req.URI = string(uri); return nil },
		OnHost: func(host []byte) error { // gobwas reports Host here, not to OnHeader
			req.Headers = append(req.Headers, Header{Name: "Host", Value: string(host)})
			return nil
		},
		OnHeader: func(k, v []byte) error {
			req.Headers = append(req.Headers, Header{Name: string(k), Value: string(v)})
			return nil
		},
	}
	o := p.opts()
	nc.SetDeadline(time.Now().Add(o.HandshakeTimeout))
	hr := &headerReader{r: nc, left: o.MaxHeaderSize}
	if _, err := up.Upgrade(struct {
		io.Reader
		io.Writer
	}{hr, nc}); err != nil {
		p.handshakeFailed.Add(1)
		if errors.Is(err, errHeaderTooLarge) {
			io.WriteString(nc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhandshake over ws.max_header_size\n")
		}
		p.log.Debug("websocket handshake failed", "remote", nc.RemoteAddr(), "err", err)
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})

	c := &conn{p: p, nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.touch()
	if !p.add(c) {
		nc.Write(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "server shutting down"))))
		nc.Close()
		return
	}
	c.setPeer(p.handler.Open(c, req))
	c.readLoop()
	c.drop()
	c.gone()
	p.remove(c)
}

var errHeaderTooLarge = errors.New("handshake larger than ws.max_header_size")

// headerReader caps how many bytes the handshake may read.
type headerReader struct {
	r    io.Reader
	left int
}

func (h *headerReader) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, errHeaderTooLarge
	}
	n, err := h.r.Read(p[:min(len(p), h.left)])
	h.left -= n
	return n, err
}

// conn is one client of the portable transport.
type conn struct {
	p        *portable
	nc       net.Conn
	raw      syscall.RawConn // for non-blocking direct writes; nil if the conn has none
	lastRead atomic.Int64    // unix nanoseconds of the last frame read

	// peer gets the connection's events one at a time, and none after
	// Closed, which comes as soon as the connection starts closing.
	peerMu   sync.Mutex
	peer     Peer
	peerDone bool

	mu       sync.Mutex
	queue    [][]byte
	spare    [][]byte
	pending  int  // bytes queued or being written
	writing  bool // a writer goroutine is running
	closing  bool // a close frame is queued; no more sends
	closed   bool // the socket is closed
	lingered bool // the close frame is written
}

func (c *conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *conn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

func (c *conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return false
	}
	if limit := c.p.opts().MaxSendBuffer; c.pending+len(frame) > limit {
		c.closed = true
		c.mu.Unlock()
		c.p.closedSlow.Add(1)
		c.p.log.Warn("client closed: send buffer full", "remote", c.nc.RemoteAddr(), "limit", limit)
		c.nc.Close()
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
	c.enqueueLocked(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason))))
	// The client is gone for the application now, not when the close
	// handshake ends (which can take seconds): isOnline and counts drop at
	// once. Inline unless a message is being delivered right now.
	if c.peerMu.TryLock() {
		c.goneLocked()
		c.peerMu.Unlock()
	} else {
		go c.gone()
	}
}

// setPeer installs the peer Open returned; a close that came first is
// reported to it now.
func (c *conn) setPeer(p Peer) {
	c.peerMu.Lock()
	defer c.peerMu.Unlock()
	c.peer = p
	if c.peerDone {
		p.Closed()
	}
}

// deliver passes a message to the peer unless the connection is closing.
func (c *conn) deliver(binary bool, msg []byte) {
	c.peerMu.Lock()
	defer c.peerMu.Unlock()
	if !c.peerDone && c.peer != nil {
		c.peer.Message(binary, msg)
	}
}

// gone tells the peer, once, that the connection is over.
func (c *conn) gone() {
	c.peerMu.Lock()
	defer c.peerMu.Unlock()
	c.goneLocked()
}

func (c *conn) goneLocked() {
	if c.peerDone {
		return
	}
	c.peerDone = true
	if c.peer != nil {
		c.peer.Closed()
	}
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

// Destroy closes the connection at once, dropping what is queued.
func (c *conn) Destroy() { c.drop() }

// drop closes the socket now.
func (c *conn) drop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.nc.Close()
}

// closeWith sends a close frame for a protocol problem and ends reading.
func (c *conn) closeWith(code ws.StatusCode, reason string, counter *atomic.Uint64) {
	counter.Add(1)
	c.p.log.Debug("client closed", "remote", c.nc.RemoteAddr(), "code", code, "reason", reason)
	c.Close(int(code), reason)
}

// readLoop reads frames until the connection ends or misbehaves.
func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 2048)
	var (
		msg       []byte
		msgBinary bool
		inMessage bool
	)
	for {
		o := c.p.opts()
		if d := o.IdleTimeout; d > 0 && !c.isClosing() {
			c.nc.SetReadDeadline(time.Now().Add(d))
		}
		h, err := ws.ReadHeader(br)
		if err != nil {
			c.readError(err)
			return
		}
		c.touch()
		if perr := checkHeader(h); perr != "" {
			c.closeWith(ws.StatusProtocolError, perr, &c.p.closedProtocol)
			c.drain(br)
			return
		}
		if !h.OpCode.IsControl() && (h.Length > int64(o.MaxMessageSize) || int64(len(msg))+h.Length > int64(o.MaxMessageSize)) {
			c.closeWith(ws.StatusMessageTooBig, "message too big", &c.p.closedOversize)
			c.drain(br)
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			c.readError(err)
			return
		}
		ws.Cipher(payload, h.Mask, 0)

		switch h.OpCode {
		case ws.OpPing:
			c.Send(ws.MustCompileFrame(ws.NewPongFrame(payload)))
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			if code.Empty() {
				code = ws.StatusNormalClosure
			}
			c.p.log.Debug("client sent close", "remote", c.nc.RemoteAddr(), "code", code, "reason", reason)
			c.Close(int(code), "")
			c.drain(br)
			return
		case ws.OpContinuation:
			if !inMessage {
				c.closeWith(ws.StatusProtocolError, "continuation without a message", &c.p.closedProtocol)
				c.drain(br)
				return
			}
			msg = append(msg, payload...)
		default: // text or binary
			if inMessage {
				c.closeWith(ws.StatusProtocolError, "new message inside a fragmented one", &c.p.closedProtocol)
				c.drain(br)
				return
			}
			msg, msgBinary, inMessage = payload, h.OpCode == ws.OpBinary, true
		}
		if !h.Fin {
			continue
		}
		inMessage = false
		if !msgBinary && !utf8.Valid(msg) {
			c.closeWith(ws.StatusInvalidFramePayloadData, "text message is not UTF-8", &c.p.closedProtocol)
			c.drain(br)
			return
		}
		if c.isClosing() {
			msg = nil
			continue
		}
		c.p.received.Add(1)
		if !msgBinary && string(msg) == "ping" {
			if r := c.p.opts().pingReply; r != nil {
				c.Send(r)
			}
		} else {
			c.deliver(msgBinary, msg)
		}
		msg = nil
	}
}

// checkHeader returns why a client frame header is not acceptable, or "".
func checkHeader(h ws.Header) string {
	switch {
	case !h.Masked:
		return "client frames must be masked"
	case h.Rsv != 0:
		return "no extension negotiated"
	case h.OpCode.IsReserved():
		return "reserved opcode"
	case h.OpCode.IsControl() && (!h.Fin || h.Length > 125):
		return "bad control frame"
	}
	return ""
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

func (c *conn) readError(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) && !c.isClosing() {
		c.p.closedIdle.Add(1)
		c.p.log.Debug("client closed: idle", "remote", c.nc.RemoteAddr(), "timeout", c.p.opts().IdleTimeout)
	}
}
