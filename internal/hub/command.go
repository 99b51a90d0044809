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
}

// Message is one payload for clients. It carries the payload only; each
// wire format's bytes are built from it once, on first use (Encoded), and
// the same bytes are queued on every client of that format a send reaches.
type Message struct {
	Binary bool
	Raw    bool // Data is written to the socket as is, without framing (GatewayWorker's raw flag)
	Data   []byte

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

// Encoding is one wire format clients are sent messages in: a client
// protocol over a transport (thinkgate's native protocol over WebSocket is
// one, Pusher's another). The hub calls its function at most once per
// message, however many of its clients a send reaches; what it returns is
// what each client's Conn.Send queues.
type Encoding struct {
	name   string
	slot   int
	encode func(*Message) []byte
}

// maxEncodings is how many wire formats can be registered: every Message
// has a slot for each.
const maxEncodings = 4

var encodings struct {
	sync.Mutex
	n int
}

// NewEncoding registers a wire format under name; encode must not keep or
// change the message. Call it once per format, at package initialization:
// at most maxEncodings can exist.
func NewEncoding(name string, encode func(*Message) []byte) *Encoding {
	encodings.Lock()
	defer encodings.Unlock()
	if encodings.n == maxEncodings {
		panic(fmt.Sprintf("hub: more than %d encodings (registering %q)", maxEncodings, name))
	}
	e := &Encoding{name: name, slot: encodings.n, encode: encode}
	encodings.n++
	return e
}

// Name is the name the encoding was registered under.
func (e *Encoding) Name() string { return e.name }

// Payload is the encoding whose bytes are the message's payload as is: for
// transports that frame nothing, and for tests.
var Payload = NewEncoding("payload", func(m *Message) []byte { return m.Data })
