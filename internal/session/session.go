// Package session is the client layer: what a connected client is, and the
// client protocols it may speak. A Manager is a listener's
// transport.Handler: for every opening request it applies what all
// protocols share (per-address connection limits, the Origin allow-list),
// picks the protocol by the request's path, and starts it on the connection
// with a Session, the client's shared part. The protocol registers the
// client in the hub with the hub.Encoding its messages are sent in, reads
// what the client sends and tells the event sink.
//
// thinkgate's native protocol (NewNative) is one Protocol; the Pusher
// Channels protocol is the second. Transports below this package move
// bytes; the hub above it keeps state; neither imports it
// (docs/architecture.md).
package session

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/ratelimit"
	"thinkgate/internal/transport"
)

// Protocol is one client protocol.
type Protocol interface {
	// Check sees an opening request for this protocol after the shared
	// checks passed; a non-nil Rejection refuses it with that HTTP status.
	Check(r *transport.Request) *transport.Rejection
	// Open serves one accepted connection. s is the client's shared part:
	// the returned Peer embeds it (one allocation per client), calls
	// s.Admit before acting on a message and s.End from Closed.
	Open(s Session) transport.Peer
}

// Options configure a Manager.
type Options struct {
	Hub     *hub.Hub
	Sink    events.Sink
	Origins string // auth.origins: a comma-separated allow-list; "" or "*": any
	Limits  Limits // per-address and per-client limits; SetLimits replaces them
	Log     *slog.Logger
	// Limited, when set, counts a client turned away by a limit (its name
	// in config: connections_per_ip, connect_rate_per_ip, message_rate).
	Limited func(limit string)
}

// Limits are the limits every client protocol shares (config's [limits]).
// Each rate allows bursts of twice itself; 0 turns a limit off.
type Limits struct {
	ConnectionsPerIP int  // clients from one address at once; one more gets 429
	ConnectRatePerIP int  // new clients per second from one address; more get 429
	MessageRate      int  // messages per second from one client; past it, close 4008
	Loopback         bool // apply the per-address limits to loopback addresses too
}

// Manager is the transport.Handler of a client listener.
type Manager struct {
	opts    Options
	origins map[string]bool // lower-cased; nil: any
	limits  atomic.Pointer[Limits]
	perIP   ratelimit.Keyed // new-connection buckets and open counts per address
	native  Protocol        // serves every path no route claims
	routes  []route
}

type route struct {
	prefix string
	proto  Protocol
}

// CloseRateLimited is the close status for a client that sends faster than
// limits.message_rate (4008, as 1008 policy violation, in the app range).
const CloseRateLimited = 4008

// NewManager returns a Manager whose clients speak native unless a route
// added with Route claims their path.
func NewManager(o Options, native Protocol) *Manager {
	m := &Manager{opts: o, native: native}
	m.limits.Store(&o.Limits)
	for _, s := range strings.Split(o.Origins, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" && s != "*" {
			if m.origins == nil {
				m.origins = map[string]bool{}
			}
			m.origins[strings.TrimRight(s, "/")] = true
		}
	}
	return m
}

// Route serves requests whose path starts with prefix with p. Call it
// before the listener serves.
func (m *Manager) Route(prefix string, p Protocol) {
	m.routes = append(m.routes, route{prefix, p})
}

// SetLimits puts new limits in force (reload); connections apply them from
// their next message on.
func (m *Manager) SetLimits(l Limits) { m.limits.Store(&l) }

// Hub is the hub clients are registered in.
func (m *Manager) Hub() *hub.Hub { return m.opts.Hub }

// Sink is where client events go.
func (m *Manager) Sink() events.Sink { return m.opts.Sink }

// Log is the manager's logger.
func (m *Manager) Log() *slog.Logger { return m.opts.Log }

func (m *Manager) protocol(r *transport.Request) Protocol {
	if len(m.routes) > 0 {
		path := r.Path()
		for _, rt := range m.routes {
			if strings.HasPrefix(path, rt.prefix) {
				return rt.proto
			}
		}
	}
	return m.native
}

func (m *Manager) countLimited(limit string) {
	if m.opts.Limited != nil {
		m.opts.Limited(limit)
	}
}

// limitedAddr is the address per-address limits count r under, or "" when
// they do not apply to it (loopback, unless limits.loopback).
func limitedAddr(r *transport.Request, lim *Limits) string {
	a, ok := r.RemoteAddr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	if a.IP.IsLoopback() && !lim.Loopback {
		return ""
	}
	return a.IP.String()
}

// Check runs before a handshake is accepted (the transport's Options.Check):
// per-address limits (429), the Origin allow-list (403), then the
// protocol's own checks.
func (m *Manager) Check(r *transport.Request) *transport.Rejection {
	if lim := m.limits.Load(); lim != nil {
		if addr := limitedAddr(r, lim); addr != "" {
			if lim.ConnectionsPerIP > 0 && m.perIP.Count(addr) >= lim.ConnectionsPerIP {
				m.countLimited("connections_per_ip")
				return &transport.Rejection{Status: 429, Reason: fmt.Sprintf("too many connections from your address (limits.connections_per_ip = %d)", lim.ConnectionsPerIP)}
			}
			if rate := float64(lim.ConnectRatePerIP); !m.perIP.Allow(addr, time.Now(), rate, 2*rate) {
				m.countLimited("connect_rate_per_ip")
				return &transport.Rejection{Status: 429, Reason: fmt.Sprintf("too many new connections from your address (limits.connect_rate_per_ip = %d per second)", lim.ConnectRatePerIP)}
			}
		}
	}
	if m.origins != nil {
		if o, ok := r.Lookup("Origin"); ok && !m.origins[strings.TrimRight(strings.ToLower(o), "/")] {
			return &transport.Rejection{Status: 403, Reason: "origin not allowed (auth.origins)"}
		}
	}
	return m.protocol(r).Check(r)
}

// Open starts the request's protocol on a connection (transport.Handler).
func (m *Manager) Open(c transport.Conn, r *transport.Request) transport.Peer {
	s := Session{Conn: c, Request: r, m: m}
	if lim := m.limits.Load(); lim != nil {
		if s.addr = limitedAddr(r, lim); s.addr != "" {
			m.perIP.Open(s.addr, 0) // counted; Check refuses the one past the limit
		}
	}
	return m.protocol(r).Open(s)
}

// Session is what every connected client has, whatever its protocol: its
// connection, the request that opened it, and the limits all protocols
// share. A protocol's client type embeds it.
type Session struct {
	Conn    transport.Conn
	Request *transport.Request

	m    *Manager
	addr string           // counted in m.perIP under this address ("" when not)
	msgs ratelimit.Bucket // limits.message_rate; only Admit touches it
}

// Manager is the manager that accepted the client.
func (s *Session) Manager() *Manager { return s.m }

// Admit applies limits.message_rate to one message from the client: false
// when it is over the rate, and then the connection is being closed with
// CloseRateLimited. Call it from Message only (one call at a time).
func (s *Session) Admit() bool {
	lim := s.m.limits.Load()
	if lim == nil || lim.MessageRate <= 0 {
		return true
	}
	if rate := float64(lim.MessageRate); s.msgs.Allow(time.Now(), rate, 2*rate) {
		return true
	}
	s.m.countLimited("message_rate")
	s.m.opts.Log.Debug("client closed: messages too fast", "remote", s.Conn.RemoteAddr(), "limits.message_rate", lim.MessageRate)
	s.Conn.Close(CloseRateLimited, fmt.Sprintf("more than %d messages per second (limits.message_rate)", lim.MessageRate))
	return false
}

// End releases what the session holds (its place in the per-address count).
// Call it once, from the Peer's Closed.
func (s *Session) End() {
	if s.addr != "" {
		s.m.perIP.Close(s.addr)
	}
}

// Handshake is the opening request as event sinks see it.
func (s *Session) Handshake() *events.Handshake {
	r := s.Request
	return &events.Handshake{URI: r.URI, Headers: r.Headers, RemoteAddr: r.RemoteAddr, LocalAddr: r.LocalAddr}
}
