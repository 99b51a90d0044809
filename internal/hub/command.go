package hub

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Op names one gateway operation (docs/api.md).
type Op uint8

// The operations, named as in GatewayWorker's Gateway class.
const (
	OpInvalid Op = iota
	OpSendToAll
	OpSendToClient
	OpSendToUid
	OpSendToGroup
	OpBindUid
	OpUnbindUid
	OpJoinGroup
	OpLeaveGroup
	OpUngroup
	OpIsOnline
	OpIsUidOnline
	OpGetClientIdByUid
	OpGetUidByClientId
	OpGetAllClientIdCount
	OpGetAllClientIdList
	OpGetAllUidCount
	OpGetAllUidList
	OpGetAllGroupIdList
	OpGetClientIdCountByGroup
	OpGetClientIdListByGroup
	OpGetUidListByGroup
	OpGetUidCountByGroup
	OpGetClientSessionsByGroup
	OpGetAllClientSessions
	OpSetSession
	OpUpdateSession
	OpGetSession
	OpCloseClient
	OpDestroyClient
	OpJoinPresence
	OpGetPresenceMembers
	OpGetInboxCount
	OpClearInbox
	numOps
)

var opNames = [numOps]string{
	OpSendToAll:                "sendToAll",
	OpSendToClient:             "sendToClient",
	OpSendToUid:                "sendToUid",
	OpSendToGroup:              "sendToGroup",
	OpBindUid:                  "bindUid",
	OpUnbindUid:                "unbindUid",
	OpJoinGroup:                "joinGroup",
	OpLeaveGroup:               "leaveGroup",
	OpUngroup:                  "ungroup",
	OpIsOnline:                 "isOnline",
	OpIsUidOnline:              "isUidOnline",
	OpGetClientIdByUid:         "getClientIdByUid",
	OpGetUidByClientId:         "getUidByClientId",
	OpGetAllClientIdCount:      "getAllClientIdCount",
	OpGetAllClientIdList:       "getAllClientIdList",
	OpGetAllUidCount:           "getAllUidCount",
	OpGetAllUidList:            "getAllUidList",
	OpGetAllGroupIdList:        "getAllGroupIdList",
	OpGetClientIdCountByGroup:  "getClientIdCountByGroup",
	OpGetClientIdListByGroup:   "getClientIdListByGroup",
	OpGetUidListByGroup:        "getUidListByGroup",
	OpGetUidCountByGroup:       "getUidCountByGroup",
	OpGetClientSessionsByGroup: "getClientSessionsByGroup",
	OpGetAllClientSessions:     "getAllClientSessions",
	OpSetSession:               "setSession",
	OpUpdateSession:            "updateSession",
	OpGetSession:               "getSession",
	OpCloseClient:              "closeClient",
	OpDestroyClient:            "destroyClient",
	OpJoinPresence:             "joinPresence",
	OpGetPresenceMembers:       "getPresenceMembers",
	OpGetInboxCount:            "getInboxCount",
	OpClearInbox:               "clearInbox",
}

// Public reports whether the operation is one of the API's (GatewayWorker's,
// destroyClient and the offline inbox's); the others serve client protocols
// inside thinkgate (joinPresence, getPresenceMembers: Pusher's presence
// channels).
func (o Op) Public() bool {
	return o > OpInvalid && o < numOps && o != OpJoinPresence && o != OpGetPresenceMembers
}

// String returns the operation's API name.
func (o Op) String() string {
	if o < numOps && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// ParseOp maps an API name ("sendToUid") to its Op.
func ParseOp(name string) (Op, bool) {
	op, ok := opByName[name]
	return op, ok
}

var opByName = func() map[string]Op {
	m := make(map[string]Op, numOps)
	for op, name := range opNames {
		if name != "" {
			m[name] = Op(op)
		}
	}
	return m
}()

// Ops lists every operation in declaration order.
func Ops() []Op {
	out := make([]Op, 0, numOps-1)
	for op := OpInvalid + 1; op < numOps; op++ {
		out = append(out, op)
	}
	return out
}

// Command is the one typed request every source (HTTP API, Text port,
// GatewayWorker inner protocol, cluster bus) produces and the hub executes.
// Which fields an Op reads is documented in Hub.Do.
type Command struct {
	Op        Op
	ClientID  string
	ClientIDs []string // sendToAll: only these clients (GatewayWorker's $client_id_array)
	UIDs      []string
	Groups    []string
	Exclude   []string
	Message   *Message
	Session   []byte // PHP-serialized session array, for setSession and updateSession
	Code      int    // closeClient: the close code (0: 1000, a normal close)
	// Store: sendToUid keeps the message in the offline inbox of each uid
	// that has no client (internal/inbox), to be delivered when it next
	// connects.
	Store bool
}

// Message is one payload for clients. It carries the payload only; each
// wire format's bytes are built from it once, on first use (Encoded), and
// the same bytes are queued on every client of that format a send reaches.
type Message struct {
	Binary bool
	Raw    bool // Data is written to the socket as is, without framing (GatewayWorker's raw flag)
	Data   []byte
	// Event names the message for protocols whose messages have names
	// (Pusher's events); "" for a plain push.
	Event string
	// Channel is the group the message is for, when it has one. A source
	// publishing to one channel sets it; for a send to groups the hub gives
	// each group its own copy when a client whose encoding names channels
	// (NewGroupEncoding) is among the recipients.
	Channel string
	// UserID is who sent a client event on a presence channel (Pusher).
	UserID string
	// Positions are the message's places in the streams with history it was
	// sent to (internal/history), set where the command entered the gateway.
	Positions []Position
	// Stream is the stream a copy of the message is for ("u:<uid>",
	// "g:<group>"), set by the hub on the copies it makes for encodings that
	// name streams (NewStreamEncoding).
	Stream string

	encoded [maxEncodings]atomic.Pointer[[]byte] // by Encoding.slot
}

// NewText returns a message sent as text.
func NewText(data []byte) *Message { return &Message{Data: data} }

// Encoded returns m in wire format e, building it on the first call for e.
// Concurrent first calls may both build it; one result is kept and
// returned to every later caller.
func (m *Message) Encoded(e *Encoding) []byte {
	p := &m.encoded[e.slot]
	if b := p.Load(); b != nil {
		return *b
	}
	b := e.encode(m)
	if !p.CompareAndSwap(nil, &b) {
		return *p.Load()
	}
	return b
}

// Position is a message's place in one stream: its offset, and the epoch of
// the stream (a new epoch means earlier offsets mean nothing any more).
type Position struct {
	Stream string `json:"stream"`
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// Position returns the message's position in its Stream, if it has one.
func (m *Message) Position() (Position, bool) {
	for _, p := range m.Positions {
		if p.Stream == m.Stream {
			return p, true
		}
	}
	return Position{}, false
}

// UIDStream and GroupStream name the streams of a uid and of a group.
func UIDStream(uid string) string     { return "u:" + uid }
func GroupStream(group string) string { return "g:" + group }

// Encoding is one wire format clients are sent messages in: a client
// protocol over a transport (thinkgate's native protocol over WebSocket is
// one, Pusher's another). The hub calls its function at most once per
// message, however many of its clients a send reaches; what it returns is
// what each client's Conn.Send queues.
type Encoding struct {
	name     string
	slot     int
	byGroup  bool // the bytes name Message.Channel
	byStream bool // the bytes name Message.Stream and its position
	encode   func(*Message) []byte
}

// maxEncodings is how many wire formats can be registered: every Message
// has a slot for each.
const maxEncodings = 6

var encodings struct {
	sync.Mutex
	n int
}

// NewEncoding registers a wire format under name; encode must not keep or
// change the message, and returns nil for a message its clients cannot be
// sent (it is then neither queued nor counted). Call it once per format, at
// package initialization: at most maxEncodings can exist.
func NewEncoding(name string, encode func(*Message) []byte) *Encoding {
	return newEncoding(name, false, false, encode)
}

// NewGroupEncoding is NewEncoding for a format whose bytes name the group
// a message was sent to (Message.Channel): a send to several groups builds
// it once per group.
func NewGroupEncoding(name string, encode func(*Message) []byte) *Encoding {
	return newEncoding(name, true, false, encode)
}

// NewStreamEncoding is NewEncoding for a format whose bytes name the stream
// a message reached the client through (Message.Stream, Message.Position):
// built once per uid of a send to uids and once per group of a send to
// groups.
func NewStreamEncoding(name string, encode func(*Message) []byte) *Encoding {
	return newEncoding(name, true, true, encode)
}

func newEncoding(name string, byGroup, byStream bool, encode func(*Message) []byte) *Encoding {
	encodings.Lock()
	defer encodings.Unlock()
	if encodings.n == maxEncodings {
		panic(fmt.Sprintf("hub: more than %d encodings (registering %q)", maxEncodings, name))
	}
	e := &Encoding{name: name, slot: encodings.n, byGroup: byGroup, byStream: byStream, encode: encode}
	encodings.n++
	return e
}

// inGroup is m for group g: m itself when it names g already, else a copy
// that does, as its Channel and Stream (its encodings built afresh).
func (m *Message) inGroup(g string) *Message {
	if m.Channel == g && m.Stream == GroupStream(g) {
		return m
	}
	c := m.copy()
	c.Channel, c.Stream = g, GroupStream(g)
	return c
}

// inUID is m for uid u: a copy naming u's stream.
func (m *Message) inUID(u string) *Message {
	if m.Stream == UIDStream(u) {
		return m
	}
	c := m.copy()
	c.Stream = UIDStream(u)
	return c
}

func (m *Message) copy() *Message {
	return &Message{Binary: m.Binary, Raw: m.Raw, Data: m.Data, Event: m.Event, Channel: m.Channel, UserID: m.UserID,
		Positions: m.Positions, Stream: m.Stream}
}

// Name is the name the encoding was registered under.
func (e *Encoding) Name() string { return e.name }

// Payload is the encoding whose bytes are the message's payload as is: for
// transports that frame nothing, and for tests.
var Payload = NewEncoding("payload", func(m *Message) []byte { return m.Data })
