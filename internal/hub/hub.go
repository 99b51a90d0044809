// Package hub keeps one node's gateway state (clients, the uid index, the
// group index, sessions) and gives every operation its GatewayWorker
// semantics. It does not know where commands come from, which protocol a
// client speaks or how connections are served: sources build a Command, the
// session layer registers each client with its Conn and the Encoding its
// protocol and transport need, and a send queues each client the message
// in that encoding, built once per encoding. The hub imports no transport,
// session, API or event package (docs/architecture.md).
package hub

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/clientid"
)

// Conn is what the hub needs from one client connection.
type Conn interface {
	// Send queues a message already in the client's Encoding without
	// blocking. It returns false when the connection is closed, or is being
	// closed because its queue is full.
	Send(encoded []byte) bool
	// Close queues a close frame with code and reason after what is already
	// queued, then closes the connection.
	Close(code int, reason string)
	// Destroy closes the connection at once, dropping what is queued.
	Destroy()
}

// ErrInvalid marks a command whose parameters make no sense (an empty uid or
// group, a missing message). Sources report it as a client error.
var ErrInvalid = errors.New("invalid params")

// ErrUnavailable marks a command that could not reach the other nodes of a
// cluster (the engine is down or a node did not answer in time). Sources
// report it as a temporary server error.
var ErrUnavailable = errors.New("cluster unavailable")

// Doer runs commands: a Hub on one node, a cluster across nodes.
type Doer interface {
	Do(cmd *Command) (any, error)
}

const shardCount = 64

// Hub is one node's gateway state. All methods are safe for concurrent use.
//
// Locking: a Client's own mutex is taken before any index shard's mutex,
// never the other way round; index shards are only read-locked while
// sending, and Conn.Send never blocks.
type Hub struct {
	ids   *clientid.Generator
	seed  maphash.Seed
	joins atomic.Uint64 // join sequence numbers

	// Observe, when set before the hub is used, is told of every command
	// that ran: its operation, how many clients a send reached, and how many
	// bytes it queued on them in all (each client's encoding counted).
	Observe func(op Op, delivered, bytes int)
	// Presence, when set, is told when a uid gets its first client (true)
	// and loses its last (false), in that order per uid. It runs under the
	// uid's shard lock: it must only record the change, never call the hub.
	Presence func(uid string, online bool)
	// GroupPresence, when set, is told when a group gets its first member
	// (true) and loses its last (false), under the same rules as Presence.
	GroupPresence func(group string, present bool)
	conns         atomic.Uint64 // connection sequence numbers
	clients       [shardCount]shard[*Client]
	// uids maps a uid to its clients; most uids have one to a few, so a
	// slice is smaller and faster than a set.
	uids   [shardCount]shard[[]*Client]
	groups [shardCount]shard[clientSet]
	// members holds, per group, the member data of the clients that joined
	// it with joinPresence (a presence channel's user id and info); shards
	// as groups. memberGroups counts its groups, so that leaving a group
	// costs nothing more while no presence group exists.
	members      [shardCount]shard[map[*Client]Session]
	memberGroups atomic.Int64
}

// shard is one lock's worth of an index keyed by client id, uid or group.
type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

// clientSet is a group's members, each with the sequence number of its join
// so that listings can come in join order as GatewayWorker's do.
type clientSet = map[*Client]uint64

// Client is one connected client as the hub sees it.
type Client struct {
	// ID is the client's GatewayWorker-layout client_id.
	ID     string
	connID uint32 // the connection number inside ID
	seq    uint64 // creation order on this node
	since  int64  // connect time, Unix nanoseconds
	conn   Conn
	enc    *Encoding // the wire format the client is sent messages in

	mu      sync.Mutex
	closed  bool
	uid     string
	groups  map[string]uint64 // group -> join sequence; nil until the first join
	session Session
}

// UID returns the client's uid, or "" when unbound.
func (c *Client) UID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uid
}

// New returns an empty hub whose client ids come from ids.
func New(ids *clientid.Generator) *Hub {
	h := &Hub{ids: ids, seed: maphash.MakeSeed()}
	for i := range shardCount {
		h.clients[i].m = map[string]*Client{}
		h.uids[i].m = map[string][]*Client{}
		h.groups[i].m = map[string]clientSet{}
		h.members[i].m = map[string]map[*Client]Session{}
	}
	return h
}

func (h *Hub) shard(key string) int { return int(maphash.String(h.seed, key) % shardCount) }

// Connect registers conn under a fresh client id; messages are queued on it
// in encoding enc.
func (h *Hub) Connect(conn Conn, enc *Encoding) *Client {
	seq := h.conns.Add(1)
	for {
		id := h.ids.Next()
		c := &Client{ID: id.String(), connID: id.Conn, seq: seq, since: time.Now().UnixNano(), conn: conn, enc: enc}
		s := &h.clients[h.shard(c.ID)]
		s.mu.Lock()
		if _, taken := s.m[c.ID]; !taken { // only after the 32-bit counter wrapped
			s.m[c.ID] = c
			s.mu.Unlock()
			return c
		}
		s.mu.Unlock()
	}
}

// Disconnect removes c from the hub and from its uid and groups.
func (h *Hub) Disconnect(c *Client) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	h.unbindLocked(c)
	for g := range c.groups {
		h.removeFromGroup(g, c)
	}
	c.groups = nil
	c.mu.Unlock()

	s := &h.clients[h.shard(c.ID)]
	s.mu.Lock()
	delete(s.m, c.ID)
	s.mu.Unlock()
}

// Client returns the connected client with id, or nil.
func (h *Hub) Client(id string) *Client {
	s := &h.clients[h.shard(id)]
	s.mu.RLock()
	c := s.m[id]
	s.mu.RUnlock()
	return c
}

// Send queues m on c and reports whether it was queued.
func (h *Hub) Send(c *Client, m *Message) bool {
	b := m.Encoded(c.enc)
	return b != nil && c.conn.Send(b)
}

// tally counts what a send queued: clients reached and bytes.
type tally struct{ n, bytes int }

// send queues m on c in c's encoding and counts it when queued.
func (t *tally) send(c *Client, m *Message) {
	if b := m.Encoded(c.enc); b != nil && c.conn.Send(b) {
		t.n++
		t.bytes += len(b)
	}
}

// Do executes cmd and returns its result as a JSON-ready value:
//
//	sendToAll(Message, Exclude, ClientIDs?) -> int delivered; with ClientIDs only to those
//	sendToClient(ClientID, Message)        -> bool
//	sendToUid(UIDs, Message)               -> int delivered
//	sendToGroup(Groups, Message, Exclude)  -> int delivered; a client in two listed groups gets it twice, as in GatewayWorker
//	bindUid(ClientID, UIDs[0])             -> bool; replaces the client's previous uid
//	unbindUid(ClientID)                    -> bool; the uid given is ignored, as in GatewayWorker
//	joinGroup/leaveGroup(ClientID, Groups[0]) -> bool
//	ungroup(Groups[0])                     -> bool, false when the group had no members
//	isOnline(ClientID) -> bool; isUidOnline(UIDs[0]) -> bool
//	getClientIdByUid(UIDs[0]) -> []string; getUidByClientId(ClientID) -> string or nil
//	getAll*Count -> int; getAll*List -> []string
//	getClientIdCountByGroup/getUidCountByGroup(Groups[0]) -> int
//	getClientIdListByGroup/getUidListByGroup(Groups[0]) -> []string
//	getClientSessionsByGroup(Groups[0]), getAllClientSessions -> map[client_id]session
//	setSession(ClientID, Session) -> bool; Session is PHP-serialized and stored verbatim
//	updateSession(ClientID, Session) -> bool; merges like PHP array_replace_recursive
//	getSession(ClientID) -> Session, or nil when the client is gone
//	closeClient(ClientID, Message?) -> bool; sends the message, then closes
//	destroyClient(ClientID) -> bool; closes at once, dropping what is queued
//
// Lists are sorted. An unknown client_id is not an error: sends give false or 0.
func (h *Hub) Do(cmd *Command) (any, error) {
	var sent tally
	res, err := h.do(cmd, &sent)
	if h.Observe != nil && err == nil {
		h.Observe(cmd.Op, sent.n, sent.bytes)
	}
	return res, err
}

// do runs cmd; what its sends queued is added to sent.
func (h *Hub) do(cmd *Command, sent *tally) (any, error) {
	if err := Validate(cmd); err != nil {
		return nil, err
	}
	switch cmd.Op {
	case OpSendToAll:
		if cmd.ClientIDs != nil {
			h.sendToClients(sent, cmd.ClientIDs, cmd.Message, cmd.Exclude)
		} else {
			h.sendToAll(sent, cmd.Message, cmd.Exclude)
		}
		return sent.n, nil
	case OpSendToClient:
		if c := h.Client(cmd.ClientID); c != nil {
			sent.send(c, cmd.Message)
		}
		return sent.n == 1, nil
	case OpSendToUid:
		h.sendToUids(sent, cmd.UIDs, cmd.Message)
		return sent.n, nil
	case OpSendToGroup:
		h.sendToGroups(sent, cmd.Groups, cmd.Message, cmd.Exclude)
		return sent.n, nil
	case OpBindUid:
		return h.withClient(cmd.ClientID, func(c *Client) { h.bindLocked(c, cmd.UIDs[0]) }), nil
	case OpUnbindUid:
		return h.withClient(cmd.ClientID, h.unbindLocked), nil
	case OpJoinGroup:
		return h.withClient(cmd.ClientID, func(c *Client) { h.joinLocked(c, cmd.Groups[0]) }), nil
	case OpLeaveGroup:
		return h.withClient(cmd.ClientID, func(c *Client) { h.leaveLocked(c, cmd.Groups[0]) }), nil
	case OpUngroup:
		return h.ungroup(cmd.Groups[0]), nil
	case OpIsOnline:
		return h.Client(cmd.ClientID) != nil, nil
	case OpIsUidOnline:
		return len(h.uidClients(cmd.UIDs[0])) > 0, nil
	case OpGetClientIdByUid:
		return ids(h.uidClients(cmd.UIDs[0])), nil
	case OpGetUidByClientId:
		if c := h.Client(cmd.ClientID); c != nil {
			if uid := c.UID(); uid != "" {
				return uid, nil
			}
		}
		return nil, nil
	case OpGetAllClientIdCount:
		return h.ClientCount(), nil
	case OpGetAllClientIdList:
		return h.allClientIDs(), nil
	case OpGetAllUidCount:
		return h.UIDCount(), nil
	case OpGetAllUidList:
		return h.allUIDs(), nil
	case OpGetAllGroupIdList:
		return h.allGroups(), nil
	case OpGetClientIdCountByGroup:
		return len(h.groupClients(cmd.Groups[0])), nil
	case OpGetClientIdListByGroup:
		return ids(h.groupClients(cmd.Groups[0])), nil
	case OpGetUidListByGroup:
		return groupUIDs(h.groupClients(cmd.Groups[0])), nil
	case OpGetUidCountByGroup:
		return len(groupUIDs(h.groupClients(cmd.Groups[0]))), nil
	case OpGetClientSessionsByGroup:
		return sessions(h.groupClients(cmd.Groups[0])), nil
	case OpGetAllClientSessions:
		return sessions(h.allClients()), nil
	case OpJoinPresence:
		g := cmd.Groups[0]
		return h.withClient(cmd.ClientID, func(c *Client) { h.joinLocked(c, g); h.setMember(g, c, cmd.Session) }), nil
	case OpGetPresenceMembers:
		return h.presenceMembers(cmd.Groups[0]), nil
	case OpGetInboxCount, OpClearInbox:
		return nil, fmt.Errorf("%w: %s: the offline inbox is off ([inbox] in the configuration)", ErrInvalid, cmd.Op)
	case OpSetSession:
		return h.withClient(cmd.ClientID, func(c *Client) { c.session = Session(slices.Clone(cmd.Session)) }), nil
	case OpUpdateSession:
		var err error
		ok := h.withClient(cmd.ClientID, func(c *Client) {
			var merged Session
			if merged, err = mergeSession(c.session, cmd.Session); err == nil {
				c.session = merged
			}
		})
		return ok && err == nil, err
	case OpGetSession:
		c := h.Client(cmd.ClientID)
		if c == nil {
			return nil, nil
		}
		return c.Session(), nil
	case OpCloseClient:
		c := h.Client(cmd.ClientID)
		if c == nil {
			return false, nil
		}
		if cmd.Message != nil {
			sent.send(c, cmd.Message)
		}
		code := cmd.Code
		if code == 0 {
			code = 1000
		}
		c.conn.Close(code, "")
		return true, nil
	case OpDestroyClient:
		c := h.Client(cmd.ClientID)
		if c == nil {
			return false, nil
		}
		c.conn.Destroy()
		return true, nil
	}
	return nil, fmt.Errorf("%w: unknown operation %s", ErrInvalid, cmd.Op)
}

// Validate reports, wrapping ErrInvalid, a command whose parameters make no
// sense for its operation; Do runs it first.
func Validate(cmd *Command) error {
	need := func(ok bool, what string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%w: %s needs %s", ErrInvalid, cmd.Op, what)
	}
	nonEmpty := func(list []string) bool { return len(list) > 0 && !slices.Contains(list, "") }
	switch cmd.Op {
	case OpSendToAll:
		return need(cmd.Message != nil, "data")
	case OpSendToClient:
		return need(cmd.ClientID != "" && cmd.Message != nil, "client_id and data")
	case OpSendToUid:
		return need(nonEmpty(cmd.UIDs) && cmd.Message != nil, "a non-empty uid and data")
	case OpSendToGroup:
		return need(nonEmpty(cmd.Groups) && cmd.Message != nil, "a non-empty group and data")
	case OpBindUid:
		return need(cmd.ClientID != "" && nonEmpty(cmd.UIDs), "client_id and a non-empty uid")
	case OpIsUidOnline, OpGetClientIdByUid:
		return need(nonEmpty(cmd.UIDs), "a non-empty uid")
	case OpJoinGroup, OpLeaveGroup:
		return need(cmd.ClientID != "" && nonEmpty(cmd.Groups), "client_id and a non-empty group")
	case OpUngroup, OpGetClientIdCountByGroup, OpGetClientIdListByGroup, OpGetUidListByGroup,
		OpGetUidCountByGroup, OpGetClientSessionsByGroup:
		return need(nonEmpty(cmd.Groups), "a non-empty group")
	case OpUnbindUid, OpIsOnline, OpGetUidByClientId, OpGetSession, OpCloseClient, OpDestroyClient:
		return need(cmd.ClientID != "", "client_id")
	case OpSetSession, OpUpdateSession:
		return need(cmd.ClientID != "" && cmd.Session != nil, "client_id and a session")
	case OpJoinPresence:
		return need(cmd.ClientID != "" && nonEmpty(cmd.Groups) && cmd.Session != nil, "client_id, a non-empty group and member data")
	case OpGetInboxCount, OpClearInbox:
		return need(nonEmpty(cmd.UIDs), "a non-empty uid")
	case OpGetPresenceMembers:
		return need(nonEmpty(cmd.Groups), "a non-empty group")
	}
	return nil
}

// withClient runs f under the client's lock; false when the client is gone.
func (h *Hub) withClient(id string, f func(*Client)) bool {
	c := h.Client(id)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	f(c)
	return true
}

func (h *Hub) bindLocked(c *Client, uid string) {
	if c.uid == uid {
		return
	}
	h.unbindLocked(c)
	c.uid = uid
	s := &h.uids[h.shard(uid)]
	s.mu.Lock()
	s.m[uid] = append(s.m[uid], c)
	if len(s.m[uid]) == 1 && h.Presence != nil {
		h.Presence(uid, true)
	}
	s.mu.Unlock()
}

func (h *Hub) unbindLocked(c *Client) {
	if c.uid == "" {
		return
	}
	s := &h.uids[h.shard(c.uid)]
	s.mu.Lock()
	list := slices.DeleteFunc(s.m[c.uid], func(x *Client) bool { return x == c })
	if len(list) == 0 {
		delete(s.m, c.uid)
		if h.Presence != nil {
			h.Presence(c.uid, false)
		}
	} else {
		s.m[c.uid] = list
	}
	s.mu.Unlock()
	c.uid = ""
}

func (h *Hub) joinLocked(c *Client, g string) {
	if _, in := c.groups[g]; in {
		return
	}
	if c.groups == nil {
		c.groups = map[string]uint64{}
	}
	seq := h.joins.Add(1)
	c.groups[g] = seq
	s := &h.groups[h.shard(g)]
	s.mu.Lock()
	members := s.m[g]
	if members == nil {
		members = clientSet{}
		s.m[g] = members
		if h.GroupPresence != nil {
			h.GroupPresence(g, true)
		}
	}
	members[c] = seq
	s.mu.Unlock()
}

func (h *Hub) leaveLocked(c *Client, g string) {
	if _, in := c.groups[g]; !in {
		return
	}
	delete(c.groups, g)
	h.removeFromGroup(g, c)
}

// setMember records c's member data in group g (c is a member of g).
func (h *Hub) setMember(g string, c *Client, data []byte) {
	s := &h.members[h.shard(g)]
	s.mu.Lock()
	m := s.m[g]
	if m == nil {
		m = map[*Client]Session{}
		s.m[g] = m
		h.memberGroups.Add(1)
	}
	m[c] = Session(slices.Clone(data))
	s.mu.Unlock()
}

// dropMember forgets c's member data in group g, if any.
func (h *Hub) dropMember(g string, c *Client) {
	s := &h.members[h.shard(g)]
	s.mu.Lock()
	if m := s.m[g]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(s.m, g)
			h.memberGroups.Add(-1)
		}
	}
	s.mu.Unlock()
}

// presenceMembers is the member data of group g's clients, by client id.
func (h *Hub) presenceMembers(g string) map[string]Session {
	s := &h.members[h.shard(g)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]Session, len(s.m[g]))
	for c, d := range s.m[g] {
		out[c.ID] = d
	}
	return out
}

func (h *Hub) removeFromGroup(g string, c *Client) {
	if h.memberGroups.Load() > 0 {
		h.dropMember(g, c)
	}
	s := &h.groups[h.shard(g)]
	s.mu.Lock()
	if members := s.m[g]; members != nil {
		delete(members, c)
		if len(members) == 0 {
			delete(s.m, g)
			if h.GroupPresence != nil {
				h.GroupPresence(g, false)
			}
		}
	}
	s.mu.Unlock()
}

func (h *Hub) ungroup(g string) bool {
	members := h.groupClients(g)
	for _, c := range members {
		c.mu.Lock()
		if !c.closed {
			h.leaveLocked(c, g)
		}
		c.mu.Unlock()
	}
	return len(members) > 0
}

// parallelFanout is the client count from which sendToAll spreads its shards
// over all cores: below it, starting goroutines costs more than it saves.
const parallelFanout = 4096

func (h *Hub) sendToAll(sent *tally, m *Message, exclude []string) {
	skip := excludeSet(exclude)
	send := func(t *tally, from, to int) {
		for i := from; i < to; i++ {
			s := &h.clients[i]
			s.mu.RLock()
			for id, c := range s.m {
				if _, skipped := skip[id]; skipped {
					continue
				}
				t.send(c, m)
			}
			s.mu.RUnlock()
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || h.ClientCount() < parallelFanout {
		send(sent, 0, shardCount)
		return
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	per := (shardCount + workers - 1) / workers
	for from := 0; from < shardCount; from += per {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var t tally
			send(&t, from, min(from+per, shardCount))
			mu.Lock()
			sent.n += t.n
			sent.bytes += t.bytes
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func (h *Hub) sendToClients(sent *tally, ids []string, m *Message, exclude []string) {
	skip := excludeSet(exclude)
	for _, id := range ids {
		if _, skipped := skip[id]; skipped {
			continue
		}
		if c := h.Client(id); c != nil {
			sent.send(c, m)
		}
	}
}

// excludeSet makes a lookup set of client ids; nil (which finds nothing) when empty.
func excludeSet(ids []string) map[string]struct{} {
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return set
}

func (h *Hub) sendToUids(sent *tally, uids []string, m *Message) {
	for _, uid := range uids {
		mu := m // m for encodings that name the stream: made once per uid, when needed
		s := &h.uids[h.shard(uid)]
		s.mu.RLock()
		for _, c := range s.m[uid] {
			if c.enc.byStream {
				if mu == m {
					mu = m.inUID(uid)
				}
				sent.send(c, mu)
				continue
			}
			sent.send(c, m)
		}
		s.mu.RUnlock()
	}
}

func (h *Hub) sendToGroups(sent *tally, groups []string, m *Message, exclude []string) {
	skip := excludeSet(exclude)
	for _, g := range groups {
		mg := m // m for encodings that name the group: made once per group, when needed
		s := &h.groups[h.shard(g)]
		s.mu.RLock()
		for c := range s.m[g] {
			if _, skipped := skip[c.ID]; skipped {
				continue
			}
			if c.enc.byGroup {
				if mg == m {
					mg = m.inGroup(g)
				}
				sent.send(c, mg)
				continue
			}
			sent.send(c, m)
		}
		s.mu.RUnlock()
	}
}

func (h *Hub) uidClients(uid string) []*Client {
	s := &h.uids[h.shard(uid)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.m[uid])
}

// groupClients returns the group's members in join order.
func (h *Hub) groupClients(g string) []*Client {
	s := &h.groups[h.shard(g)]
	s.mu.RLock()
	type member struct {
		c   *Client
		seq uint64
	}
	ms := make([]member, 0, len(s.m[g]))
	for c, seq := range s.m[g] {
		ms = append(ms, member{c, seq})
	}
	s.mu.RUnlock()
	slices.SortFunc(ms, func(a, b member) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*Client, len(ms))
	for i, m := range ms {
		out[i] = m.c
	}
	return out
}

func (h *Hub) allClients() []*Client {
	var out []*Client
	for i := range h.clients {
		s := &h.clients[i]
		s.mu.RLock()
		for _, c := range s.m {
			out = append(out, c)
		}
		s.mu.RUnlock()
	}
	return out
}

func (h *Hub) allClientIDs() []string { return ids(h.allClients()) }

func (h *Hub) allUIDs() []string { return keys(h.uids[:]) }

func (h *Hub) allGroups() []string { return keys(h.groups[:]) }

// UIDs returns the uids with at least one client, sorted.
func (h *Hub) UIDs() []string { return h.allUIDs() }

// Groups returns the groups with at least one member, sorted.
func (h *Hub) Groups() []string { return h.allGroups() }

func keys[V any](shards []shard[V]) []string {
	out := []string{}
	for i := range shards {
		shards[i].mu.RLock()
		for k := range shards[i].m {
			out = append(out, k)
		}
		shards[i].mu.RUnlock()
	}
	slices.Sort(out)
	return out
}

// ClientCount returns the number of connected clients.
func (h *Hub) ClientCount() int { return count(h.clients[:]) }

// UIDCount returns the number of uids with at least one client.
func (h *Hub) UIDCount() int { return count(h.uids[:]) }

// GroupCount returns the number of groups with at least one client.
func (h *Hub) GroupCount() int { return count(h.groups[:]) }

func count[V any](shards []shard[V]) int {
	n := 0
	for i := range shards {
		shards[i].mu.RLock()
		n += len(shards[i].m)
		shards[i].mu.RUnlock()
	}
	return n
}

// Session returns a copy of the client's session (empty when never set).
func (c *Client) Session() Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.session)
}

// SharedSession returns the session without copying it, for answers that
// only write it out (a large session list is not copied whole). The hub
// replaces a session, never changes it in place, so the bytes stay valid;
// the caller must not modify them.
func (c *Client) SharedSession() Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

func ids(cs []*Client) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	slices.Sort(out)
	return out
}

func groupUIDs(cs []*Client) []string {
	seen := map[string]struct{}{}
	out := []string{}
	for _, c := range cs {
		if uid := c.UID(); uid != "" {
			if _, dup := seen[uid]; !dup {
				seen[uid] = struct{}{}
				out = append(out, uid)
			}
		}
	}
	slices.Sort(out)
	return out
}

func sessions(cs []*Client) map[string]Session {
	out := make(map[string]Session, len(cs))
	for _, c := range cs {
		out[c.ID] = c.SharedSession()
	}
	return out
}
