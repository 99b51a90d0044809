package session

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpser"
	"thinkgate/internal/pusher"
	"thinkgate/internal/token"
	"thinkgate/internal/transport"
	"thinkgate/internal/transport/sse"
	"thinkgate/internal/transport/websocket"
)

// NativeWebSocket is the wire format of the native protocol over
// WebSocket: the payload as one text or binary frame, or, for a raw
// message (GatewayWorker's raw flag), the payload written as it is. An
// event published through the Pusher protocol (Event set) arrives as the
// Pusher event's JSON, {"event":...,"channel":...,"data":...}.
var NativeWebSocket = hub.NewEncoding("native+websocket", func(m *hub.Message) []byte {
	switch {
	case m.Raw:
		return m.Data
	case m.Event != "":
		return websocket.Frame(pusher.Envelope(nil, m), false)
	}
	return websocket.Frame(m.Data, m.Binary)
})

// CloseUnauthenticated is the close status for a client that did not
// authenticate (in the 4000-4999 range apps may use).
const CloseUnauthenticated = 4001

// native is thinkgate's own client protocol, GatewayWorker's dialect: the
// client gets {"type":"init","client_id":...}; with auth.secret it
// authenticates with a token in the URL or an {"type":"auth"} message; with
// ws.bind_uid_from_first_message its first text message is its uid; every
// other message goes to the event sink as it is.
type native struct{ o NativeOptions }

// NativeOptions configure the native protocol (config's ws and auth keys).
type NativeOptions struct {
	InitMessage bool // send {"type":"init","client_id":...} on connect
	BindFirst   bool // the first text message is the client's uid
	// Secret verifies connect tokens (HS256); "" turns tokens off.
	Secret string
	// Required: a client without a token in its URL must send an auth
	// message within AuthTimeout, and gets nothing before.
	Required    bool
	AuthTimeout time.Duration
	// History, when set, answers version 2 clients' recover requests.
	History HistoryReader
	// SSE: the clients come over Server-Sent Events (always version 2,
	// framed as events); a Last-Event-ID header or a recover parameter
	// (the recover request's streams, as JSON) recovers on connect.
	SSE bool
}

// NewNative returns the native protocol.
func NewNative(o NativeOptions) Protocol { return &native{o: o} }

// Check refuses a token in the URL that does not verify (401).
func (n *native) Check(r *transport.Request) *transport.Rejection {
	if tok := urlToken(r.URI); tok != "" && n.o.Secret != "" {
		if _, err := token.Verify(tok, []byte(n.o.Secret), time.Now()); err != nil {
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

// Open registers the client, or waits for its auth message when
// auth.required and its URL had no token.
func (n *native) Open(s Session) transport.Peer {
	c := &nativeClient{Session: s, proto: n, bindFirst: n.o.BindFirst, v2: n.o.SSE || wantsV2(s.Request.URI)}
	if n.o.Secret != "" {
		if tok := urlToken(s.Request.URI); tok != "" {
			claims, err := token.Verify(tok, []byte(n.o.Secret), time.Now())
			if err != nil { // expired between the check and now
				s.Conn.Close(CloseUnauthenticated, err.Error())
				return c
			}
			c.register(&claims)
			return c
		}
		if n.o.Required {
			// Nothing reaches this client, and it is in no count, until it
			// authenticates with its first message.
			c.mu.Lock()
			c.pending = true
			c.timer = time.AfterFunc(n.o.AuthTimeout, c.authTimeout)
			c.mu.Unlock()
			return c
		}
	}
	c.register(nil)
	return c
}

// nativeClient is one client of the native protocol.
type nativeClient struct {
	Session
	proto     *native
	bindFirst bool // the next text message is the client's uid; only Message touches it
	v2        bool // version 2: JSON envelopes with stream positions (?v=2)

	mu      sync.Mutex
	pending bool // waiting for the auth message
	closed  bool
	client  *hub.Client // nil while pending
	timer   *time.Timer
}

type initMessage struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id"`
	V        int    `json:"v,omitempty"` // 2 for a version 2 client
}

// frame is one of the protocol's own messages in the transport's framing.
func (c *nativeClient) frame(b []byte) []byte {
	if c.proto.o.SSE {
		return sse.Frame("", b)
	}
	return websocket.Frame(b, false)
}

// wantsV2 reports whether a request URI asks for version 2 (v=2).
func wantsV2(uri string) bool {
	_, q, ok := strings.Cut(uri, "?")
	if !ok {
		return false
	}
	v, _ := url.ParseQuery(q)
	return v.Get("v") == "2"
}

// register puts the client in the hub, applies the token's claims, sends
// the init message and tells the sink.
func (c *nativeClient) register(claims *token.Claims) {
	m := c.Manager()
	h := m.Hub()
	enc := NativeWebSocket
	switch {
	case c.proto.o.SSE:
		enc = NativeV2SSE
	case c.v2:
		enc = NativeV2WebSocket
	}
	cl := h.Connect(c.Conn, enc)
	c.mu.Lock()
	c.client, c.pending = cl, false
	c.mu.Unlock()
	// The init message comes first: binding the token's uid may hand the
	// client its offline inbox at once.
	if c.proto.o.InitMessage {
		im := initMessage{Type: "init", ClientID: cl.ID}
		if c.v2 {
			im.V = 2
		}
		b, _ := json.Marshal(im)
		c.Conn.Send(c.frame(b)) // the protocol's own message: never wrapped
	}
	if claims != nil {
		apply(h, cl, claims)
	}
	if c.proto.o.SSE {
		if req, ok := sseRecover(c.Request); ok {
			go c.recover(req, cl)
		}
	}
	m.Log().Debug("client connected", "client_id", cl.ID, "remote", c.Conn.RemoteAddr(), "uri", c.Request.URI)
	m.Sink().Connect(&events.Conn{Client: cl, Handshake: c.Handshake()})
}

// apply binds the token's uid, joins its groups and sets its session.
func apply(h *hub.Hub, cl *hub.Client, c *token.Claims) {
	h.Do(&hub.Command{Op: hub.OpBindUid, ClientID: cl.ID, UIDs: []string{c.UID}})
	for _, group := range c.Groups { // a join command takes one group
		h.Do(&hub.Command{Op: hub.OpJoinGroup, ClientID: cl.ID, Groups: []string{group}})
	}
	if c.Session != nil {
		if v, err := phpser.FromJSON(c.Session); err == nil {
			h.Do(&hub.Command{Op: hub.OpSetSession, ClientID: cl.ID, Session: phpser.Serialize(v)})
		}
	}
}

func (c *nativeClient) authTimeout() {
	c.mu.Lock()
	pending := c.pending && !c.closed
	c.mu.Unlock()
	if pending {
		c.Manager().Log().Debug("client closed: no auth message", "remote", c.Conn.RemoteAddr(), "timeout", c.proto.o.AuthTimeout)
		c.Conn.Close(CloseUnauthenticated, "authentication required")
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

// sendJSON queues v on the connection itself (before the client is in the
// hub, or after).
func (c *nativeClient) sendJSON(v any) {
	b, _ := json.Marshal(v)
	c.Conn.Send(c.frame(b))
}

// auth handles an auth message: auth_ok and the binding, or auth_error and
// a close with 4001.
func (c *nativeClient) auth(tok string) {
	h := c.Manager().Hub()
	claims, err := token.Verify(tok, []byte(c.proto.o.Secret), time.Now())
	if err != nil {
		c.sendJSON(authReply{Type: "auth_error", Reason: err.Error()})
		c.Conn.Close(CloseUnauthenticated, "authentication failed")
		return
	}
	c.mu.Lock()
	cl, wasPending := c.client, c.pending
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if wasPending {
		// auth_ok first, then the init message register sends.
		c.sendJSON(authReply{Type: "auth_ok", UID: claims.UID})
		c.register(&claims)
		return
	}
	// On a live connection a token may refresh its identity (the same uid:
	// its groups and session are applied again), never switch it: groups
	// joined as the old uid would stay with the new one.
	if cur := cl.UID(); cur != "" && cur != claims.UID {
		c.sendJSON(authReply{Type: "auth_error", ClientID: cl.ID, UID: cur,
			Reason: "this connection is already authenticated as another uid; reconnect to change users"})
		return
	}
	apply(h, cl, &claims)
	c.sendJSON(authReply{Type: "auth_ok", ClientID: cl.ID, UID: claims.UID})
}

// isRecover reports whether a v2 text message may be {"type":"recover",...}.
func isRecover(data []byte) bool {
	return len(data) > 0 && data[0] == '{' && bytes.Contains(data, []byte(`"recover"`))
}

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

func (c *nativeClient) Message(binary bool, data []byte) {
	if !c.Admit() {
		return
	}
	c.mu.Lock()
	cl, pending := c.client, c.pending
	c.mu.Unlock()
	if c.proto.o.Secret != "" && !binary {
		if tok, ok := isAuth(data); ok {
			c.auth(tok)
			return
		}
	}
	if pending || cl == nil {
		c.Conn.Close(CloseUnauthenticated, "authenticate first")
		return
	}
	if c.v2 && !binary && isRecover(data) {
		var req recoverRequest
		if json.Unmarshal(data, &req) == nil && req.Type == "recover" {
			go c.recover(req, cl) // the store may be a network away; replies stay in order on the connection
			return
		}
	}
	if c.bindFirst && !binary {
		c.bindFirst = false
		if len(data) > 0 {
			c.Manager().Hub().Do(&hub.Command{Op: hub.OpBindUid, ClientID: cl.ID, UIDs: []string{string(data)}})
			return
		}
	}
	c.Manager().Sink().Message(cl, binary, data)
}

func (c *nativeClient) Closed() {
	c.mu.Lock()
	cl := c.client
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.End()
	if cl == nil {
		return
	}
	m := c.Manager()
	m.Sink().Close(cl)
	m.Hub().Disconnect(cl)
	m.Log().Debug("client closed", "client_id", cl.ID)
}
