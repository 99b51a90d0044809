package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/config"
	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpser"
	"thinkgate/internal/ratelimit"
	"thinkgate/internal/token"
	"thinkgate/internal/transport"
)

// gateway is the transport.Handler that registers WebSocket clients in the
// hub, authenticates them when connect tokens are configured, and passes
// their events to the sink.
type gateway struct {
	hub     *hub.Hub
	cfg     config.WS
	auth    config.Auth
	origins map[string]bool // lower-cased; nil: any
	sink    events.Sink
	log     *slog.Logger

	limits  atomic.Pointer[config.Limits] // in force; reload replaces them
	perIP   ratelimit.Keyed               // new-connection buckets and open counts per address
	limited func(limit string)            // counts a client turned away (metrics); nil: none
}

// closeRateLimited is the close status for a client that sends faster than
// limits.message_rate (4008, as 1008 policy violation, in the app range).
const closeRateLimited = 4008

// limitedAddr is the address per-address limits count r under, or "" when
// they do not apply to it (loopback, unless limits.loopback).
func (g *gateway) limitedAddr(r *transport.Request, lim *config.Limits) string {
	a, ok := r.RemoteAddr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	if a.IP.IsLoopback() && !lim.Loopback {
		return ""
	}
	return a.IP.String()
}

func (g *gateway) countLimited(limit string) {
	if g.limited != nil {
		g.limited(limit)
	}
}

// closeUnauthenticated is the close status for a client that did not
// authenticate (in the 4000-4999 range apps may use).
const closeUnauthenticated = 4001

func newGateway(h *hub.Hub, cfg config.Config, sink events.Sink, log *slog.Logger) *gateway {
	g := &gateway{hub: h, cfg: cfg.WS, auth: cfg.Auth, sink: sink, log: log}
	lim := cfg.Limits
	g.limits.Store(&lim)
	for _, o := range strings.Split(cfg.Auth.Origins, ",") {
		if o = strings.ToLower(strings.TrimSpace(o)); o != "" && o != "*" {
			if g.origins == nil {
				g.origins = map[string]bool{}
			}
			g.origins[strings.TrimRight(o, "/")] = true
		}
	}
	return g
}

type initMessage struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id"`
}

// check runs before a handshake is accepted: the Origin allow-list (403)
// and a token in the URL (401 when it does not verify).
func (g *gateway) check(r *transport.Request) *transport.Rejection {
	if lim := g.limits.Load(); lim != nil {
		if addr := g.limitedAddr(r, lim); addr != "" {
			if lim.ConnectionsPerIP > 0 && g.perIP.Count(addr) >= lim.ConnectionsPerIP {
				g.countLimited("connections_per_ip")
				return &transport.Rejection{Status: 429, Reason: fmt.Sprintf("too many connections from your address (limits.connections_per_ip = %d)", lim.ConnectionsPerIP)}
			}
			if rate := float64(lim.ConnectRatePerIP); !g.perIP.Allow(addr, time.Now(), rate, 2*rate) {
				g.countLimited("connect_rate_per_ip")
				return &transport.Rejection{Status: 429, Reason: fmt.Sprintf("too many new connections from your address (limits.connect_rate_per_ip = %d per second)", lim.ConnectRatePerIP)}
			}
		}
	}
	if g.origins != nil {
		if o, ok := r.Lookup("Origin"); ok && !g.origins[strings.TrimRight(strings.ToLower(o), "/")] {
			return &transport.Rejection{Status: 403, Reason: "origin not allowed (auth.origins)"}
		}
	}
	if tok := urlToken(r.URI); tok != "" && g.auth.Secret != "" {
		if _, err := token.Verify(tok, []byte(g.auth.Secret), time.Now()); err != nil {
			return &transport.Rejection{Status: 401, Reason: err.Error()}
		}
	}
	return nil
}

// urlToken is the token query parameter of a request URI.
func urlToken(uri string) string {
	_, q, ok := strings.Cut(uri, "?")
	if !ok {
		return ""
	}
	v, _ := url.ParseQuery(q)
	return v.Get("token")
}

func (g *gateway) Open(c transport.Conn, r *transport.Request) transport.Peer {
	p := &peer{g: g, conn: c, req: r, bindFirst: g.cfg.BindUIDFromFirstMessage}
	if lim := g.limits.Load(); lim != nil {
		if p.addr = g.limitedAddr(r, lim); p.addr != "" {
			g.perIP.Open(p.addr, 0) // counted; check refuses the one past the limit
		}
	}
	if g.auth.Secret != "" {
		if tok := urlToken(r.URI); tok != "" {
			claims, err := token.Verify(tok, []byte(g.auth.Secret), time.Now())
			if err != nil { // expired between the check and now
				c.Close(closeUnauthenticated, err.Error())
				return p
			}
			p.register(&claims)
			return p
		}
		if g.auth.Required {
			// Nothing reaches this client, and it is in no count, until it
			// authenticates with its first message.
			p.mu.Lock()
			p.pending = true
			p.timer = time.AfterFunc(g.auth.Timeout.Duration, p.authTimeout)
			p.mu.Unlock()
			return p
		}
	}
	p.register(nil)
	return p
}

// peer is one client's event receiver.
type peer struct {
	g         *gateway
	conn      transport.Conn
	req       *transport.Request
	bindFirst bool // the next text message is the client's uid

	addr string           // counted in g.perIP under this address ("" when not)
	msgs ratelimit.Bucket // limits.message_rate; only Message touches it

	mu      sync.Mutex
	client  *hub.Client // nil while pending
	pending bool        // waiting for the auth message
	closed  bool
	timer   *time.Timer
}

// register puts the client in the hub, applies the token's claims, sends
// the init message and tells the sink.
func (p *peer) register(claims *token.Claims) {
	g := p.g
	cl := g.hub.Connect(p.conn)
	p.mu.Lock()
	p.client, p.pending = cl, false
	p.mu.Unlock()
	if claims != nil {
		g.apply(cl, claims)
	}
	if g.cfg.InitMessage {
		b, _ := json.Marshal(initMessage{Type: "init", ClientID: cl.ID})
		g.hub.Send(cl, hub.NewText(b))
	}
	g.log.Debug("client connected", "client_id", cl.ID, "remote", p.conn.RemoteAddr(), "uri", p.req.URI)
	g.sink.Connect(&events.Conn{Client: cl, Request: p.req})
}

// apply binds the token's uid, joins its groups and sets its session.
func (g *gateway) apply(cl *hub.Client, c *token.Claims) {
	g.hub.Do(&hub.Command{Op: hub.OpBindUid, ClientID: cl.ID, UIDs: []string{c.UID}})
	for _, group := range c.Groups { // a join command takes one group
		g.hub.Do(&hub.Command{Op: hub.OpJoinGroup, ClientID: cl.ID, Groups: []string{group}})
	}
	if c.Session != nil {
		if v, err := phpser.FromJSON(c.Session); err == nil {
			g.hub.Do(&hub.Command{Op: hub.OpSetSession, ClientID: cl.ID, Session: phpser.Serialize(v)})
		}
	}
}

func (p *peer) authTimeout() {
	p.mu.Lock()
	pending := p.pending && !p.closed
	p.mu.Unlock()
	if pending {
		p.g.log.Debug("client closed: no auth message", "remote", p.conn.RemoteAddr(), "timeout", p.g.auth.Timeout.Duration)
		p.conn.Close(closeUnauthenticated, "authentication required")
	}
}

type authMessage struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

type authReply struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id,omitempty"`
	UID      string `json:"uid,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// auth handles an auth message: auth_ok and the binding, or auth_error and
// a close with 4001.
func (p *peer) auth(tok string) {
	claims, err := token.Verify(tok, []byte(p.g.auth.Secret), time.Now())
	if err != nil {
		b, _ := json.Marshal(authReply{Type: "auth_error", Reason: err.Error()})
		p.conn.Send(textFrame(b))
		p.conn.Close(closeUnauthenticated, "authentication failed")
		return
	}
	p.mu.Lock()
	cl, wasPending := p.client, p.pending
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	if wasPending {
		// auth_ok first, then the init message register sends.
		b, _ := json.Marshal(authReply{Type: "auth_ok", UID: claims.UID})
		p.conn.Send(textFrame(b))
		p.register(&claims)
		return
	}
	// On a live connection a token may refresh its identity (the same uid:
	// its groups and session are applied again), never switch it: groups
	// joined as the old uid would stay with the new one.
	if cur := cl.UID(); cur != "" && cur != claims.UID {
		b, _ := json.Marshal(authReply{Type: "auth_error", ClientID: cl.ID, UID: cur,
			Reason: "this connection is already authenticated as another uid; reconnect to change users"})
		p.g.hub.Send(cl, hub.NewText(b))
		return
	}
	p.g.apply(cl, &claims)
	b, _ := json.Marshal(authReply{Type: "auth_ok", ClientID: cl.ID, UID: claims.UID})
	p.g.hub.Send(cl, hub.NewText(b))
}

func textFrame(b []byte) []byte { return hub.NewText(b).Frame() }

// isAuth reports whether a text message is {"type":"auth",...} and returns its token.
func isAuth(data []byte) (string, bool) {
	if len(data) == 0 || data[0] != '{' || !bytes.Contains(data, []byte(`"auth"`)) { // most messages stop here, with no allocation
		return "", false
	}
	var m authMessage
	if json.Unmarshal(data, &m) != nil || m.Type != "auth" {
		return "", false
	}
	return m.Token, true
}

func (p *peer) Message(binary bool, data []byte) {
	if lim := p.g.limits.Load(); lim != nil && lim.MessageRate > 0 {
		if rate := float64(lim.MessageRate); !p.msgs.Allow(time.Now(), rate, 2*rate) {
			p.g.countLimited("message_rate")
			p.g.log.Debug("client closed: messages too fast", "remote", p.conn.RemoteAddr(), "limits.message_rate", lim.MessageRate)
			p.conn.Close(closeRateLimited, fmt.Sprintf("more than %d messages per second (limits.message_rate)", lim.MessageRate))
			return
		}
	}
	p.mu.Lock()
	cl, pending := p.client, p.pending
	p.mu.Unlock()
	if p.g.auth.Secret != "" && !binary {
		if tok, ok := isAuth(data); ok {
			p.auth(tok)
			return
		}
	}
	if pending || cl == nil {
		p.conn.Close(closeUnauthenticated, "authenticate first")
		return
	}
	if p.bindFirst && !binary {
		p.bindFirst = false
		if len(data) > 0 {
			p.g.hub.Do(&hub.Command{Op: hub.OpBindUid, ClientID: cl.ID, UIDs: []string{string(data)}})
			return
		}
	}
	p.g.sink.Message(cl, binary, data)
}

func (p *peer) Closed() {
	p.mu.Lock()
	cl := p.client
	if p.addr != "" && !p.closed {
		p.g.perIP.Close(p.addr)
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	if cl == nil {
		return
	}
	p.g.sink.Close(cl)
	p.g.hub.Disconnect(cl)
	p.g.log.Debug("client closed", "client_id", cl.ID)
}
