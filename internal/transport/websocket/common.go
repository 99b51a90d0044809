package websocket

import (
	"bufio"
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"thinkgate/internal/accept"
	"thinkgate/internal/transport"
)

// What both transports share: the handshake, the order in which a peer
// hears about its connection, and how client frames become messages.

// base is what every transport holds: the settings in force, the handler,
// and the counters of Stats.
type base struct {
	cur     atomic.Pointer[settings]
	handler transport.Handler
	log     *slog.Logger

	accepted, handshakeFailed, closedSlow, closedOversize, closedIdle, closedProtocol, received, rejected atomic.Uint64
	active                                                                                                atomic.Int64
	fallbacks                                                                                             atomic.Int64 // connections the Fallback serves: in MaxConns, not in Active
	lastFullLog                                                                                           atomic.Int64

	pending handshakes
}

// maxHandshakes bounds handshakes in progress. Past it, the oldest one
// still waiting for its request is dropped to make room: a client that
// opens a socket and sends nothing (thousands of them, each held up to
// ws.handshake_timeout) can then never keep out a real client, which sends
// its request as soon as it connects. The accept loop never waits.
const maxHandshakes = 4096

// handshakes are the connections between accept and the end of their
// handshake, oldest first.
type handshakes struct {
	mu   sync.Mutex
	list list.List // of net.Conn
}

// add records nc, dropping the oldest handshake first when maxHandshakes
// are in progress; done(e) must follow.
func (h *handshakes) add(nc net.Conn) *list.Element {
	h.mu.Lock()
	var oldest net.Conn
	if h.list.Len() >= maxHandshakes {
		oldest = h.list.Remove(h.list.Front()).(net.Conn)
	}
	e := h.list.PushBack(nc)
	h.mu.Unlock()
	if oldest != nil {
		oldest.Close() // its handshake fails and its goroutine ends
	}
	return e
}

// done forgets a handshake that ended (or was dropped).
func (h *handshakes) done(e *list.Element) {
	h.mu.Lock()
	h.list.Remove(e) // a no-op for one add already dropped
	h.mu.Unlock()
}

// len is the number of handshakes in progress.
func (h *handshakes) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.list.Len()
}

// full503 is the answer to a connection past MaxConns.
const full503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\nConnection: close\r\n\r\nconnection limit reached (ws.max_connections)\n"

// admit reports whether a new connection may go on to the handshake; one
// past MaxConns gets 503 and is closed, so the descriptors left stay free
// for the backend ports and the clients already in.
func (b *base) admit(nc net.Conn) bool {
	max := b.opts().MaxConns
	if max <= 0 || b.active.Load()+b.fallbacks.Load()+int64(b.pending.len()) < int64(max) {
		return true
	}
	b.rejected.Add(1)
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(nc, full503)
	nc.Close()
	if now := time.Now().Unix(); b.lastFullLog.Swap(now) < now-10 {
		b.log.Warn("connection limit reached; new clients get 503 (ws.max_connections)", "limit", max)
	}
	return false
}

func (b *base) init(o Options, h transport.Handler, log *slog.Logger) {
	b.handler, b.log = h, log
	b.cur.Store(newSettings(o))
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

// SetOptions applies new limits and heartbeat settings to every connection
// from its next frame on.
func (b *base) SetOptions(o Options) { b.cur.Store(newSettings(o)) }

func (b *base) opts() *settings { return b.cur.Load() }

// Stats returns the counters.
func (b *base) Stats() Stats {
	return Stats{
		Accepted: b.accepted.Load(), Active: b.active.Load(), HandshakeFailed: b.handshakeFailed.Load(),
		ClosedSlow: b.closedSlow.Load(), ClosedOversize: b.closedOversize.Load(), ClosedIdle: b.closedIdle.Load(),
		ClosedProtocol: b.closedProtocol.Load(), MessagesReceived: b.received.Load(), RejectedFull: b.rejected.Load(),
	}
}

// countClose counts a close the server started for a bad frame or message.
func (b *base) countClose(code ws.StatusCode) {
	if code == ws.StatusMessageTooBig {
		b.closedOversize.Add(1)
	} else {
		b.closedProtocol.Add(1)
	}
}

// message handles one whole client message: the text "ping" gets the
// heartbeat reply (never the app), anything else goes to the peer.
func (b *base) message(c interface {
	Send([]byte) bool
	deliver(bool, []byte)
}, binary bool, msg []byte) {
	b.received.Add(1)
	if !binary && string(msg) == "ping" {
		if r := b.opts().pingReply; r != nil {
			c.Send(r)
		}
		return
	}
	c.deliver(binary, msg)
}

// server is what a transport gives base.serve.
type server interface {
	begin(ln net.Listener) bool // records ln; false once shut down
	stopped() <-chan struct{}   // closed by Shutdown
	each(fn func(pingable))     // every connection
	handle(nc net.Conn)         // an admitted connection
}

// serve runs s's accept loop on ln: the server ping starts, and each
// admitted connection goes to s.handle.
func (b *base) serve(ln net.Listener, s server) error {
	if !s.begin(ln) {
		return nil
	}
	go b.pingIdle(s.stopped(), s.each)
	return accept.Loop(ln, b.log, func(nc net.Conn) {
		b.accepted.Add(1)
		if b.admit(nc) {
			s.handle(nc)
		}
	})
}

// pingable is a connection the server ping looks at.
type pingable interface {
	lastReadNanos() int64
	Send([]byte) bool
}

// pingIdle sends the server ping to clients that were silent for a whole
// interval (GatewayWorker's pingData), until stop is closed.
func (b *base) pingIdle(stop <-chan struct{}, each func(func(pingable))) {
	interval := b.opts().ServerPingInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			o := b.opts()
			if o.ServerPingInterval != interval { // changed by a reload
				interval = o.ServerPingInterval
				t.Reset(interval)
			}
			if o.pingFrame == nil {
				continue
			}
			idleSince := now.Add(-interval).UnixNano()
			each(func(c pingable) {
				if c.lastReadNanos() <= idleSince {
					c.Send(o.pingFrame)
				}
			})
		}
	}
}

// closeLinger is how long a closing connection waits for the client's close
// frame (or EOF) after sending its own, before the socket is dropped.
const closeLinger = 2 * time.Second

// upgrade runs the server side of the WebSocket handshake on nc within the
// handshake timeout and header cap of o. A handshake over the cap is
// answered with 431. The deadline is cleared on success.
func upgrade(nc net.Conn, o *settings) (*transport.Request, *fallbackRequest, error) {
	req := &transport.Request{RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	up := ws.Upgrader{
		OnRequest: func(uri []byte) error { req.URI = string(uri); return nil },
		OnHost: func(host []byte) error { // gobwas reports Host here, not to OnHeader
			req.Headers = append(req.Headers, transport.Header{Name: "Host", Value: string(host)})
			return nil
		},
		OnHeader: func(k, v []byte) error {
			req.Headers = append(req.Headers, transport.Header{Name: string(k), Value: string(v)})
			return nil
		},
	}
	if o.Check != nil {
		up.OnBeforeUpgrade = func() (ws.HandshakeHeader, error) {
			if r := o.Check(req); r != nil {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(r.Status), ws.RejectionReason(r.Reason))
			}
			return ws.HandshakeHeaderString(""), nil
		}
	}
	nc.SetDeadline(time.Now().Add(o.HandshakeTimeout))
	hr := &headerReader{r: nc, left: o.MaxHeaderSize}
	var r io.Reader = hr
	if o.Static != nil || o.Fallback != nil {
		// The request line says whether this is a handshake at all; it is
		// given back to the handshake's reader when it is.
		br := lineReaders.Get().(*bufio.Reader)
		br.Reset(hr)
		keep := false // the fallback goes on reading through br
		defer func() {
			if !keep {
				br.Reset(nil)
				lineReaders.Put(br)
			}
		}()
		// line stays valid while it is read first: br refills only after.
		line, _ := br.ReadSlice('\n')
		method, path := requestLine(line)
		if method == http.MethodGet && o.Static != nil {
			if body, ctype, ok := o.Static(path); ok {
				serveStatic(nc, br, body, ctype)
				return nil, nil, errStatic
			}
		}
		if o.Fallback != nil && o.Fallback.Match(path) {
			rr := bufio.NewReader(io.MultiReader(bytes.NewReader(line), br))
			hreq, err := http.ReadRequest(rr)
			if err != nil {
				return nil, nil, fmt.Errorf("fallback request: %w", err)
			}
			hr.left = math.MaxInt // a body is the fallback's to bound
			nc.SetDeadline(time.Time{})
			keep = true
			return nil, &fallbackRequest{req: hreq, br: rr}, errFallback
		}
		r = io.MultiReader(bytes.NewReader(line), br)
	}
	if _, err := up.Upgrade(struct {
		io.Reader
		io.Writer
	}{r, nc}); err != nil {
		if errors.Is(err, errHeaderTooLarge) {
			io.WriteString(nc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhandshake over ws.max_header_size\n")
		}
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	return req, nil, nil
}

// requestLine returns the method and path of an HTTP request line.
func requestLine(line []byte) (method, path string) {
	m, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return "", ""
	}
	target, _, _ := bytes.Cut(rest, []byte{' '})
	target, _, _ = bytes.Cut(target, []byte{'?'})
	return string(m), string(target)
}

// lineReaders read handshakes' request lines: pooled, since every
// connection needs one only for its handshake.
var lineReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1024) }}

// fallbackRequest is a plain HTTP request for Options.Fallback.
type fallbackRequest struct {
	req *http.Request
	br  *bufio.Reader
}

// errFallback ends a handshake that was a request for Options.Fallback.
var errFallback = errors.New("a plain HTTP request for the fallback transport")

// serveFallback runs the fallback for fb on nc, counted against MaxConns
// (Shutdown does not wait for it: the fallback ends its own connections).
func (b *base) serveFallback(nc net.Conn, fb *fallbackRequest) {
	b.fallbacks.Add(1)
	defer b.fallbacks.Add(-1)
	b.opts().Fallback.Serve(nc, fb.req, fb.br)
}

var errHeaderTooLarge = errors.New("handshake larger than ws.max_header_size")

// errStatic ends a request Options.Static answered: not a handshake.
var errStatic = errors.New("a file was served, not a WebSocket")

// serveStatic writes a file as the whole answer to a request, then reads
// what is left of the request (closing a socket with unread bytes would
// reset it before the client read the answer), within the handshake's
// deadline and header cap.
func serveStatic(nc net.Conn, rest io.Reader, body, ctype string) {
	fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-cache\r\n"+
		"Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n%s", ctype, len(body), body)
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, rest)
}

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

// goingAway is the close frame every client gets when the server shuts down.
var goingAway = closeFrame(int(ws.StatusGoingAway), "server shutting down")

// closeFrame is a compiled close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	return ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
}

// keepHead drops all of a write queue but its head, which may be the rest
// of a frame already partly written and must go out whole; it returns the
// queue and how many bytes it dropped.
func keepHead(queue [][]byte) ([][]byte, int) {
	if len(queue) <= 1 {
		return queue, 0
	}
	dropped := 0
	for _, f := range queue[1:] {
		dropped += len(f)
	}
	clear(queue[1:])
	return queue[:1], dropped
}

// peerState gives a connection's Peer its events one at a time, and none
// after Closed, which comes as soon as the connection starts closing.
type peerState struct {
	peerMu   sync.Mutex
	peer     transport.Peer
	peerDone bool
}

// setPeer installs the peer Open returned; a close that came first is
// reported to it now.
func (s *peerState) setPeer(p transport.Peer) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	s.peer = p
	if s.peerDone {
		p.Closed()
	}
}

// deliver passes a message to the peer unless the connection is closing.
func (s *peerState) deliver(binary bool, msg []byte) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	if !s.peerDone && s.peer != nil {
		s.peer.Message(binary, msg)
	}
}

// gone tells the peer, once, that the connection is over.
func (s *peerState) gone() {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	s.goneLocked()
}

func (s *peerState) goneLocked() {
	if s.peerDone {
		return
	}
	s.peerDone = true
	if s.peer != nil {
		s.peer.Closed()
	}
}

// goneSoon reports the close now, inline, unless a message is being
// delivered at this moment (the caller may be inside it): then right after.
func (s *peerState) goneSoon() {
	if s.peerMu.TryLock() {
		s.goneLocked()
		s.peerMu.Unlock()
	} else {
		go s.gone()
	}
}

// verdict is what one client frame asks the connection to do.
type verdict int

const (
	vNone    verdict = iota // nothing yet (a fragment, a pong)
	vMessage                // a whole message is ready: deliver it
	vPing                   // answer a ping frame with this pong payload
	vClose                  // the client sent a close frame: reply and finish
	vFail                   // protocol error or oversize: close with status
)

// assembler turns one connection's frames into messages and checks them
// as RFC 6455 requires; both transports feed it.
type assembler struct {
	msg       []byte
	binary    bool
	inMessage bool
}

// check rejects a frame header before its payload is read.
func (a *assembler) check(h ws.Header, maxMessage int) (ws.StatusCode, string) {
	if perr := checkHeader(h); perr != "" {
		return ws.StatusProtocolError, perr
	}
	if !h.OpCode.IsControl() && (h.Length > int64(maxMessage) || int64(len(a.msg))+h.Length > int64(maxMessage)) {
		return ws.StatusMessageTooBig, "message too big"
	}
	return 0, ""
}

// frame takes one frame whose payload is unmasked. With vMessage the
// message is in a.msg until the next call; vFail carries the close status.
func (a *assembler) frame(h ws.Header, payload []byte) (verdict, ws.StatusCode, string) {
	switch h.OpCode {
	case ws.OpPing:
		return vPing, 0, ""
	case ws.OpPong:
		return vNone, 0, ""
	case ws.OpClose:
		return closeVerdict(payload)
	case ws.OpContinuation:
		if !a.inMessage {
			return vFail, ws.StatusProtocolError, "continuation without a message"
		}
		a.msg = append(a.msg, payload...)
	default: // text or binary
		if a.inMessage {
			return vFail, ws.StatusProtocolError, "new message inside a fragmented one"
		}
		a.msg, a.binary, a.inMessage = payload, h.OpCode == ws.OpBinary, true
		if !h.Fin { // payload may live in a read buffer that the next read reuses
			a.msg = append([]byte(nil), payload...)
		}
	}
	if !h.Fin {
		return vNone, 0, ""
	}
	a.inMessage = false
	if !a.binary && !utf8.Valid(a.msg) {
		return vFail, ws.StatusInvalidFramePayloadData, "text message is not UTF-8"
	}
	return vMessage, 0, ""
}

// closeVerdict checks a client's close frame (RFC 6455 5.5.1, 7.4): no
// payload, or a valid status code and a UTF-8 reason, is answered with the
// same code (1000 when there is none); a 1-byte payload or a code no
// endpoint may send gets 1002, a reason that is not UTF-8 1007.
func closeVerdict(payload []byte) (verdict, ws.StatusCode, string) {
	switch {
	case len(payload) == 0:
		return vClose, ws.StatusNormalClosure, ""
	case len(payload) == 1:
		return vFail, ws.StatusProtocolError, "close frame with a 1-byte payload"
	}
	code, reason := ws.ParseCloseFrameData(payload)
	if !validCloseCode(code) {
		return vFail, ws.StatusProtocolError, fmt.Sprintf("close code %d may not be sent", code)
	}
	if !utf8.ValidString(reason) {
		return vFail, ws.StatusInvalidFramePayloadData, "close reason is not UTF-8"
	}
	return vClose, code, ""
}

// validCloseCode reports whether a peer may send code in a close frame:
// 1000-1003 and 1007-1014 (the defined ones, not 1004-1006 or 1015, which
// are never sent), 3000-4999 (libraries and applications).
func validCloseCode(code ws.StatusCode) bool {
	c := int(code)
	return c >= 1000 && c <= 1003 || c >= 1007 && c <= 1014 || c >= 3000 && c <= 4999
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
