// Package events defines where client events go: a Sink receives each
// client's connect, messages and close, in that order per client. Sinks are
// GatewayWorker BusinessWorkers, the resident PHP workers (events/php),
// webhooks and the admin page's recorder; the session layer that produces
// the events does not care which. Events import no transport: a client's
// opening request reaches sinks as a Handshake.
package events

import (
	"net"
	"strings"

	"thinkgate/internal/hub"
)

// Conn is a new client and the handshake it made.
type Conn struct {
	Client    *hub.Client
	Handshake *Handshake
}

// Handshake is the request a client opened its connection with.
type Handshake struct {
	URI        string
	Headers    []Header // in the order the client sent them
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Header is one request header. It is the same type as transport.Header
// (an alias of one struct type), so a transport's headers pass without a copy.
type Header = struct{ Name, Value string }

// Lookup returns the first value of the named header (any case) and
// whether the client sent it.
func (h *Handshake) Lookup(name string) (string, bool) {
	for _, x := range h.Headers {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}

// Sink receives client events. Calls for one client come from one goroutine,
// in order; a Sink must not block for long.
type Sink interface {
	Connect(c *Conn)
	Message(c *hub.Client, binary bool, data []byte)
	Close(c *hub.Client)
}

// Multi passes every event to each of its sinks, in order.
type Multi []Sink

// Connect tells every sink.
func (m Multi) Connect(c *Conn) {
	for _, s := range m {
		s.Connect(c)
	}
}

// Message tells every sink.
func (m Multi) Message(c *hub.Client, binary bool, data []byte) {
	for _, s := range m {
		s.Message(c, binary, data)
	}
}

// Close tells every sink.
func (m Multi) Close(c *hub.Client) {
	for _, s := range m {
		s.Close(c)
	}
}
