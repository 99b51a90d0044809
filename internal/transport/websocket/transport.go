// Package websocket is the WebSocket transport (RFC 6455): it accepts
// clients, runs the handshake, reads and validates frames, keeps each
// client's bounded write queue, enforces heartbeats and limits, and hands
// complete messages to a transport.Handler. It frames nothing on its own
// initiative except control frames: what a client is sent arrives already
// framed (Frame builds a server frame once, for every client of a fan-out).
// Transport is the interface, with two implementations: NewEpoll (Linux: one
// epoll loop per core, no goroutine or buffer per idle connection) and
// NewPortable (a goroutine per connection, any OS, and every wss://
// listener).
package websocket

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"

	"thinkgate/internal/transport"
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

// Fallback serves plain HTTP requests on a WebSocket listener.
type Fallback interface {
	// Match reports whether requests for path are the fallback's.
	Match(path string) bool
	// Serve answers r on nc; br holds what was read past r's header (its
	// body comes from br). The handshake's deadline is cleared.
	Serve(nc net.Conn, r *http.Request, br *bufio.Reader)
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
	Check func(*transport.Request) *transport.Rejection
	// Static, when set, answers plain GET requests (not WebSocket
	// handshakes) for the paths it knows with a file (thinkgate.js); the
	// connection is then closed.
	Static func(path string) (body, contentType string, ok bool)
	// Fallback, when set, takes the plain HTTP requests (not WebSocket
	// handshakes) for the paths it matches: another transport on the same
	// port (Server-Sent Events). The connection counts against MaxConns
	// while Serve runs and is closed when it returns.
	Fallback Fallback
}

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
