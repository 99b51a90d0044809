// Package transport is the connection layer: it accepts WebSocket clients,
// runs the handshake, reads and validates frames, keeps each client's bounded
// write queue, enforces heartbeats and limits, and hands complete messages to
// a Handler. Transport is the interface, with two implementations: NewEpoll
// (Linux: one epoll loop per core, no goroutine or buffer per idle
// connection) and NewPortable (a goroutine per connection, any OS, and
// every wss:// listener).
package transport

import (
	"context"
	"net"
	"strings"
	"time"
)

// Transport serves WebSocket clients on a listener.
type Transport interface {
	// Serve accepts connections on ln until Shutdown; it returns nil after
	// Shutdown and an error if accepting fails otherwise.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, sends every client a close frame with 1001
	// (going away) and waits until they are gone or ctx ends, when the rest
	// are dropped.
	Shutdown(ctx context.Context) error
	// Stats returns the listener's counters.
	Stats() Stats
	// SetOptions replaces the limits and heartbeat settings (on reload);
	// connections apply them from their next frame on.
	SetOptions(Options)
}

// Conn is one client connection. Send and Close never block.
type Conn interface {
	// Send queues an encoded server frame; false when closed or too slow.
	Send(frame []byte) bool
	// Close queues a close frame after what is queued, then closes.
	Close(code int, reason string)
	// Destroy closes at once, dropping what is queued.
	Destroy()
	// RemoteAddr is the client's address.
	RemoteAddr() net.Addr
}

// Request is what the client's handshake asked for.
type Request struct {
	URI        string
	Headers    []Header // in the order the client sent them
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Header is one handshake request header.
type Header struct{ Name, Value string }

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

// Close codes thinkgate sends when it drops a client itself, so that the
// client can tell being dropped from a network fault (RFC 6455 leaves
// 3000-3999 to libraries and frameworks). The close frame is best effort:
// it follows the frame being written, if any, everything else queued is
// dropped, and the socket goes after DropGrace at the latest.
const (
	CloseIdle      = 3001 // nothing received within heartbeat.timeout
	CloseSlow      = 3002 // more than ws.max_send_buffer waiting to be sent
	CloseDestroyed = 3003 // destroyClient
)

// DropGrace bounds how long a dropped client's close frame may take.
const DropGrace = time.Second

// Options are the limits and heartbeat settings of a Transport.
type Options struct {
	MaxMessageSize     int           // largest inbound message; above it the client is closed with 1009
	MaxSendBuffer      int           // a client with this many bytes waiting is closed as too slow when the next frame comes; one frame is always taken while less waits, whatever its size
	HandshakeTimeout   time.Duration // time to finish the handshake
	MaxHeaderSize      int           // bytes the handshake request may take; larger gets 431
	IdleTimeout        time.Duration // close a client silent this long; 0 disables
	PingReply          string        // answer to the text message "ping"; empty sends nothing
	ServerPing         string        // sent to clients idle for ServerPingInterval; empty sends nothing
	ServerPingInterval time.Duration
	MaxConns           int // clients at once; a connection past it gets 503 at once; 0: no limit

	// Check, when set, sees every handshake request before it is accepted;
	// a non-nil Rejection answers it with that HTTP status instead of 101.
	Check func(*Request) *Rejection
}

// Rejection refuses a handshake with an HTTP status and a reason.
type Rejection struct {
	Status int
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// Stats counts what happened on one transport.
type Stats struct {
	Accepted         uint64 `json:"accepted"`
	Active           int64  `json:"active"`
	HandshakeFailed  uint64 `json:"handshake_failed"`
	ClosedSlow       uint64 `json:"closed_slow"`
	ClosedOversize   uint64 `json:"closed_oversize"`
	ClosedIdle       uint64 `json:"closed_idle"`
	ClosedProtocol   uint64 `json:"closed_protocol_error"`
	MessagesReceived uint64 `json:"messages_received"`
	RejectedFull     uint64 `json:"rejected_full"` // turned away with 503: MaxConns reached
}
