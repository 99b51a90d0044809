package server

import (
	"encoding/json"
	"log/slog"

	"thinkgate/internal/config"
	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/transport"
)

// gateway is the transport.Handler that registers WebSocket clients in the
// hub and passes their events to the sink.
type gateway struct {
	hub  *hub.Hub
	cfg  config.WS
	sink events.Sink
	log  *slog.Logger
}

type initMessage struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id"`
}

func (g *gateway) Open(c transport.Conn, r *transport.Request) transport.Peer {
	cl := g.hub.Connect(c)
	if g.cfg.InitMessage {
		b, _ := json.Marshal(initMessage{Type: "init", ClientID: cl.ID})
		g.hub.Send(cl, hub.NewText(b))
	}
	g.log.Debug("client connected", "client_id", cl.ID, "remote", c.RemoteAddr(), "uri", r.URI)
	g.sink.Connect(&events.Conn{Client: cl, Request: r})
	return &peer{g: g, client: cl, bindFirst: g.cfg.BindUIDFromFirstMessage}
}

// peer is one client's event receiver.
type peer struct {
	g         *gateway
	client    *hub.Client
	bindFirst bool // the next text message is the client's uid
}

func (p *peer) Message(binary bool, data []byte) {
	if p.bindFirst && !binary {
		p.bindFirst = false
		if len(data) > 0 {
			p.g.hub.Do(&hub.Command{Op: hub.OpBindUid, ClientID: p.client.ID, UIDs: []string{string(data)}})
			return
		}
	}
	p.g.sink.Message(p.client, binary, data)
}

func (p *peer) Closed() {
	p.g.sink.Close(p.client)
	p.g.hub.Disconnect(p.client)
	p.g.log.Debug("client closed", "client_id", p.client.ID)
}
