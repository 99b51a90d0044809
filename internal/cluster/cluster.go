// Package cluster makes several thinkgate nodes one gateway through an
// existing engine: Redis (pub/sub for requests between nodes, presence in
// sets with expiry) or NATS (request/reply for requests, presence in Redis).
// A Cluster runs every hub.Command cluster-wide: a command for one client
// goes to the node its client_id names, uid and group sends go only to nodes
// that presence says have members, and queries merge every node's answer.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
)

// Options configure a Cluster (the config file's [cluster] section).
type Options struct {
	Engine    string        // "redis" or "nats"
	Redis     string        // Redis URL: presence for both engines, requests for "redis"
	NATS      string        // NATS URL, for "nats"
	Prefix    string        // key, channel and subject prefix
	Expiry    time.Duration // a node that stops its heartbeat leaves presence after this
	Timeout   time.Duration // how long a command waits for other nodes
	Broadcast bool          // send uid and group pushes to every node (for comparison)
	Addr      string        // this node's advertised inner address, "lan_ip:port"
	Info      map[string]string
}

// Stats are the bus counters /status and /metrics show.
type Stats struct {
	Sent     uint64 `json:"requests_sent"`     // requests this node sent to others
	Received uint64 `json:"requests_received"` // requests others sent here
	PushesIn uint64 `json:"pushes_received"`   // of those, pushes (sendToUid, sendToGroup, sendToAll)
	Idle     uint64 `json:"pushes_idle"`       // received pushes that found no client here
	Pushes   uint64 `json:"pushes"`            // uid, group and all pushes started here
	Rewrites uint64 `json:"presence_rewrites"` // whole presence written: once at start, then after each Redis failure
}

// Cluster runs commands across the nodes. Safe for concurrent use.
type Cluster struct {
	hub  *hub.Hub
	self string
	opts Options
	log  *slog.Logger

	rdb  *redis.Client
	bus  Bus
	pres *Presence

	sent, received, pushesIn, idle, pushes atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// NodeID is the node id of the node a client id names: the 12 hex digits
// of its address, which are also the first 12 of each of its client ids.
func NodeID(id clientid.ID) string { return id.String()[:12] }

// owner returns the node a client_id names, or "" for a malformed id (no
// node holds it).
func owner(clientID string) string {
	id, err := clientid.Parse(clientID)
	if err != nil {
		return ""
	}
	return NodeID(id)
}

// New connects to the engine, makes sure no live node already uses this
// node's id, registers the node in presence and starts serving requests from
// other nodes. An unreachable engine fails here with the engine named.
func New(ctx context.Context, h *hub.Hub, self string, opts Options, log *slog.Logger) (*Cluster, error) {
	c := &Cluster{hub: h, self: self, opts: opts, log: log}
	setRedisLogger.Do(func() { redis.SetLogger(redisLog{log}) })
	ropts, err := redis.ParseURL(opts.Redis)
	if err != nil {
		return nil, fmt.Errorf("cluster.redis: %w", err)
	}
	ropts.MaxRetries = -1   // never send twice
	ropts.DialerRetries = 1 // an engine that is down fails the call at once
	ropts.DialTimeout = min(opts.Timeout, 2*time.Second)
	ropts.ReadTimeout, ropts.WriteTimeout = opts.Timeout, opts.Timeout
	ropts.ClientName = "thinkgate-" + self
	c.rdb = redis.NewClient(ropts)
	fail := func(err error) (*Cluster, error) {
		if c.bus != nil {
			c.bus.Close()
		}
		c.rdb.Close()
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		return fail(fmt.Errorf("cluster: redis at %s is unreachable: %w", ropts.Addr, err))
	}
	switch opts.Engine {
	case "redis":
		c.bus = newRedisBus(c.rdb, opts.Prefix, log)
	case "nats":
		nc, err := dialNATS(opts.NATS, "thinkgate-"+self, log)
		if err != nil {
			return fail(fmt.Errorf("cluster: nats at %s is unreachable: %w", redactURL(opts.NATS), err))
		}
		c.bus = &natsBus{nc: nc, prefix: opts.Prefix, log: log}
	default:
		return fail(fmt.Errorf("cluster.engine: unknown engine %q", opts.Engine))
	}
	busy, err := c.bus.Listening(pctx, self)
	if err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	if busy {
		return fail(fmt.Errorf("cluster: a live node already uses this node's address %s; give each node its own gwcompat.lan_ip and gwcompat.inner", opts.Addr))
	}
	info := map[string]string{"addr": opts.Addr}
	for k, v := range opts.Info {
		info[k] = v
	}
	c.pres = newPresence(c.rdb, opts.Prefix, self, opts.Expiry, info, func() ([]string, []string) { return h.UIDs(), h.Groups() }, log)
	if err := c.bus.Serve(pctx, self, c.handle); err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	if err := c.pres.start(pctx); err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	rctx, stop := context.WithCancel(context.Background())
	c.cancel, c.done = stop, make(chan struct{})
	go func() {
		defer close(c.done)
		c.pres.run(rctx)
	}()
	return c, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// redisLog sends go-redis's own messages (dial failures while Redis is
// down) to the node's log at debug level; the cluster logs outages itself.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "redis")
}

var setRedisLogger sync.Once

// Presence returns the hooks the hub reports uid and group changes to.
func (c *Cluster) Presence() *Presence { return c.pres }

// Self returns this node's id.
func (c *Cluster) Self() string { return c.self }

// Nodes returns the live nodes, read from Redis now (or, while it cannot be
// reached, as last read).
func (c *Cluster) Nodes() []Node {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	nodes, _ := c.pres.ReadNodes(ctx)
	return nodes
}

// UIDOnlineElsewhere reports whether presence lists uid on a live node
// other than this one.
func (c *Cluster) UIDOnlineElsewhere(uid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	nodes, err := c.pres.Route(ctx, false, []string{uid})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(nodes, func(n string) bool { return n != c.self }), nil
}

// UIDFirstHere reports whether this node is the one that has had uid the
// longest among the live nodes (once this node's own change is written), so
// that exactly one node reports a uid coming online.
func (c *Cluster) UIDFirstHere(uid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	if err := c.pres.Sync(ctx); err != nil {
		return false, err
	}
	first, err := c.pres.First(ctx, uid)
	return first == c.self, err
}

// Stats returns the bus counters.
func (c *Cluster) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Received: c.received.Load(), PushesIn: c.pushesIn.Load(), Idle: c.idle.Load(), Pushes: c.pushes.Load(),
		Rewrites: c.pres.rewrites.Load()}
}

// Close leaves presence and closes the engine connections.
func (c *Cluster) Close() error {
	c.cancel()
	<-c.done
	err := c.bus.Close()
	return errors.Join(err, c.rdb.Close())
}

// changesPresence reports whether op changes what presence records, so
// that its caller must see the change in presence when it returns.
func changesPresence(op hub.Op) bool {
	switch op {
	case hub.OpBindUid, hub.OpUnbindUid, hub.OpJoinGroup, hub.OpLeaveGroup, hub.OpUngroup, hub.OpJoinPresence:
		return true
	}
	return false
}

// handle runs a command another node sent and encodes the result.
func (c *Cluster) handle(req []byte) []byte {
	if len(req) == 0 { // Listening's probe
		return nil
	}
	c.received.Add(1)
	cmd, err := decodeCommand(req)
	if err != nil {
		c.log.Warn("dropping a corrupt bus request", "bytes", len(req))
		return encodeResult(nil, nil, err)
	}
	res, err := c.local(cmd)
	switch cmd.Op {
	case hub.OpSendToAll, hub.OpSendToUid, hub.OpSendToGroup:
		c.pushesIn.Add(1)
		if n, _ := res.(int); n == 0 && err == nil {
			c.idle.Add(1)
		}
	}
	return encodeResult(nil, res, err)
}

// local runs cmd on this node's hub; a change to presence is in Redis when
// it returns (or Redis is down, and it will be written when it is back).
func (c *Cluster) local(cmd *hub.Command) (any, error) {
	res, err := c.hub.Do(cmd)
	if err == nil && changesPresence(cmd.Op) {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
		defer cancel()
		if serr := c.pres.Sync(ctx); serr != nil {
			c.log.Warn("presence not written yet; it will be when Redis is back", "op", cmd.Op.String(), "err", serr)
		}
	}
	return res, err
}

// Do runs cmd across the cluster and returns what hub.Do returns on one
// node holding every client. Errors wrapping ErrUnavailable mean the engine
// is down; a push has then still reached the clients on this node.
func (c *Cluster) Do(cmd *hub.Command) (any, error) {
	if err := hub.Validate(cmd); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	switch cmd.Op {
	case hub.OpSendToClient, hub.OpBindUid, hub.OpUnbindUid, hub.OpJoinGroup, hub.OpLeaveGroup, hub.OpIsOnline,
		hub.OpGetUidByClientId, hub.OpSetSession, hub.OpUpdateSession, hub.OpGetSession, hub.OpCloseClient, hub.OpDestroyClient,
		hub.OpJoinPresence:
		return c.toOwner(ctx, cmd)
	case hub.OpSendToAll:
		c.pushes.Add(1)
		if cmd.ClientIDs != nil {
			return c.toOwners(ctx, cmd)
		}
		return c.fanout(ctx, cmd, c.everyNode)
	case hub.OpSendToUid:
		c.pushes.Add(1)
		return c.fanout(ctx, cmd, c.route(false, cmd.UIDs))
	case hub.OpSendToGroup:
		c.pushes.Add(1)
		return c.fanout(ctx, cmd, c.route(true, cmd.Groups))
	case hub.OpGetClientIdByUid:
		return c.fanout(ctx, cmd, c.route(false, cmd.UIDs))
	case hub.OpUngroup, hub.OpGetClientIdCountByGroup, hub.OpGetClientIdListByGroup, hub.OpGetUidListByGroup,
		hub.OpGetClientSessionsByGroup, hub.OpGetPresenceMembers:
		return c.fanout(ctx, cmd, c.route(true, cmd.Groups))
	case hub.OpGetUidCountByGroup: // a uid can have clients on several nodes: count the union
		list := *cmd
		list.Op = hub.OpGetUidListByGroup
		res, err := c.fanout(ctx, &list, c.route(true, cmd.Groups))
		if err != nil {
			return nil, err
		}
		return len(res.([]string)), nil
	case hub.OpGetAllClientIdCount, hub.OpGetAllClientIdList, hub.OpGetAllClientSessions:
		return c.fanout(ctx, cmd, c.everyNode)
	case hub.OpIsUidOnline:
		if online, _ := c.hub.Do(cmd); online == true {
			return true, nil
		}
		// Other nodes from presence; this node's own entry may lag by a
		// write, and its hub has just answered exactly.
		nodes, err := c.pres.Route(ctx, false, cmd.UIDs)
		if err != nil {
			return nil, err
		}
		return slices.ContainsFunc(nodes, func(n string) bool { return n != c.self }), nil
	case hub.OpGetAllUidCount, hub.OpGetAllUidList, hub.OpGetAllGroupIdList:
		list, err := c.pres.Union(ctx, cmd.Op == hub.OpGetAllGroupIdList, c.self)
		if err != nil {
			return nil, err
		}
		// The other nodes from presence, this one from its hub, which is
		// exact where its presence may lag by a write.
		local := c.hub.Groups()
		if cmd.Op != hub.OpGetAllGroupIdList {
			local = c.hub.UIDs()
		}
		list = union(list, local)
		if cmd.Op == hub.OpGetAllUidCount {
			return len(list), nil
		}
		return list, nil
	}
	return c.hub.Do(cmd)
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// zero is the answer for a client whose node is gone.
func zero(op hub.Op) any {
	switch op {
	case hub.OpGetUidByClientId, hub.OpGetSession:
		return nil
	}
	return false
}

// toOwner runs a command about one client on the node holding it.
func (c *Cluster) toOwner(ctx context.Context, cmd *hub.Command) (any, error) {
	node := owner(cmd.ClientID)
	if node == "" || node == c.self {
		return c.local(cmd)
	}
	res, err := c.request(ctx, node, cmd)
	if errors.Is(err, ErrNoNode) {
		return zero(cmd.Op), nil
	}
	return res, err
}

// toOwners splits a sendToAll to a list of clients by node.
func (c *Cluster) toOwners(ctx context.Context, cmd *hub.Command) (any, error) {
	byNode := map[string][]string{}
	for _, id := range cmd.ClientIDs {
		node := owner(id)
		if node == "" {
			node = c.self
		}
		byNode[node] = append(byNode[node], id)
	}
	var nodes []string
	for node := range byNode {
		nodes = append(nodes, node)
	}
	return c.scatter(ctx, cmd, nodes, func(node string) *hub.Command {
		part := *cmd
		part.ClientIDs = byNode[node]
		return &part
	}, nil)
}

// targets picks the nodes a command goes to.
type targets func(ctx context.Context) ([]string, error)

func (c *Cluster) everyNode(ctx context.Context) ([]string, error) { return c.pres.Live(ctx) }

// route targets the nodes with members for names; with Broadcast, every node.
func (c *Cluster) route(group bool, names []string) targets {
	if c.opts.Broadcast {
		return c.everyNode
	}
	return func(ctx context.Context) ([]string, error) { return c.pres.Route(ctx, group, names) }
}

// fanout runs cmd here and on the target nodes and merges the answers. When
// the targets cannot be found (the engine is down), this node's part still
// runs and the error says so.
func (c *Cluster) fanout(ctx context.Context, cmd *hub.Command, to targets) (any, error) {
	// This node's part runs while presence is asked who else has members,
	// so local clients do not wait for Redis. Its hub is exact, so it runs
	// whatever presence says about this node.
	local := make(chan outcome, 1)
	go func() {
		res, err := c.local(cmd)
		local <- outcome{res, err}
	}()
	nodes, err := to(ctx)
	if err != nil {
		l := <-local
		if l.err != nil {
			return nil, l.err
		}
		if n, isSend := l.res.(int); isSend && cmd.Message != nil {
			return nil, fmt.Errorf("%w (delivered to %d clients on this node only)", err, n)
		}
		return nil, err
	}
	nodes = slices.DeleteFunc(nodes, func(n string) bool { return n == c.self })
	return c.scatter(ctx, cmd, nodes, func(string) *hub.Command { return cmd }, local)
}

// outcome is one node's answer to a command.
type outcome struct {
	res any
	err error
}

// scatter sends each node its command, in parallel, and merges the results
// with this node's: local when given, else run here if nodes lists this node.
func (c *Cluster) scatter(ctx context.Context, cmd *hub.Command, nodes []string, part func(node string) *hub.Command, local <-chan outcome) (any, error) {
	results := make([]any, len(nodes)+1)
	errs := make([]error, len(nodes)+1)
	var wg sync.WaitGroup
	for i, node := range nodes {
		if node == c.self {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.request(ctx, node, part(node))
			if errors.Is(errs[i], ErrNoNode) { // gone: it holds nothing
				results[i], errs[i] = nil, nil
			}
		}()
	}
	if local != nil {
		l := <-local
		results[len(nodes)], errs[len(nodes)] = l.res, l.err
	} else if i := slices.Index(nodes, c.self); i >= 0 {
		results[i], errs[i] = c.local(part(c.self))
	}
	wg.Wait()
	res := merge(cmd.Op, results)
	if err := errors.Join(errs...); err != nil {
		if n, isSend := res.(int); isSend && cmd.Message != nil {
			return nil, fmt.Errorf("%w (delivered to %d clients on the nodes reached)", err, n)
		}
		return nil, err
	}
	return res, nil
}

// request runs cmd on another node.
func (c *Cluster) request(ctx context.Context, node string, cmd *hub.Command) (any, error) {
	c.sent.Add(1)
	reply, err := c.bus.Request(ctx, node, encodeCommand(nil, cmd))
	if err != nil {
		return nil, err
	}
	res, err := decodeResult(reply)
	if errors.Is(err, errCorrupt) {
		return nil, fmt.Errorf("cluster: node %s answered with a corrupt reply", node)
	}
	return res, err
}

// merge combines the nodes' answers to one command (nil: a node that held
// nothing).
func merge(op hub.Op, results []any) any {
	switch op {
	case hub.OpSendToAll, hub.OpSendToUid, hub.OpSendToGroup, hub.OpGetAllClientIdCount, hub.OpGetClientIdCountByGroup:
		n := 0
		for _, r := range results {
			v, _ := r.(int)
			n += v
		}
		return n
	case hub.OpUngroup:
		found := false
		for _, r := range results {
			v, _ := r.(bool)
			found = found || v
		}
		return found
	case hub.OpGetClientIdByUid, hub.OpGetAllClientIdList, hub.OpGetClientIdListByGroup, hub.OpGetUidListByGroup:
		out := []string{}
		for _, r := range results {
			v, _ := r.([]string)
			out = append(out, v...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	case hub.OpGetClientSessionsByGroup, hub.OpGetAllClientSessions, hub.OpGetPresenceMembers:
		out := map[string]hub.Session{}
		for _, r := range results {
			v, _ := r.(map[string]hub.Session)
			for id, s := range v {
				out[id] = s
			}
		}
		return out
	}
	return nil
}

// Describe is the cluster part of /status.
func (c *Cluster) Describe() map[string]any {
	return map[string]any{
		"engine": c.opts.Engine, "node": c.self, "addr": c.opts.Addr, "nodes": c.Nodes(), "stats": c.Stats(),
		"routing":  map[bool]string{false: "interest", true: "broadcast"}[c.opts.Broadcast],
		"redis_ok": c.pres.healthy.Load(),
	}
}
