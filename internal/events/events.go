// Package events defines where client events go: an EventSink receives each
// WebSocket client's connect, messages and close, in that order per client.
// Sinks are GatewayWorker BusinessWorkers today and PHP workers or webhooks
// later; the gateway does not care which.
package events

import (
	"thinkgate/internal/hub"
	"thinkgate/internal/transport"
)

// Conn is a new client and the handshake it made.
type Conn struct {
	Client  *hub.Client
	Request *transport.Request
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
