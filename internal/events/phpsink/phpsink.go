// Package phpsink hands client events to the resident PHP workers
// (events.sink = "php").
package phpsink

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"unicode/utf8"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpworker"
)

// Sink hands WebSocket events to the resident PHP workers (events.sink =
// "php"): each event is a WS_EVENT frame to any free worker, one in flight
// per client so a client's events stay in order. A reply is sent back to
// that client; false from a connect handler closes it with 4003. Each
// client's handshake (URI, headers, address) is kept while it is connected,
// since every event carries it (ThinkPHP's pseudo-requests need its cookies).
type Sink struct {
	pool *phpworker.Pool
	hub  *hub.Hub
	log  *slog.Logger

	mu     sync.Mutex
	queues map[*hub.Client][]wsEvent
	shakes map[*hub.Client]*handshake // every event carries its client's handshake
}

// handshake is what a client's connect request said.
type handshake struct {
	uri     string
	headers map[string]string
	remote  string
}

// closeRejected is the close code for a client the app's connect handler refused.
const closeRejected = 4003

// maxPendingEvents bounds one client's events waiting for PHP; a client that
// sends faster than the app handles its messages is closed with 1013 (try
// again later) instead of growing the queue without end.
const maxPendingEvents = 256

type wsEvent struct {
	meta []byte
	body []byte
	kind string
}

type wsEventMeta struct {
	Event    string            `json:"event"`
	ClientID string            `json:"client_id"`
	UID      string            `json:"uid,omitempty"`
	Binary   bool              `json:"binary,omitempty"`
	URI      string            `json:"uri,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Remote   string            `json:"remote,omitempty"`
}

// New returns a sink that runs events on pool's workers and sends their
// replies through h.
func New(pool *phpworker.Pool, h *hub.Hub, log *slog.Logger) *Sink {
	return &Sink{pool: pool, hub: h, log: log, queues: map[*hub.Client][]wsEvent{}, shakes: map[*hub.Client]*handshake{}}
}

func (s *Sink) Connect(c *events.Conn) {
	hs := &handshake{headers: map[string]string{}}
	if r := c.Handshake; r != nil {
		hs.uri = r.URI
		for _, h := range r.Headers {
			hs.headers[h.Name] = h.Value
		}
		if r.RemoteAddr != nil {
			hs.remote = r.RemoteAddr.String()
		}
	}
	s.mu.Lock()
	s.shakes[c.Client] = hs
	s.mu.Unlock()
	s.enqueue(c.Client, wsEventMeta{Event: "connect", ClientID: c.Client.ID, UID: c.Client.UID()}, nil)
}

func (s *Sink) Message(c *hub.Client, binary bool, data []byte) {
	// data is only valid during this call.
	s.enqueue(c, wsEventMeta{Event: "message", ClientID: c.ID, UID: c.UID(), Binary: binary}, append([]byte(nil), data...))
}

func (s *Sink) Close(c *hub.Client) {
	s.enqueue(c, wsEventMeta{Event: "close", ClientID: c.ID, UID: c.UID()}, nil)
	s.mu.Lock()
	delete(s.shakes, c)
	s.mu.Unlock()
}

// enqueue queues an event for c, with its handshake, and starts its drain
// when none runs.
func (s *Sink) enqueue(c *hub.Client, m wsEventMeta, body []byte) {
	s.mu.Lock()
	hs := s.shakes[c]
	s.mu.Unlock()
	if hs != nil {
		m.URI, m.Headers, m.Remote = hs.uri, hs.headers, hs.remote
	}
	// Encoded outside the lock every client shares; one client's events come
	// from one goroutine, so their order is kept.
	meta, _ := json.Marshal(m)
	s.mu.Lock()
	q, running := s.queues[c]
	if len(q) >= maxPendingEvents && m.Event == "message" {
		s.mu.Unlock()
		s.log.Warn("client closed: too many messages waiting for PHP", "client_id", c.ID, "pending", len(q))
		c.Close(1013, "too many pending messages")
		return
	}
	s.queues[c] = append(q, wsEvent{meta: meta, body: body, kind: m.Event})
	s.mu.Unlock()
	if !running {
		go s.drain(c)
	}
}

// drain runs c's events one after another until none is left.
func (s *Sink) drain(c *hub.Client) {
	for {
		s.mu.Lock()
		q := s.queues[c]
		if len(q) == 0 {
			delete(s.queues, c)
			s.mu.Unlock()
			return
		}
		e := q[0]
		q[0] = wsEvent{}
		s.queues[c] = q[1:]
		s.mu.Unlock()
		s.run(c, e)
	}
}

// run hands one event to a worker and acts on its reply.
func (s *Sink) run(c *hub.Client, e wsEvent) {
	// The pool bounds the wait for a worker (php.queue_timeout) and the
	// handler's run (php.request_timeout).
	var reply *phpworker.Frame
	err := s.pool.Serve(context.Background(), &phpworker.Frame{Type: phpworker.TypeWSEvent, Meta: e.meta, Body: e.body}, func(f *phpworker.Frame) error {
		if reply == nil {
			reply = f
		}
		return nil
	})
	if err != nil {
		s.log.Warn("websocket event not handled by PHP", "event", e.kind, "client_id", c.ID, "err", err)
		return
	}
	if reply == nil || reply.Type != phpworker.TypeResp {
		return // an ERROR frame: PHP logged the exception
	}
	var m struct {
		Reject bool `json:"reject"`
	}
	json.Unmarshal(reply.Meta, &m)
	if e.kind == "connect" && m.Reject {
		c.Close(closeRejected, "rejected by the app")
		return
	}
	if len(reply.Body) > 0 && e.kind != "close" {
		if utf8.Valid(reply.Body) {
			s.hub.Send(c, hub.NewText(reply.Body))
		} else {
			s.hub.Send(c, &hub.Message{Binary: true, Data: reply.Body})
		}
	}
}
