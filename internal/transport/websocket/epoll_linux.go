//go:build linux

package websocket

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"thinkgate/internal/transport"
)

// The epoll transport holds an upgraded connection as a raw file
// descriptor in an epoll set: no goroutine and no buffer while it is idle.
// A few loop goroutines (one per CPU) wait in epoll_wait, read what is
// ready into the loop's buffer and parse whole frames out of it; only an
// incomplete frame is kept, per connection, until the rest arrives. Sends
// write straight to the socket from the sender's goroutine; what the
// kernel does not take waits in the connection's queue, which its loop
// drains with writev when the socket is writable again. Idle and close
// deadlines live in a one-second timing wheel, not in runtime timers.
//
// Only a loop closes a descriptor, so its number cannot be reused under a
// reader: other goroutines shut the socket down, and the loop, woken by
// that, releases it.

// readBufferSize is each loop's read buffer: one read takes at most this much.
const readBufferSize = 64 << 10

type epollT struct {
	base

	loops []*loop
	next  atomic.Uint32 // round robin over loops
	wheel wheel

	tmu   sync.RWMutex
	table []*econn // by file descriptor

	mu       sync.Mutex
	ln       net.Listener
	shutdown bool
	done     chan struct{} // closed when the last connection is released after shutdown
	stop     chan struct{} // closed by Shutdown
}

// NewEpoll returns the epoll Transport (Linux).
func NewEpoll(opts Options, h transport.Handler, log *slog.Logger) (Transport, error) {
	t := &epollT{done: make(chan struct{}), stop: make(chan struct{})}
	t.init(opts, h, log)
	for range max(1, runtime.NumCPU()) {
		l, err := newLoop(t)
		if err != nil {
			for _, l := range t.loops {
				l.close()
			}
			return nil, err
		}
		t.loops = append(t.loops, l)
	}
	t.wheel.init()
	for _, l := range t.loops {
		go l.run()
	}
	go t.tick()
	return t, nil
}

func (t *epollT) Serve(ln net.Listener) error { return t.serve(ln, t) }

func (t *epollT) begin(ln net.Listener) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return false
	}
	t.ln = ln
	return true
}

func (t *epollT) stopped() <-chan struct{} { return t.stop }

func (t *epollT) handle(nc net.Conn) { go t.handshake(nc, t.pending.add(nc)) }

// handshake takes nc's descriptor over, upgrades it and registers it.
func (t *epollT) handshake(nc net.Conn, e *list.Element) {
	defer t.pending.done(e)
	defer nc.Close() // the descriptor lives on as fd
	// The duplicate comes first: at the open-files limit the client is
	// turned away before the handshake, not after a 101.
	fd, err := dup(nc)
	if err != nil {
		t.log.Warn("websocket: cannot take the socket over; closing it", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	req, fb, err := upgrade(nc, t.opts())
	if fb != nil {
		unix.Close(fd) // served on nc, by the fallback's own goroutine: this one
		t.pending.done(e)
		t.serveFallback(nc, fb)
		return
	}
	if err != nil {
		unix.Close(fd)
		if !errors.Is(err, errStatic) {
			t.handshakeFailed.Add(1)
		}
		t.log.Debug("websocket handshake failed", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	c := &econn{t: t, fd: fd, remote: nc.RemoteAddr()}
	c.l = t.loops[int(t.next.Add(1))%len(t.loops)]
	c.touch()
	if !t.add(c) {
		writeRaw(fd, goingAway)
		unix.Close(fd)
		return
	}
	// The peer is in place before the loop can deliver anything to it;
	// Open may already send (the init message) or close.
	c.setPeer(t.handler.Open(c, req))
	c.register()
	t.wheel.add(c, time.Now().Add(t.checkEvery()))
}

// dup duplicates the socket's descriptor for this transport to own: the
// same open socket, non-blocking, outside Go's poller once nc is closed.
func dup(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup: %w", dupErr)
	}
	return fd, nil
}

// add puts c in the table; false after shutdown.
func (t *epollT) add(c *econn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return false
	}
	t.tmu.Lock()
	for c.fd >= len(t.table) {
		t.table = append(t.table, make([]*econn, max(1024, len(t.table)))...)
	}
	t.table[c.fd] = c
	t.tmu.Unlock()
	t.active.Add(1)
	return true
}

func (t *epollT) lookup(fd int) *econn {
	t.tmu.RLock()
	defer t.tmu.RUnlock()
	if fd < len(t.table) {
		return t.table[fd]
	}
	return nil
}

// remove forgets a released connection.
func (t *epollT) remove(c *econn) {
	t.tmu.Lock()
	if c.fd < len(t.table) && t.table[c.fd] == c {
		t.table[c.fd] = nil
	}
	t.tmu.Unlock()
	if t.active.Add(-1) == 0 {
		t.mu.Lock()
		if t.shutdown {
			select {
			case <-t.done:
			default:
				close(t.done)
			}
		}
		t.mu.Unlock()
	}
}

// each calls fn for every connection.
func (t *epollT) each(fn func(pingable)) {
	t.tmu.RLock()
	conns := make([]*econn, 0, t.active.Load())
	for _, c := range t.table {
		if c != nil {
			conns = append(conns, c)
		}
	}
	t.tmu.RUnlock()
	for _, c := range conns {
		fn(c)
	}
}

func (t *epollT) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.shutdown {
		t.shutdown = true
		close(t.stop)
		if t.ln != nil {
			t.ln.Close()
		}
		if t.active.Load() == 0 {
			close(t.done)
		}
	}
	t.mu.Unlock()
	var conns []*econn
	t.each(func(p pingable) { conns = append(conns, p.(*econn)) })
	for _, c := range conns {
		c.Close(int(ws.StatusGoingAway), "server shutting down")
	}
	var err error
	select {
	case <-t.done:
	case <-ctx.Done():
		for _, c := range conns {
			c.shut()
		}
		err = fmt.Errorf("websocket shutdown: %d clients dropped: %w", t.active.Load(), ctx.Err())
		select { // the loops release what was shut down
		case <-t.done:
		case <-time.After(time.Second):
		}
	}
	for _, l := range t.loops {
		l.close()
	}
	return err
}

// checkEvery is how often the wheel looks at an idle connection: its idle
// timeout, or once a minute without one (a reload may set one).
func (t *epollT) checkEvery() time.Duration {
	if d := t.opts().IdleTimeout; d > 0 {
		return d
	}
	return time.Minute
}

// tick runs the wheel once a second until shutdown.
func (t *epollT) tick() {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			// Keep closing lingering connections until the loops stop.
			for range 2 * int(closeLinger/time.Second) {
				time.Sleep(time.Second)
				t.wheel.advance(t)
			}
			return
		case <-tk.C:
			t.wheel.advance(t)
		}
	}
}

// expire is the wheel's check of one connection.
func (t *epollT) expire(c *econn, now time.Time) {
	c.mu.Lock()
	closed, lingering, closeAt := c.closed, c.lingering, c.closeAt
	c.mu.Unlock()
	switch {
	case closed:
	case lingering:
		if now.UnixNano() >= closeAt {
			c.shut()
		} else {
			t.wheel.add(c, time.Unix(0, closeAt))
		}
	default:
		idle := t.opts().IdleTimeout
		last := c.lastRead.Load()
		if idle > 0 && now.UnixNano()-last >= int64(idle) {
			t.closedIdle.Add(1)
			t.log.Debug("client closed: idle", "remote", c.remote, "timeout", idle)
			c.drop(CloseIdle, "idle")
			return
		}
		next := now.Add(t.checkEvery())
		if idle > 0 {
			next = time.Unix(0, last).Add(idle)
		}
		t.wheel.add(c, next)
	}
}

// wheel is a timing wheel of one-second slots. A connection sits in the
// slot of its next check (at most len(slots)-1 seconds ahead; a later
// deadline is checked and re-slotted on the way).
type wheel struct {
	mu    sync.Mutex
	slots [64][]*econn
	pos   int
	now   time.Time // the time of slot pos
}

func (w *wheel) init() { w.now = time.Now() }

// add schedules c to be checked at about at (rounded up to the next second).
func (w *wheel) add(c *econn, at time.Time) {
	w.mu.Lock()
	k := int((at.Sub(w.now) + time.Second - 1) / time.Second)
	k = min(max(k, 1), len(w.slots)-1)
	i := (w.pos + k) % len(w.slots)
	w.slots[i] = append(w.slots[i], c)
	w.mu.Unlock()
}

// advance moves to the next slot and checks the connections in it.
func (w *wheel) advance(t *epollT) {
	w.mu.Lock()
	w.pos = (w.pos + 1) % len(w.slots)
	w.now = time.Now()
	due := w.slots[w.pos]
	w.slots[w.pos] = nil
	w.mu.Unlock()
	now := time.Now()
	for _, c := range due {
		t.expire(c, now)
	}
}

// loop is one epoll set and the goroutine that waits on it.
type loop struct {
	t      *epollT
	epfd   int
	wake   int // eventfd: written to stop the loop
	buf    []byte
	events []unix.EpollEvent
	closed atomic.Bool
}

func newLoop(t *epollT) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &loop{t: t, epfd: epfd, wake: wake, buf: make([]byte, readBufferSize), events: make([]unix.EpollEvent, 256)}, nil
}

// close stops the loop; it closes its descriptors on the way out.
func (l *loop) close() {
	if l.closed.CompareAndSwap(false, true) {
		var one = [8]byte{1}
		unix.Write(l.wake, one[:])
	}
}

func (l *loop) run() {
	defer func() {
		unix.Close(l.epfd)
		unix.Close(l.wake)
	}()
	for {
		n, err := unix.EpollWait(l.epfd, l.events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.t.log.Error("epoll_wait failed; this loop stops", "err", err)
			return
		}
		for _, ev := range l.events[:n] {
			if int(ev.Fd) == l.wake {
				if l.closed.Load() {
					return
				}
				continue
			}
			c := l.t.lookup(int(ev.Fd))
			if c == nil {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				c.flush()
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.readReady(l.buf)
			}
		}
	}
}

// econn is one client of the epoll transport.
type econn struct {
	t        *epollT
	l        *loop
	fd       int
	remote   net.Addr
	lastRead atomic.Int64 // unix nanoseconds of the last bytes read

	peerState

	// Read side: only the loop touches these.
	partial []byte // an incomplete frame, nil when there is none
	asm     assembler
	discard bool // closing: read only to see the end

	mu         sync.Mutex
	queue      [][]byte // what the socket has not taken yet
	pending    int
	registered bool   // in the loop's epoll set
	out        bool   // EPOLLOUT is armed
	closing    bool   // a close frame is queued or written; no more sends
	lingering  bool   // the close frame is written; waiting for the client's end
	kicked     bool   // shut down; the loop will release it
	closed     bool   // released: fd is no longer ours
	idleCode   uint16 // the close code for silence (SetIdleCode); 0: CloseIdle
	closeAt    int64
}

func (c *econn) RemoteAddr() net.Addr { return c.remote }

func (c *econn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

func (c *econn) lastReadNanos() int64 { return c.lastRead.Load() }

// register adds the descriptor to the loop's epoll set.
func (c *econn) register() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.registered = true
	if err := unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: c.eventsLocked(), Fd: int32(c.fd)}); err != nil {
		c.t.log.Warn("websocket: epoll_ctl add failed", "remote", c.remote, "err", err)
		c.registered = false
		c.kickLocked()
		go c.release() // no loop watches it; release takes c.mu, held here
	}
}

func (c *econn) eventsLocked() uint32 {
	ev := uint32(unix.EPOLLIN | unix.EPOLLRDHUP)
	if c.out {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// armLocked asks the loop to tell when the socket is writable (or stops).
func (c *econn) armLocked(out bool) {
	if c.out == out {
		return
	}
	c.out = out
	if c.registered && !c.l.closed.Load() {
		unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: c.eventsLocked(), Fd: int32(c.fd)})
	}
}

// Send writes the frame now if nothing is queued, queueing what the socket
// does not take; it never blocks.
func (c *econn) Send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.closed || c.kicked {
		return false
	}
	if limit := c.t.opts().MaxSendBuffer; c.pending >= limit {
		c.t.closedSlow.Add(1)
		c.t.log.Warn("client closed: send buffer full", "remote", c.remote, "limit", limit)
		c.dropLocked(CloseSlow, "too slow")
		go c.gone() // not from here: Send runs inside the hub's fan-out
		return false
	}
	return c.writeLocked(frame)
}

// dropLocked closes the connection with a close frame saying why, best
// effort: the frame being written (the head of the queue) is finished,
// the rest of the queue dropped, and the socket shut after DropGrace if the
// close frame is not out by then.
// SetIdleCode sets the close code a silent client is dropped with.
func (c *econn) SetIdleCode(code uint16) {
	c.mu.Lock()
	c.idleCode = code
	c.mu.Unlock()
}

func (c *econn) dropLocked(code int, reason string) {
	if c.closing || c.closed || c.kicked {
		return
	}
	if code == CloseIdle && c.idleCode != 0 {
		code = int(c.idleCode)
	}
	c.closing = true
	var dropped int
	c.queue, dropped = keepHead(c.queue)
	c.pending -= dropped
	if !c.writeLocked(closeFrame(code, reason)) {
		return // the socket failed: kicked
	}
	if len(c.queue) == 0 {
		c.lingerLocked()
		return
	}
	c.lingering = true // flush will not half-close; the wheel shuts the socket at closeAt
	c.closeAt = time.Now().Add(DropGrace).UnixNano()
	c.t.wheel.add(c, time.Unix(0, c.closeAt))
}

// writeLocked writes or queues frame; false if the socket failed.
func (c *econn) writeLocked(frame []byte) bool {
	if len(c.queue) == 0 {
		n, err := writeRaw(c.fd, frame)
		if err != nil {
			c.kickLocked()
			return false
		}
		if n == len(frame) {
			return true
		}
		frame = frame[n:]
	}
	c.queue = append(c.queue, frame)
	c.pending += len(frame)
	c.armLocked(true)
	return true
}

// writeRaw makes one non-blocking write; a full socket is not an error.
func writeRaw(fd int, b []byte) (int, error) {
	// A raw syscall: the socket is non-blocking, so the call cannot park
	// the thread and the scheduler need not hand this P to another thread.
	r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	switch errno {
	case 0:
		return int(r), nil
	case syscall.EAGAIN, syscall.EINTR:
		return 0, nil
	}
	return 0, errno
}

// maxIovec bounds one writev.
const maxIovec = 64

// flush writes the queue when the socket is writable (the loop).
func (c *econn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.kicked {
		return
	}
	for len(c.queue) > 0 {
		n, err := unix.Writev(c.fd, c.queue[:min(len(c.queue), maxIovec)])
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return
		}
		if err != nil {
			c.kickLocked()
			return
		}
		c.pending -= n
		for n > 0 {
			if n >= len(c.queue[0]) {
				n -= len(c.queue[0])
				c.queue[0] = nil
				c.queue = c.queue[1:]
			} else {
				c.queue[0] = c.queue[0][n:]
				n = 0
			}
		}
	}
	c.queue = nil
	c.armLocked(false)
	if c.closing && !c.lingering {
		c.lingerLocked()
	}
}

// lingerLocked half-closes after our close frame and gives the client a
// moment to answer before the wheel drops the socket.
func (c *econn) lingerLocked() {
	c.lingering = true
	unix.Shutdown(c.fd, unix.SHUT_WR)
	c.closeAt = time.Now().Add(closeLinger).UnixNano()
	c.t.wheel.add(c, time.Unix(0, c.closeAt))
}

// Close sends a close frame after what is queued, then closes.
func (c *econn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing || c.closed || c.kicked {
		c.mu.Unlock()
		return
	}
	c.closing = true
	if c.writeLocked(closeFrame(code, reason)) && len(c.queue) == 0 {
		c.lingerLocked()
	}
	c.mu.Unlock()
	// Gone for the application now, not when the close handshake ends.
	c.goneSoon()
}

// Destroy closes the connection at once, dropping what is queued, with a
// best-effort close frame (CloseDestroyed).
func (c *econn) Destroy() { c.drop(CloseDestroyed, "destroyed") }

// drop closes with a close frame saying why (see dropLocked); the client is
// gone for the application at once.
func (c *econn) drop(code int, reason string) {
	c.mu.Lock()
	c.dropLocked(code, reason)
	c.mu.Unlock()
	c.goneSoon()
}

// shut closes the socket now, with nothing more written.
func (c *econn) shut() {
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
}

// kickLocked shuts the socket down; its loop sees that and releases it.
func (c *econn) kickLocked() {
	if c.closed || c.kicked {
		return
	}
	c.kicked = true
	c.queue, c.pending = nil, 0
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
}

// release closes the descriptor (its loop, or the registering goroutine
// when registration failed) and tells the peer.
func (c *econn) release() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue, c.partial = nil, nil
	if c.registered {
		unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	c.mu.Unlock()
	c.t.remove(c)
	unix.Close(c.fd)
	c.gone()
}

func (c *econn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.kicked || c.closed
}

// readReady reads what the socket has (the loop) and handles every whole
// frame in it.
func (c *econn) readReady(buf []byte) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	n, err := unix.Read(c.fd, buf)
	if n <= 0 {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return
		}
		c.release() // end of stream or an error
		return
	}
	c.touch()
	c.consume(buf[:n])
}

// consume handles newly read bytes: the whole frames in them, after what
// was left over from the last read; an incomplete frame is kept.
func (c *econn) consume(data []byte) {
	if c.discard {
		return
	}
	if c.partial != nil {
		c.partial = append(c.partial, data...)
		data = c.partial
	}
	rest := c.frames(data)
	switch {
	case c.discard || len(rest) == 0:
		c.partial = nil
	case c.partial != nil:
		c.partial = c.partial[:copy(c.partial, rest)]
	default:
		c.partial = append([]byte(nil), rest...)
	}
}

// frames handles the whole frames at the start of data and returns the
// incomplete rest.
func (c *econn) frames(data []byte) []byte {
	max := c.t.opts().MaxMessageSize
	for len(data) > 0 {
		h, hn, err := parseHeader(data)
		if err == errShortHeader {
			return data
		}
		if err != nil {
			c.closeWith(ws.StatusProtocolError, err.Error())
			return nil
		}
		if code, reason := c.asm.check(h, max); code != 0 {
			c.closeWith(code, reason)
			return nil
		}
		end := hn + int(h.Length)
		if len(data) < end {
			return data
		}
		payload := data[hn:end]
		data = data[end:]
		ws.Cipher(payload, h.Mask, 0)
		v, code, reason := c.asm.frame(h, payload)
		switch v {
		case vPing:
			c.Send(ws.MustCompileFrame(ws.NewPongFrame(payload)))
		case vClose:
			c.t.log.Debug("client sent close", "remote", c.remote, "code", code)
			c.Close(int(code), "")
			c.discard = true
			return nil
		case vFail:
			c.closeWith(code, reason)
			return nil
		case vMessage:
			if !c.isClosing() {
				c.t.message(c, c.asm.binary, c.asm.msg)
			}
			c.asm.msg = nil
		}
	}
	return nil
}

// closeWith closes for a bad frame or message and ignores what follows.
func (c *econn) closeWith(code ws.StatusCode, reason string) {
	c.t.countClose(code)
	c.t.log.Debug("client closed", "remote", c.remote, "code", code, "reason", reason)
	c.Close(int(code), reason)
	c.discard = true
}
