package gwcompat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"thinkgate/internal/accept"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpser"
)

// Inner serves GatewayWorker's inner port: commands from PHP's GatewayClient
// and from BusinessWorkers, in GatewayWorker's 28-byte-header GatewayProtocol.
//
// One send, one delivery: GatewayClient sends sendToAll, sendToUid,
// sendToGroup, ungroup and every aggregate query to each address the
// Register lists, and merges the answers itself. Commands arriving here
// therefore act on this node's own connections only. When a cluster bus
// joins nodes, it must not forward what arrives on this port, or every
// client would get each message once per node.
type Inner struct {
	hub *hub.Hub
	// Sends, when set before serving, runs the commands instead of the hub
	// (the hub behind message history, internal/history).
	Sends   hub.Doer
	secret  string
	workers *Workers
	log     *slog.Logger

	conns   accept.Tracker
	waiting chan struct{} // connections waiting for their first turn (see serve)

	Accepted atomic.Uint64 // connections accepted
	Packets  atomic.Uint64 // packets handled
}

// NewInner returns the inner port server; workers receives BusinessWorker
// connections.
func NewInner(h *hub.Hub, secret string, workers *Workers, log *slog.Logger) *Inner {
	return &Inner{hub: h, secret: secret, workers: workers, log: log, waiting: make(chan struct{}, maxWaiting)}
}

// maxWaiting bounds the connections accepted but not yet through their first turn.
const maxWaiting = 1024

// Serve accepts connections until Shutdown.
func (in *Inner) Serve(ln net.Listener) error {
	in.conns.Listen(ln)
	prev := make(chan struct{})
	close(prev) // the first connection's turn is free
	return accept.Loop(ln, in.log, func(nc net.Conn) {
		in.Accepted.Add(1)
		if !in.conns.Add(nc) {
			nc.Close()
			return
		}
		// At most maxWaiting connections wait for their first turn; past
		// that the accept loop blocks and new ones wait in the kernel.
		in.waiting <- struct{}{}
		mine := make(chan struct{})
		go in.newConn(nc).serve(prev, mine)
		prev = mine
	})
}

// Active returns the number of open inner connections.
func (in *Inner) Active() int { return in.conns.Len() }

// Shutdown stops accepting and lets each connection finish the packets it
// has already received.
func (in *Inner) Shutdown(ctx context.Context) error {
	if err := in.conns.Shutdown(ctx, accept.CloseRead); err != nil {
		return fmt.Errorf("inner shutdown: %w", err)
	}
	return nil
}

// firstWait bounds how long the accept loop waits for a new connection's
// first packet; GatewayClient and BusinessWorker write at once.
const firstWait = 20 * time.Millisecond

// innerConn is one connection to the inner port.
type innerConn struct {
	in         *Inner
	nc         net.Conn
	raw        syscall.RawConn
	br         *bufio.Reader
	out        net.Buffers // replies not written yet; only this connection's goroutine touches them
	outLen     int         // their bytes
	inTurn     bool        // applying its first packets in accept order: replies wait (see serve)
	authorized bool
	worker     *worker
	// busy is set as soon as bytes leave the kernel for br and cleared once
	// everything read is handled: with unread(raw) it tells whether this
	// connection has anything not yet applied.
	busy atomic.Bool
}

func (in *Inner) newConn(nc net.Conn) *innerConn {
	c := &innerConn{in: in, nc: nc, authorized: in.secret == ""}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.br = bufio.NewReaderSize(busyReader{c}, 16<<10)
	return c
}

// busyReader marks the connection busy when a read brings bytes in.
type busyReader struct{ c *innerConn }

func (r busyReader) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	if n > 0 {
		r.c.busy.Store(true)
	}
	return n, err
}

// settled reports whether everything this connection has received is applied.
func (c *innerConn) settled() bool {
	return !c.busy.Load() && (c.raw == nil || unread(c.raw) == 0)
}

// serve runs one connection. GatewayClient makes one short connection per
// call, so consecutive calls (joinGroup, then sendToGroup) arrive on
// different connections; GatewayWorker's single event loop applies them in
// arrival order, and so must we: each connection waits (at most firstWait)
// for its first packets in parallel with the others, but runs them only in
// its accept-order turn: after prev is closed, and closing mine when done.
// Later packets on long-lived connections run freely.
//
// Replies to what runs in the turn are written after it: a peer that never
// reads its replies holds up only itself, never the connections after it.
func (c *innerConn) serve(prev <-chan struct{}, mine chan<- struct{}) {
	alive := c.awaitFirst()
	<-prev
	if alive {
		c.inTurn = true
		alive = c.runBuffered()
		c.inTurn = false
	}
	close(mine)
	<-c.in.waiting
	if alive {
		alive = c.flush()
	}
	if alive {
		c.rest()
	} else {
		c.end()
	}
}

// Limits on a peer of the inner port.
const (
	// WriteTimeout is how long a peer may take to accept a reply; past it
	// the connection is closed.
	WriteTimeout = 10 * time.Second
	// AuthTimeout is how long a connection may take to send its connect
	// packet when gwcompat.secret is set; PreAuthMaxPacket is the largest
	// packet read from it until then (the connect packet is under 1 KiB).
	AuthTimeout      = 10 * time.Second
	PreAuthMaxPacket = 64 << 10
	// turnReplies caps the replies held while a connection has its turn;
	// past it, its remaining packets run after the turn.
	turnReplies = 1 << 20
)

// queueReply holds one reply, given in pieces that are written as they are
// (a session is not copied into the answer), behind its length.
func (c *innerConn) queueReply(pieces [][]byte) {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	c.out = append(c.out, binary.BigEndian.AppendUint32(nil, uint32(n)))
	c.out = append(c.out, pieces...)
	c.outLen += 4 + n
}

// flush writes the replies held, within WriteTimeout; false when the
// connection must end.
func (c *innerConn) flush() bool {
	if c.outLen == 0 {
		return true
	}
	c.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	_, err := c.out.WriteTo(c.nc)
	c.out, c.outLen = nil, 0
	if err != nil {
		c.in.log.Warn("inner: a peer did not take its reply; closing", "remote", c.nc.RemoteAddr(), "err", err)
		return false
	}
	return true
}

// awaitFirst waits at most firstWait until a whole first packet is
// buffered. It only peeks, so the deadline never splits a packet. False
// when the connection ended without sending anything.
func (c *innerConn) awaitFirst() bool {
	c.nc.SetReadDeadline(time.Now().Add(firstWait))
	defer c.nc.SetReadDeadline(time.Time{})
	hdr, err := c.br.Peek(HeaderLen)
	if err != nil {
		return isTimeout(err) || len(hdr) > 0
	}
	if n := int(binary.BigEndian.Uint32(hdr)); n >= HeaderLen && n <= c.br.Size() {
		c.br.Peek(n)
	}
	return true
}

// runBuffered handles the whole packets already buffered, without waiting
// for more; false when the connection must end.
func (c *innerConn) runBuffered() bool {
	for c.br.Buffered() >= HeaderLen && c.outLen < turnReplies {
		hdr, _ := c.br.Peek(HeaderLen)
		n := int(binary.BigEndian.Uint32(hdr))
		if n < HeaderLen || n > c.br.Buffered() {
			return true // incomplete, or malformed: rest reads and judges it
		}
		if !c.step() {
			return false
		}
	}
	return true
}

// rest serves the connection until it ends.
func (c *innerConn) rest() {
	for c.step() {
	}
	c.end()
}

func (c *innerConn) end() {
	c.flush()
	c.nc.Close()
	if c.worker != nil {
		c.in.workers.remove(c.worker)
	}
	c.in.conns.Done(c.nc)
}

// step reads and handles one packet; false when the connection must end.
func (c *innerConn) step() bool {
	in, nc := c.in, c.nc
	limit := MaxPacket
	if !c.authorized { // nothing big, and not for long, before the secret
		limit = PreAuthMaxPacket
		nc.SetReadDeadline(time.Now().Add(AuthTimeout))
	}
	p, err := ReadPacket(c.br, limit)
	if err != nil {
		if errors.Is(err, ErrFrame) {
			in.log.Warn("inner: bad packet; closing", "remote", nc.RemoteAddr(), "err", err)
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			in.log.Debug("inner: connection ended", "remote", nc.RemoteAddr(), "err", err)
		}
		return false
	}
	in.Packets.Add(1)
	if !c.authorized && p.Cmd != CmdWorkerConnect && p.Cmd != CmdGatewayClientConnect {
		in.log.Warn("inner: unauthorized request; closing", "remote", nc.RemoteAddr(), "cmd", p.Cmd)
		return false
	}
	switch p.Cmd {
	case CmdGatewayClientConnect, CmdWorkerConnect:
		var hello struct {
			SecretKey string `json:"secret_key"`
			WorkerKey string `json:"worker_key"`
		}
		json.Unmarshal(p.Body, &hello)
		if hello.SecretKey != in.secret {
			in.log.Warn("inner: secret key mismatch; closing", "remote", nc.RemoteAddr(), "cmd", p.Cmd)
			return false
		}
		if !c.authorized {
			c.authorized = true
			if in.secret != "" {
				nc.SetReadDeadline(time.Time{})
			}
		}
		if p.Cmd == CmdWorkerConnect && c.worker == nil {
			c.worker = in.workers.add(nc, remoteIP(nc)+":"+hello.WorkerKey, c.settled)
		}
	default:
		if c.worker == nil && isQuery(p.Cmd) {
			// A BusinessWorker writes with fire-and-forget commands on its
			// long-lived connection and asks on pooled ones; what it wrote
			// first must be applied before its question is answered, as
			// GatewayWorker's event loop does by reading in arrival order.
			in.workers.settle()
		}
		switch p.Cmd {
		case CmdGetAllClientSessions: // can be large: the sessions as they are, no copy
			c.queueReply(sessionsPieces(in.hub.Clients()))
		case CmdGetClientSessionsByGroup:
			c.queueReply(sessionsPieces(in.hub.GroupClients(string(p.Ext))))
		default:
			if reply := in.handle(p); reply != nil {
				c.queueReply([][]byte{reply})
			}
		}
	}
	if c.br.Buffered() == 0 {
		c.busy.Store(false)
	}
	if c.br.Buffered() == 0 && !c.inTurn { // answer pipelined requests in one write
		return c.flush()
	}
	return true
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return nc.RemoteAddr().String()
}

// handle runs one command and returns the serialized reply, or nil for the
// fire-and-forget commands, which must produce no bytes.
func (in *Inner) handle(p *Packet) []byte {
	h := in.hub
	client := func() *hub.Client { return h.ClientByConn(p.ConnID) }
	var doer hub.Doer = h
	if in.Sends != nil {
		doer = in.Sends
	}
	do := func(cmd hub.Command) {
		if _, err := doer.Do(&cmd); err != nil {
			in.log.Debug("inner: command rejected", "cmd", p.Cmd, "err", err)
		}
	}
	switch p.Cmd {
	case CmdSendToOne:
		if c := client(); c != nil {
			do(hub.Command{Op: hub.OpSendToClient, ClientID: c.ID, Message: message(p)})
		}
	case CmdSendToAll:
		var ext struct {
			Connections json.RawMessage `json:"connections"`
			Exclude     json.RawMessage `json:"exclude"`
		}
		if len(p.Ext) > 0 {
			json.Unmarshal(p.Ext, &ext)
		}
		cmd := hub.Command{Op: hub.OpSendToAll, Message: message(p)}
		if len(ext.Connections) > 0 && string(ext.Connections) != "null" {
			cmd.ClientIDs = in.clientIDs(values(ext.Connections))
			if cmd.ClientIDs == nil {
				cmd.ClientIDs = []string{}
			}
		} else {
			cmd.Exclude = in.clientIDs(keys(ext.Exclude))
		}
		do(cmd)
	case CmdKick:
		if c := client(); c != nil {
			cmd := hub.Command{Op: hub.OpCloseClient, ClientID: c.ID}
			if p.Flag&FlagBodyIsScalar != 0 || string(p.Body) != "N;" {
				cmd.Message = message(p)
			}
			do(cmd)
		}
	case CmdDestroy:
		if c := client(); c != nil {
			do(hub.Command{Op: hub.OpDestroyClient, ClientID: c.ID})
		}
	case CmdUpdateSession:
		if c := client(); c != nil {
			do(hub.Command{Op: hub.OpUpdateSession, ClientID: c.ID, Session: p.Ext})
		}
	case CmdSetSession:
		if c := client(); c != nil {
			do(hub.Command{Op: hub.OpSetSession, ClientID: c.ID, Session: append([]byte{}, p.Ext...)})
		}
	case CmdGetAllClientSessions:
		return sessionsReply(h.Clients())
	case CmdGetClientSessionsByGroup:
		return sessionsReply(h.GroupClients(string(p.Ext)))
	case CmdIsOnline:
		if client() != nil {
			return []byte("i:1;")
		}
		return []byte("i:0;")
	case CmdBindUid:
		if c := client(); c != nil && !phpEmpty(p.Ext) {
			do(hub.Command{Op: hub.OpBindUid, ClientID: c.ID, UIDs: []string{string(p.Ext)}})
		}
	case CmdUnbindUid:
		if c := client(); c != nil {
			do(hub.Command{Op: hub.OpUnbindUid, ClientID: c.ID})
		}
	case CmdJoinGroup, CmdLeaveGroup:
		if c := client(); c != nil && !phpEmpty(p.Ext) {
			op := hub.OpJoinGroup
			if p.Cmd == CmdLeaveGroup {
				op = hub.OpLeaveGroup
			}
			do(hub.Command{Op: op, ClientID: c.ID, Groups: []string{string(p.Ext)}})
		}
	case CmdUngroup:
		if !phpEmpty(p.Ext) {
			do(hub.Command{Op: hub.OpUngroup, Groups: []string{string(p.Ext)}})
		}
	case CmdSendToUid:
		if uids := nonEmpty(values(p.Ext)); len(uids) > 0 {
			do(hub.Command{Op: hub.OpSendToUid, UIDs: uids, Message: message(p)})
		}
	case CmdSendToGroup:
		var ext struct {
			Group   json.RawMessage `json:"group"`
			Exclude json.RawMessage `json:"exclude"`
		}
		json.Unmarshal(p.Ext, &ext)
		if groups := nonEmpty(values(ext.Group)); len(groups) > 0 {
			do(hub.Command{Op: hub.OpSendToGroup, Groups: groups, Exclude: in.clientIDs(keys(ext.Exclude)), Message: message(p)})
		}
	case CmdGetClientIdByUid:
		return phpser.Serialize(connIDList(h.UIDClients(string(p.Ext))))
	case CmdBatchGetClientIdByUid:
		out := phpser.NewArr()
		for _, uid := range values(p.Ext) {
			out.Set(phpser.StrKey(uid), connIDList(h.UIDClients(uid)))
		}
		return phpser.Serialize(phpser.ArrV(out))
	case CmdGetClientCountByGroup:
		if len(p.Ext) == 0 {
			return phpser.Serialize(phpser.IntV(int64(h.ClientCount())))
		}
		return phpser.Serialize(phpser.IntV(int64(len(h.GroupClients(string(p.Ext))))))
	case CmdBatchGetClientCountByGroup:
		out := phpser.NewArr()
		for _, g := range values(p.Ext) {
			out.Set(phpser.StrKey(g), phpser.IntV(int64(len(h.GroupClients(g)))))
		}
		return phpser.Serialize(phpser.ArrV(out))
	case CmdGetGroupIdList:
		out := phpser.NewArr()
		for _, g := range h.GroupIDs() {
			if k := phpser.StrKey(g); k.IsInt { // array_keys gives ints for numeric groups
				out.Append(phpser.IntV(k.I))
			} else {
				out.Append(phpser.Str(g))
			}
		}
		return phpser.Serialize(phpser.ArrV(out))
	case CmdSelect:
		return in.selectReply(p.Ext)
	case CmdGetSessionByClientId:
		c := client()
		switch {
		case c == nil:
			return []byte("N;")
		case len(c.Session()) == 0:
			return []byte("a:0:{}")
		default:
			return c.Session()
		}
	case CmdPing:
	default:
		in.log.Warn("inner: unknown command; ignored", "cmd", p.Cmd)
	}
	return nil
}

// isQuery reports whether cmd is answered with a reply.
func isQuery(cmd byte) bool {
	switch cmd {
	case CmdGetAllClientSessions, CmdIsOnline, CmdGetClientIdByUid, CmdBatchGetClientIdByUid,
		CmdGetClientSessionsByGroup, CmdGetClientCountByGroup, CmdSelect, CmdGetGroupIdList,
		CmdBatchGetClientCountByGroup, CmdGetSessionByClientId:
		return true
	}
	return false
}

// message builds the client message of a send: a scalar body as is; a
// serialized one (flag 0x01 clear) unserialized, strings as is and anything
// else as JSON, as workerman v5 does; the raw flag skips framing.
func message(p *Packet) *hub.Message {
	data := p.Body
	if p.Flag&FlagBodyIsScalar == 0 {
		if v, err := phpser.Unserialize(p.Body); err == nil {
			if v.Kind == phpser.String {
				data = []byte(v.S)
			} else {
				data = phpser.ToJSON(v)
			}
		}
	}
	return &hub.Message{Raw: p.Flag&FlagNotCallEncode != 0, Data: data}
}

// phpEmpty is PHP's empty() for a string: "" and "0".
func phpEmpty(b []byte) bool { return len(b) == 0 || string(b) == "0" }

func nonEmpty(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// values returns the string form of each value of a JSON list or object
// (PHP senders produce either, depending on the array's keys).
func values(raw []byte) []string { return entries(raw, false) }

// keys returns the keys of a JSON object ({"2":2} -> ["2"]).
func keys(raw []byte) []string { return entries(raw, true) }

func entries(raw []byte, wantKeys bool) []string {
	v, err := phpser.FromJSON(raw)
	if err != nil || v.Kind != phpser.Array {
		return nil
	}
	out := make([]string, 0, v.A.Len())
	for i := range v.A.Len() {
		k, e := v.A.At(i)
		if wantKeys {
			out = append(out, k.String())
		} else {
			out = append(out, e.Scalar())
		}
	}
	return out
}

// clientIDs maps connection numbers (decimal strings) to this node's client ids.
func (in *Inner) clientIDs(conns []string) []string {
	var out []string
	for _, s := range conns {
		k := phpser.StrKey(s)
		if !k.IsInt || k.I < 0 || k.I > 1<<32-1 {
			continue
		}
		if c := in.hub.ClientByConn(uint32(k.I)); c != nil {
			out = append(out, c.ID)
		}
	}
	return out
}

func connIDList(cs []*hub.Client) phpser.Value {
	a := phpser.NewArr()
	for _, c := range cs {
		a.Append(phpser.IntV(int64(c.ConnID())))
	}
	return phpser.ArrV(a)
}

// sessionsReply is array(conn_id => session string), with never-set
// sessions as "".
func sessionsReply(cs []*hub.Client) []byte { return bytes.Join(sessionsPieces(cs), nil) }

// sessionsPieces is the PHP-serialized array connection id => session
// string, in pieces: the sessions themselves are not copied.
func sessionsPieces(cs []*hub.Client) [][]byte {
	out := make([][]byte, 0, 2*len(cs)+2)
	out = append(out, fmt.Appendf(nil, "a:%d:{", len(cs)))
	for _, c := range cs {
		sess := c.SharedSession()
		out = append(out, fmt.Appendf(nil, "i:%d;s:%d:\"", c.ConnID(), len(sess)), sess)
		out = append(out, []byte(`";`))
	}
	return append(out, []byte("}"))
}

// selectReply answers CMD_SELECT (Gateway::select in GatewayClient).
func (in *Inner) selectReply(ext []byte) []byte {
	empty := []byte("a:0:{}")
	var req struct {
		Fields []string        `json:"fields"`
		Where  json.RawMessage `json:"where"`
	}
	if json.Unmarshal(ext, &req) != nil {
		return empty
	}
	h := in.hub
	var picked []*hub.Client
	seen := map[*hub.Client]bool{}
	add := func(cs ...*hub.Client) {
		for _, c := range cs {
			if c != nil && !seen[c] {
				seen[c] = true
				picked = append(picked, c)
			}
		}
	}
	where, err := phpser.FromJSON(req.Where)
	if err != nil || where.Kind != phpser.Array || where.A.Len() == 0 {
		add(h.Clients()...)
	} else {
		for i := range where.A.Len() {
			k, items := where.A.At(i)
			if items.Kind != phpser.Array {
				continue
			}
			for j := range items.A.Len() {
				_, item := items.A.At(j)
				switch k.String() {
				case "groups":
					add(h.GroupClients(item.Scalar())...)
				case "uid":
					add(h.UIDClients(item.Scalar())...)
				case "connection_id":
					if item.Kind == phpser.Int && item.I >= 0 && item.I <= 1<<32-1 {
						add(h.ClientByConn(uint32(item.I)))
					} else if sk := phpser.StrKey(item.Scalar()); sk.IsInt && sk.I >= 0 && sk.I <= 1<<32-1 {
						add(h.ClientByConn(uint32(sk.I)))
					}
				}
			}
		}
	}
	out := phpser.NewArr()
	for _, c := range picked {
		info := c.Info()
		row := phpser.NewArr()
		for _, f := range req.Fields {
			var v phpser.Value
			switch f {
			case "uid":
				if info.UID != "" {
					v = phpser.Str(info.UID)
				}
			case "groups":
				if info.Joined {
					g := phpser.NewArr()
					for _, name := range info.Groups {
						g.Set(phpser.StrKey(name), phpser.Str(name))
					}
					v = phpser.ArrV(g)
				}
			case "session":
				v = phpser.Str(string(info.Session))
			}
			row.Set(phpser.StrKey(f), v)
		}
		out.Set(phpser.IntKey(int64(c.ConnID())), phpser.ArrV(row))
	}
	return phpser.Serialize(phpser.ArrV(out))
}
