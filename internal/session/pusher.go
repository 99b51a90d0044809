package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/pusher"
	"thinkgate/internal/ratelimit"
	"thinkgate/internal/transport"
	"thinkgate/internal/transport/websocket"
)

// PusherWebSocket is the wire format of the Pusher protocol over WebSocket:
// each message as a Pusher event (pusher.Envelope) in a text frame.
var PusherWebSocket = hub.NewGroupEncoding("pusher+websocket", func(m *hub.Message) []byte {
	b := pusher.Envelope(make([]byte, 0, len(m.Data)+64), m)
	if b == nil {
		return nil
	}
	return websocket.Frame(b, false)
})

// Pusher close and error codes (the protocol's 4000-4399 ranges: 40xx do
// not reconnect, 41xx reconnect after a pause, 42xx at once, 43xx are
// errors on a connection that stays).
const (
	PusherAppUnknown          = 4001
	PusherInvalidVersion      = 4006
	PusherUnsupportedVersion  = 4007
	PusherUnauthorized        = 4009
	PusherOverCapacity        = 4100
	PusherGenericReconnect    = 4200
	PusherPongNotReceived     = 4201 // silent past heartbeat.timeout, though told activity_timeout
	PusherClientEventRejected = 4301
)

// PusherOptions configure the Pusher protocol.
type PusherOptions struct {
	Apps *pusher.Apps
	// Doer runs the commands that must see the whole gateway (presence
	// members, counts, client events to other subscribers): the cluster
	// when there is one, else the hub.
	Doer               hub.Doer
	ActivityTimeout    time.Duration // told to clients in connection_established
	MaxPresenceMembers int
	Cache              *pusher.Cache
	// Webhooks returns an app's webhook sender, or nil.
	Webhooks func(*pusher.App) *pusher.Webhooks
}

type pusherProto struct{ o PusherOptions }

// NewPusher returns the Pusher Channels protocol (version 7), served at
// /app/{key}.
func NewPusher(o PusherOptions) Protocol { return &pusherProto{o: o} }

// Check accepts every handshake: an unknown key or version is told in a
// pusher:error and a close code the client understands, which an HTTP
// status cannot do.
func (p *pusherProto) Check(*transport.Request) *transport.Rejection { return nil }

// pusherClient is one client of the Pusher protocol. Its messages are acted
// on in order by a goroutine that runs only while there is work (subscribing
// may ask other nodes), never on the transport's own.
type pusherClient struct {
	Session
	proto *pusherProto
	app   *pusher.App

	mu       sync.Mutex
	client   *hub.Client // nil when refused
	work     [][]byte    // messages waiting, in order; a nil entry is the close
	running  bool
	channels []pusherSub      // subscribed (most clients have one or a few: a slice is smaller than a map)
	user     string           // signed-in user id
	events   ratelimit.Bucket // client events
}

// pusherSub is one subscription; presence ones know their user.
type pusherSub struct {
	channel  string
	user     string // presence: the user_id
	userChan bool   // #server-to-user-<id>: the signed-in user's own, not a group
}

func (p *pusherProto) Open(s Session) transport.Peer {
	key := strings.TrimPrefix(s.Request.Path(), "/app/")
	c := &pusherClient{Session: s, proto: p, app: p.o.Apps.ByKey(key)}
	if c.app == nil {
		c.fail(PusherAppUnknown, fmt.Sprintf("App key %s does not exist", key))
		return c
	}
	_, q, _ := strings.Cut(s.Request.URI, "?")
	vals, _ := url.ParseQuery(q)
	proto := vals.Get("protocol")
	if proto == "" {
		proto = "7" // webman/push's clients send none; its server takes them as 7
	}
	switch v, err := strconv.Atoi(proto); {
	case err != nil:
		c.fail(PusherInvalidVersion, "Invalid version string format")
		return c
	case v < 5 || v > 7:
		c.fail(PusherUnsupportedVersion, fmt.Sprintf("Unsupported protocol version %d", v))
		return c
	}
	if max := c.app.MaxConnections; max > 0 && c.app.Conns.Load() >= int64(max) {
		c.fail(PusherOverCapacity, "Over capacity")
		return c
	}
	c.app.Conns.Add(1)
	s.Conn.SetIdleCode(PusherPongNotReceived) // pusher-js reconnects at once
	m := c.Manager()
	cl := m.Hub().Connect(s.Conn, PusherWebSocket)
	c.client = cl
	data, _ := json.Marshal(map[string]any{"socket_id": c.socketID(), "activity_timeout": int(p.o.ActivityTimeout / time.Second)})
	c.send("pusher:connection_established", "", jsonString(data))
	m.Log().Debug("pusher client connected", "client_id", cl.ID, "app", c.app.ID, "remote", s.Conn.RemoteAddr())
	m.Sink().Connect(&events.Conn{Client: cl, Handshake: c.Handshake()})
	return c
}

// jsonString is b as a JSON string: Pusher sends most data double-encoded.
func jsonString(b []byte) []byte {
	q, _ := json.Marshal(string(b))
	return q
}

// send queues one event on the connection; data is JSON.
func (c *pusherClient) send(event, channel string, data []byte) {
	b := make([]byte, 0, len(data)+len(event)+len(channel)+40)
	b = append(b, `{"event":`...)
	b = appendQuoted(b, event)
	if channel != "" {
		b = append(b, `,"channel":`...)
		b = appendQuoted(b, channel)
	}
	if data != nil {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	c.Conn.Send(websocket.Frame(append(b, '}'), false))
}

func appendQuoted(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// sendError sends pusher:error; code 0 is sent as null.
func (c *pusherClient) sendError(code int, msg string) {
	d := map[string]any{"message": msg, "code": nil}
	if code != 0 {
		d["code"] = code
	}
	data, _ := json.Marshal(d)
	c.send("pusher:error", "", data)
}

// fail sends pusher:error and closes the connection with the same code.
func (c *pusherClient) fail(code int, msg string) {
	c.sendError(code, msg)
	c.Conn.Close(code, msg)
}

func (c *pusherClient) Message(binary bool, data []byte) {
	if !c.Admit() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return
	}
	if binary {
		data = nil // told as an error below, in order
	}
	c.work = append(c.work, append([]byte{}, data...))
	if !c.running {
		c.running = true
		go c.drain()
	}
}

func (c *pusherClient) Closed() {
	c.End()
	c.mu.Lock()
	if c.client == nil {
		c.mu.Unlock()
		return
	}
	c.work = append(c.work, nil)
	if !c.running {
		c.running = true
		go c.drain()
	}
	c.mu.Unlock()
}

// drain acts on the client's messages in order until none waits.
func (c *pusherClient) drain() {
	for {
		c.mu.Lock()
		if len(c.work) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		msg := c.work[0]
		c.work[0] = nil
		c.work = c.work[1:]
		c.mu.Unlock()
		if msg == nil {
			c.closed()
			return
		}
		c.handle(msg)
	}
}

// pusherMessage is what a client sends.
type pusherMessage struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// handle acts on one message from the client.
func (c *pusherClient) handle(raw []byte) {
	var msg pusherMessage
	if len(raw) == 0 || json.Unmarshal(raw, &msg) != nil || msg.Event == "" {
		c.sendError(0, "Invalid message: want a JSON object with an event (binary frames are not part of the protocol)")
		return
	}
	switch {
	case msg.Event == "pusher:ping":
		c.send("pusher:pong", "", []byte(`"{}"`))
	case msg.Event == "pusher:pong":
	case msg.Event == "pusher:subscribe":
		c.subscribe(msg.Data)
	case msg.Event == "pusher:unsubscribe":
		var d struct {
			Channel string `json:"channel"`
		}
		decodeData(msg.Data, &d)
		c.unsubscribe(d.Channel)
	case msg.Event == "pusher:signin":
		c.signin(msg.Data)
	case strings.HasPrefix(msg.Event, "client-"):
		c.clientEvent(&msg, raw)
	default:
		c.sendError(0, fmt.Sprintf("Unsupported event %q", msg.Event))
	}
}

// decodeData decodes a message's data, which clients send as an object or
// as a JSON string holding one.
func decodeData(raw json.RawMessage, v any) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(s)
	}
	return json.Unmarshal(raw, v)
}

// subscriptionError refuses a subscription with pusher:subscription_error;
// its data is a JSON string, as Pusher sends data (webman/push's push.js
// parses every event's data).
func (c *pusherClient) subscriptionError(channel, typ, reason string, status int) {
	data, _ := json.Marshal(map[string]any{"type": typ, "error": reason, "status": status})
	c.send("pusher:subscription_error", channel, jsonString(data))
}

func (c *pusherClient) do(cmd *hub.Command) (any, error) { return c.proto.o.Doer.Do(cmd) }

func (c *pusherClient) hooks() *pusher.Webhooks {
	if c.proto.o.Webhooks == nil {
		return nil
	}
	return c.proto.o.Webhooks(c.app)
}

func (c *pusherClient) subscribe(raw json.RawMessage) {
	var d struct {
		Channel     string `json:"channel"`
		Auth        string `json:"auth"`
		ChannelData string `json:"channel_data"`
	}
	if err := decodeData(raw, &d); err != nil || !pusher.ValidChannel(d.Channel) {
		c.subscriptionError(d.Channel, "InvalidChannel", "Invalid channel name (1-200 of A-Z a-z 0-9 _ - = @ , . ;)", 400)
		return
	}
	ch, kind, group := d.Channel, pusher.KindOf(d.Channel), c.app.Group(d.Channel)
	if id, ok := strings.CutPrefix(ch, pusher.UserChannelPrefix); ok {
		// Events to the user come through its uid (sign-in bound it).
		c.mu.Lock()
		user := c.user
		c.mu.Unlock()
		if user == "" || user != id {
			c.subscriptionError(ch, "AuthError", "only the signed-in user may subscribe to its #server-to-user- channel", 403)
			return
		}
		c.remember(ch, pusherSub{userChan: true})
		c.send("pusher_internal:subscription_succeeded", ch, []byte(`"{}"`))
		return
	}
	if kind.Private {
		toSign := c.socketID() + ":" + ch
		if kind.Presence {
			toSign += ":" + d.ChannelData
		}
		if !c.app.VerifyAuth(d.Auth, toSign) { // as Pusher answers it: pusher:error, code null
			c.sendError(0, fmt.Sprintf("Invalid signature: Expected HMAC SHA256 hex digest of %s, but got %s", toSign, d.Auth))
			return
		}
	}
	sub := pusherSub{}
	if kind.Presence {
		member, user, err := presenceMember(d.ChannelData)
		if err != nil {
			c.subscriptionError(ch, "InvalidChannelData", err.Error(), 400)
			return
		}
		before, err := c.members(group)
		if err != nil {
			c.subscriptionError(ch, "ServerError", err.Error(), 503)
			return
		}
		_, already := before[user]
		if !already && len(before) >= c.proto.o.MaxPresenceMembers {
			c.subscriptionError(ch, "LimitReached", fmt.Sprintf("presence channel full (pusher.max_presence_members = %d)", c.proto.o.MaxPresenceMembers), 403)
			return
		}
		if _, err := c.do(&hub.Command{Op: hub.OpJoinPresence, ClientID: c.client.ID, Groups: []string{group}, Session: member}); err != nil {
			c.subscriptionError(ch, "ServerError", err.Error(), 503)
			return
		}
		sub.user = user
		after, err := c.members(group)
		if err != nil {
			c.subscriptionError(ch, "ServerError", err.Error(), 503)
			return
		}
		after[user] = json.RawMessage(member) // this node's own write is seen at once
		c.remember(ch, sub)
		c.send("pusher_internal:subscription_succeeded", ch, jsonString(presenceData(after)))
		c.occupied(ch, group) // before member_added, as Pusher orders them
		if !already {
			c.do(&hub.Command{Op: hub.OpSendToGroup, Groups: []string{group}, Exclude: []string{c.client.ID},
				Message: &hub.Message{Event: "pusher_internal:member_added", Channel: group, Data: jsonString(member)}})
			c.hooks().Send(pusher.Hook{Name: "member_added", Channel: ch, UserID: user})
		}
	} else {
		if _, err := c.do(&hub.Command{Op: hub.OpJoinGroup, ClientID: c.client.ID, Groups: []string{group}}); err != nil {
			c.subscriptionError(ch, "ServerError", err.Error(), 503)
			return
		}
		c.remember(ch, sub)
		c.send("pusher_internal:subscription_succeeded", ch, []byte(`"{}"`))
		c.occupied(ch, group)
	}
	if kind.Cache && c.proto.o.Cache != nil {
		if event, data, ok := c.proto.o.Cache.Get(group, time.Now()); ok {
			c.send(event, ch, data)
		} else {
			c.send("pusher:cache_miss", ch, nil)
			c.hooks().Send(pusher.Hook{Name: "cache_miss", Channel: ch})
		}
	}
}

// socketID is the client's socket id (its client_id in Pusher's spelling).
func (c *pusherClient) socketID() string { return pusher.SocketID(c.client.ID) }

// remember records a subscription (again: replaces it).
// occupied sends channel_occupied when the client is the channel's only
// subscriber across the gateway.
func (c *pusherClient) occupied(ch, group string) {
	if n, _ := c.do(&hub.Command{Op: hub.OpGetClientIdCountByGroup, Groups: []string{group}}); n == 1 {
		c.hooks().Send(pusher.Hook{Name: "channel_occupied", Channel: ch})
	}
}

func (c *pusherClient) remember(ch string, s pusherSub) {
	s.channel = ch
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.channels {
		if c.channels[i].channel == ch {
			c.channels[i] = s
			return
		}
	}
	c.channels = append(c.channels, s)
}

// subscription returns the client's subscription to ch, if any; remove
// also forgets it.
func (c *pusherClient) subscription(ch string, remove bool) (pusherSub, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.channels {
		if s.channel == ch {
			if remove {
				c.channels = slices.Delete(c.channels, i, i+1)
			}
			return s, true
		}
	}
	return pusherSub{}, false
}

// presenceMember checks channel_data and returns it as stored (user_id a
// string, user_info as given) with its user id.
func presenceMember(channelData string) ([]byte, string, error) {
	var d struct {
		UserID   json.RawMessage `json:"user_id"`
		UserInfo json.RawMessage `json:"user_info"`
	}
	if err := json.Unmarshal([]byte(channelData), &d); err != nil {
		return nil, "", fmt.Errorf("channel_data is not a JSON object: %v", err)
	}
	var user string
	if json.Unmarshal(d.UserID, &user) != nil {
		var n json.Number
		if json.Unmarshal(d.UserID, &n) != nil {
			return nil, "", fmt.Errorf("channel_data needs a user_id (a string or a number)")
		}
		user = n.String()
	}
	if user == "" || len(user) > 128 {
		return nil, "", fmt.Errorf("channel_data's user_id must be 1-128 characters")
	}
	m := map[string]any{"user_id": user}
	if len(d.UserInfo) > 0 {
		m["user_info"] = d.UserInfo
	}
	b, _ := json.Marshal(m)
	return b, user, nil
}

// members returns a presence channel's users across the gateway, each with
// one member record (user_id, user_info), by user id.
func (c *pusherClient) members(group string) (map[string]json.RawMessage, error) {
	res, err := c.do(&hub.Command{Op: hub.OpGetPresenceMembers, Groups: []string{group}})
	if err != nil {
		return nil, err
	}
	recs, _ := res.(map[string]hub.Session)
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same record for a user every time
	out := map[string]json.RawMessage{}
	for _, id := range ids {
		var d struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal(recs[id], &d) == nil && d.UserID != "" {
			if _, seen := out[d.UserID]; !seen {
				out[d.UserID] = json.RawMessage(recs[id])
			}
		}
	}
	return out, nil
}

// presenceData is subscription_succeeded's data for a presence channel.
func presenceData(members map[string]json.RawMessage) []byte {
	ids := make([]string, 0, len(members))
	hash := map[string]json.RawMessage{}
	for user, rec := range members {
		ids = append(ids, user)
		var d struct {
			UserInfo json.RawMessage `json:"user_info"`
		}
		json.Unmarshal(rec, &d)
		if d.UserInfo == nil {
			d.UserInfo = json.RawMessage("null")
		}
		hash[user] = d.UserInfo
	}
	slices.Sort(ids)
	b, _ := json.Marshal(map[string]any{"presence": map[string]any{"ids": ids, "hash": hash, "count": len(ids)}})
	return b
}

func (c *pusherClient) unsubscribe(ch string) {
	sub, ok := c.subscription(ch, true)
	if !ok || sub.userChan {
		return
	}
	group := c.app.Group(ch)
	c.do(&hub.Command{Op: hub.OpLeaveGroup, ClientID: c.client.ID, Groups: []string{group}})
	c.left(ch, sub)
}

// left tells what leaving ch changed: member_removed when the user has no
// other connection in it, channel_vacated when nobody is left.
func (c *pusherClient) left(ch string, sub pusherSub) {
	group := c.app.Group(ch)
	if sub.user != "" {
		if after, err := c.members(group); err == nil {
			if _, still := after[sub.user]; !still {
				data, _ := json.Marshal(map[string]string{"user_id": sub.user})
				c.do(&hub.Command{Op: hub.OpSendToGroup, Groups: []string{group},
					Message: &hub.Message{Event: "pusher_internal:member_removed", Channel: group, Data: jsonString(data)}})
				c.hooks().Send(pusher.Hook{Name: "member_removed", Channel: ch, UserID: sub.user})
			}
		}
	}
	if n, err := c.do(&hub.Command{Op: hub.OpGetClientIdCountByGroup, Groups: []string{group}}); err == nil && n == 0 {
		c.hooks().Send(pusher.Hook{Name: "channel_vacated", Channel: ch})
	}
}

func (c *pusherClient) signin(raw json.RawMessage) {
	var d struct {
		Auth     string `json:"auth"`
		UserData string `json:"user_data"`
	}
	decodeData(raw, &d)
	if !c.app.VerifyAuth(d.Auth, c.socketID()+"::user::"+d.UserData) {
		c.fail(PusherUnauthorized, "Invalid signature for pusher:signin")
		return
	}
	var u struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(d.UserData), &u) != nil || u.ID == "" {
		c.fail(PusherUnauthorized, "user_data must be a JSON object with a string id")
		return
	}
	c.mu.Lock()
	cur := c.user
	c.mu.Unlock()
	if cur != "" && cur != u.ID {
		c.sendError(PusherUnauthorized, "this connection is signed in as another user; reconnect to change users")
		return
	}
	if _, err := c.do(&hub.Command{Op: hub.OpBindUid, ClientID: c.client.ID, UIDs: []string{c.app.UID(u.ID)}}); err != nil {
		c.sendError(PusherGenericReconnect, err.Error())
		return
	}
	c.mu.Lock()
	c.user = u.ID
	c.mu.Unlock()
	data, _ := json.Marshal(map[string]string{"user_data": d.UserData})
	c.send("pusher:signin_success", "", jsonString(data))
}

// maxClientEventData bounds a client event's data, as Pusher does (10 KB).
const maxClientEventData = 10 << 10

func (c *pusherClient) clientEvent(msg *pusherMessage, raw []byte) {
	kind := pusher.KindOf(msg.Channel)
	sub, subscribed := c.subscription(msg.Channel, false)
	rate := c.app.ClientEventRate
	switch {
	case rate < 0:
		c.sendError(0, "Client events are not enabled for this app (client_event_rate = -1)")
		return
	case !subscribed:
		c.sendError(0, fmt.Sprintf("Client event rejected: not subscribed to %q", msg.Channel))
		return
	case !kind.Private || kind.Encrypted:
		c.sendError(0, "Client event rejected: only supported on private and presence channels (not encrypted ones)")
		return
	case len(msg.Data) > maxClientEventData:
		c.sendError(0, fmt.Sprintf("Client event rejected: data over %d bytes", maxClientEventData))
		return
	}
	if rate == 0 {
		rate = 10
	}
	if !c.events.Allow(time.Now(), float64(rate), float64(rate)) {
		c.sendError(PusherClientEventRejected, fmt.Sprintf("Client event rejected due to rate limit (%d per second)", rate))
		return
	}
	data := msg.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	// Sent on as a JSON string, as Pusher sends data: pusher-js parses it
	// back, and webman/push's push.js parses every event's data.
	given := data
	data = jsonString(data)
	group := c.app.Group(msg.Channel)
	c.do(&hub.Command{Op: hub.OpSendToGroup, Groups: []string{group}, Exclude: []string{c.client.ID},
		Message: &hub.Message{Event: msg.Event, Channel: group, Data: data, UserID: sub.user}})
	var s string
	if json.Unmarshal(given, &s) != nil {
		s = string(given)
	}
	c.hooks().Send(pusher.Hook{Name: "client_event", Channel: msg.Channel, Event: msg.Event, Data: s, SocketID: c.socketID(), UserID: sub.user})
	c.Manager().Sink().Message(c.client, false, bytes.Clone(raw))
}

// closed leaves every channel, telling presence and occupancy changes, and
// the sink.
func (c *pusherClient) closed() {
	m := c.Manager()
	cl := c.client
	c.mu.Lock()
	subs := c.channels
	c.channels = nil
	c.mu.Unlock()
	m.Sink().Close(cl)
	m.Hub().Disconnect(cl)
	c.app.Conns.Add(-1)
	for _, sub := range subs {
		if !sub.userChan {
			c.left(sub.channel, sub)
		}
	}
	m.Log().Debug("pusher client closed", "client_id", cl.ID)
}
