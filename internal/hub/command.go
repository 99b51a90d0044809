package hub

import (
	"fmt"
	"sync"

	"github.com/gobwas/ws"
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

// Message is one payload for clients. Its WebSocket frame is built once, on
// first use, and the same bytes are queued on every target connection.
type Message struct {
	Binary bool
	Raw    bool // Data is written to the socket as is, without framing (GatewayWorker's raw flag)
	Data   []byte

	once  sync.Once
	frame []byte
}

// NewText returns a message sent as one text frame.
func NewText(data []byte) *Message { return &Message{Data: data} }

// Frame returns the encoded server-to-client frame (unmasked, unfragmented).
func (m *Message) Frame() []byte {
	m.once.Do(func() {
		if m.Raw {
			m.frame = m.Data
			return
		}
		f := ws.NewTextFrame(m.Data)
		if m.Binary {
			f = ws.NewBinaryFrame(m.Data)
		}
		m.frame = ws.MustCompileFrame(f)
	})
	return m.frame
}
