// Package transport is what every client transport has in common: a
// connection the session layer can queue encoded bytes on, the request that
// opened it, and the Handler and Peer through which a transport hands a
// connection and its messages up.
//
// A transport moves bytes and enforces its own limits (handshake, sizes,
// heartbeats, slow readers); it knows nothing of client protocols, the hub or
// events. Each transport is a package below this one: websocket (RFC 6455,
// the epoll and portable implementations) today, SSE or raw TCP beside it
// later. See docs/architecture.md for which package may import which.
package transport

import (
	"net"
	"strings"
)

// Conn is one client connection. Send and Close never block.
type Conn interface {
	// Send queues bytes already encoded in the transport's framing (see the
	// transport's Frame function); false when closed or too slow.
	Send(encoded []byte) bool
	// Close queues a close with code and reason after what is queued, then
	// closes.
	Close(code int, reason string)
	// Destroy closes at once, dropping what is queued.
	Destroy()
	// RemoteAddr is the client's address.
	RemoteAddr() net.Addr
	// SetIdleCode sets the close code the transport drops the client with
	// when it has been silent too long (a client protocol's own code);
	// 0 keeps the transport's.
	SetIdleCode(code uint16)
}

// Request is what the client's opening request (a WebSocket handshake)
// asked for.
type Request struct {
	URI        string
	Headers    []Header // in the order the client sent them
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Header is one request header (an alias of one struct type, shared with
// events.Header, so headers reach event sinks without a copy).
type Header = struct{ Name, Value string }

// Lookup returns the first value of the named header (any case) and
// whether the client sent it.
func (r *Request) Lookup(name string) (string, bool) {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Path is the request URI without its query.
func (r *Request) Path() string {
	p, _, _ := strings.Cut(r.URI, "?")
	return p
}

// Handler is told about every connection that completes its handshake.
type Handler interface {
	// Open is called once the handshake is written; the returned Peer gets
	// the connection's messages and its end.
	Open(c Conn, r *Request) Peer
}

// Peer receives the events of one connection, one call at a time.
type Peer interface {
	// Message is a complete text or binary message (not a heartbeat 'ping').
	// data is only valid during the call.
	Message(binary bool, data []byte)
	// Closed is called once, when the connection starts closing (a close
	// from either side, an error, a slow or idle client); no Message follows.
	Closed()
}

// Rejection refuses an opening request with an HTTP status and a reason.
type Rejection struct {
	Status int
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }
