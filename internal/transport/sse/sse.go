// Package sse is the Server-Sent Events transport, for networks and proxies
// that break WebSocket: a client opens GET <path> (an EventSource) and gets
// its messages as events on that one response; what it sends goes up as
// POST <path>/send?key=<key>, the key being the first event of its stream.
// It serves on the WebSocket listener's port as its Fallback (plain HTTP
// requests for its paths), and hands connections to the same
// transport.Handler: the session layer does not see the difference, except
// for the framing of what it sends (Frame).
package sse

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"sync"
	"time"

	"thinkgate/internal/transport"
)

// Options configure the transport.
type Options struct {
	Path          string        // of the stream; upstream messages go to Path+"/send"
	MaxSendBuffer int           // bytes waiting for a client; one more message past it closes it as too slow
	MaxMessage    int           // the largest upstream message
	Heartbeat     time.Duration // a comment line this often, so proxies keep the response open and a gone client is seen
	WriteTimeout  time.Duration // for each write
	// Check, when set, sees every stream request before it is accepted; a
	// non-nil Rejection answers it with that status instead.
	Check func(*transport.Request) *transport.Rejection
}

// Server is the transport.
type Server struct {
	o       Options
	handler transport.Handler
	log     *slog.Logger

	mu    sync.Mutex
	conns map[string]*conn // by key
	down  bool             // Shutdown: no new streams
}

// New returns the transport; its clients are h's.
func New(o Options, h transport.Handler, log *slog.Logger) *Server {
	return &Server{o: o, handler: h, log: log, conns: map[string]*conn{}}
}

// Frame is one event carrying data (a single line: JSON), with an id when
// id is not "" (what EventSource sends back as Last-Event-ID).
func Frame(id string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(id)+16)
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	b = append(append(b, "data: "...), data...)
	return append(b, '\n', '\n')
}

// Shutdown ends every stream with a close event (1001, going away); a new
// stream gets 503 from then on.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.down = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(1001, "server shutting down")
	}
}

// Match reports whether path is the transport's.
func (s *Server) Match(path string) bool { return path == s.o.Path || path == s.o.Path+"/send" }

// Serve answers one request: a stream, or an upstream message.
func (s *Server) Serve(nc net.Conn, r *http.Request, br *bufio.Reader) {
	switch {
	case r.URL.Path == s.o.Path && r.Method == http.MethodGet:
		s.stream(nc, r)
	case r.URL.Path == s.o.Path+"/send" && r.Method == http.MethodPost:
		s.send(nc, r, br)
	case r.Method == http.MethodOptions:
		reply(nc, r, 204, "")
	default:
		reply(nc, r, 405, "GET "+s.o.Path+" for the stream, POST "+s.o.Path+"/send?key=... for a message\n")
	}
}

// cors are the headers that let a page of another origin read the answer
// (the Origin allow-list, auth.origins, has been checked already).
func cors(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "Access-Control-Allow-Origin: *\r\n"
	}
	return "Access-Control-Allow-Origin: " + origin + "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
}

func reply(nc net.Conn, r *http.Request, status int, body string) {
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%sAccess-Control-Allow-Methods: GET, POST\r\nAccess-Control-Allow-Headers: Content-Type, Last-Event-ID\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), cors(r), body)
}

// request is the transport.Request of an HTTP request.
func request(nc net.Conn, r *http.Request) *transport.Request {
	req := &transport.Request{URI: r.RequestURI, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	req.Headers = append(req.Headers, transport.Header{Name: "Host", Value: r.Host})
	for name, vs := range r.Header {
		for _, v := range vs {
			req.Headers = append(req.Headers, transport.Header{Name: name, Value: v})
		}
	}
	return req
}

func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stream serves one client until it goes, or is closed.
func (s *Server) stream(nc net.Conn, r *http.Request) {
	req := request(nc, r)
	if s.o.Check != nil {
		if rej := s.o.Check(req); rej != nil {
			reply(nc, r, rej.Status, rej.Reason+"\n")
			return
		}
	}
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		reply(nc, r, 503, "server shutting down\n")
		return
	}
	c := &conn{s: s, nc: nc, key: newKey(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	nc.SetWriteDeadline(time.Now().Add(s.o.WriteTimeout))
	if _, err := fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n%s\r\n", cors(r)); err != nil {
		return
	}
	// The first event: where this stream's client sends its messages.
	c.Send(Frame("", []byte(`{"type":"sse","key":"`+c.key+`"}`)))
	s.mu.Lock()
	s.conns[c.key] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c.key)
		s.mu.Unlock()
	}()
	c.peer = s.handler.Open(c, req)
	go c.watch() // the client sends nothing more: a read ends when it goes
	c.write()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.peerMu.Lock()
	c.peer.Closed()
	c.peerMu.Unlock()
}

// send takes one upstream message for the stream its key names.
func (s *Server) send(nc net.Conn, r *http.Request, br *bufio.Reader) {
	s.mu.Lock()
	c := s.conns[r.URL.Query().Get("key")]
	s.mu.Unlock()
	if c == nil {
		reply(nc, r, 404, "no stream has that key (it ended, or never was)\n")
		return
	}
	if r.ContentLength < 0 || r.ContentLength > int64(s.o.MaxMessage) {
		reply(nc, r, 413, "a message needs a Content-Length of at most "+strconv.Itoa(s.o.MaxMessage)+" bytes\n")
		return
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	body := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(br, body); err != nil {
		return
	}
	c.peerMu.Lock()
	gone := c.isClosed()
	if !gone {
		c.peer.Message(false, body)
	}
	c.peerMu.Unlock()
	if gone {
		reply(nc, r, 404, "the stream ended\n")
		return
	}
	reply(nc, r, 204, "")
}

// conn is one stream.
type conn struct {
	s    *Server
	nc   net.Conn
	key  string
	peer transport.Peer
	wake chan struct{}
	done chan struct{} // closed when the client is gone

	peerMu sync.Mutex // one call at a time to peer (the stream and its POSTs)

	mu      sync.Mutex
	queue   [][]byte
	pending int
	closing bool // a close event is queued; no more sends
	closed  bool
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.closing
}

// Send queues an event; false when closed, or closed now as too slow.
func (c *conn) Send(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.closed {
		return false
	}
	if c.pending > 0 && c.pending+len(b) > c.s.o.MaxSendBuffer {
		c.dropLocked(3002, "too slow")
		return false
	}
	c.queue = append(c.queue, b)
	c.pending += len(b)
	c.kick()
	return true
}

func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dropLocked drops what waits and queues a close event.
func (c *conn) dropLocked(code int, reason string) {
	c.queue, c.pending = nil, 0
	c.closeLocked(code, reason)
}

func (c *conn) closeLocked(code int, reason string) {
	if c.closing || c.closed {
		return
	}
	ev := Frame("", []byte(fmt.Sprintf(`{"type":"close","code":%d,"reason":%q}`, code, reason)))
	c.queue = append(c.queue, ev)
	c.closing = true
	c.kick()
}

// Close queues a close event after what waits; the stream ends after it.
func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	c.closeLocked(code, reason)
	c.mu.Unlock()
}

// Destroy ends the stream at once.
func (c *conn) Destroy() {
	c.mu.Lock()
	c.queue, c.pending, c.closing = nil, 0, true
	c.mu.Unlock()
	c.nc.Close()
}

// RemoteAddr is the client's address.
func (c *conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetIdleCode does nothing: a stream's client sends nothing to be idle about.
func (c *conn) SetIdleCode(uint16) {}

// watch ends the stream when the client closes its side.
func (c *conn) watch() {
	// A small buffer of its own: io.Copy would hold a pooled 8-32 KiB one
	// for the stream's whole life.
	var b [64]byte
	for {
		if _, err := c.nc.Read(b[:]); err != nil {
			break
		}
	}
	close(c.done)
}

// write sends what is queued, and a heartbeat comment when nothing is, until
// the stream closes or a write fails.
func (c *conn) write() {
	beat := time.NewTicker(c.s.o.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-c.wake:
		case <-beat.C:
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.queue = append(c.queue, []byte(": ping\n\n"))
			}
			c.mu.Unlock()
		case <-c.done:
			return
		}
		c.mu.Lock()
		batch, last := c.queue, c.closing
		c.queue, c.pending = nil, 0
		c.mu.Unlock()
		for _, b := range batch {
			c.nc.SetWriteDeadline(time.Now().Add(c.s.o.WriteTimeout))
			if _, err := c.nc.Write(b); err != nil {
				return
			}
		}
		if last {
			c.mu.Lock()
			done := len(c.queue) == 0
			c.mu.Unlock()
			if done {
				c.nc.Close()
				return
			}
		}
	}
}
