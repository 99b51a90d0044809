package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence is the cluster's shared view kept in Redis: which nodes live and
// which uids and groups each node has members for. Every key but the shared
// stamp counter is the node's own and carries the expiry, renewed by the
// node's heartbeat, so a node that dies leaves no trace once the expiry
// passes:
//
//	<prefix>:nodes               sorted set: node id -> last heartbeat (Redis time, ms)
//	<prefix>:node:<id>           hash: addr (the inner address), ws, pid, started
//	<prefix>:node:<id>:uids      hash: uid with a client on the node -> since when (stamp)
//	<prefix>:stamp               the last stamp handed out
//	<prefix>:node:<id>:groups    set of groups with a member on the node
//
// Changes are recorded by the hub's presence hooks and written by one
// goroutine, coalesced; Sync waits until what was recorded before it is in
// Redis. After any failure (Redis restarted, unreachable) the node writes
// its whole state again.
type Presence struct {
	rdb    *redis.Client
	prefix string
	id     string
	ttl    time.Duration
	info   []any // field, value pairs of the node hash
	state  func() (uids, groups []string)
	log    *slog.Logger

	mu        sync.Mutex
	dirty     map[interest]bool
	marked    uint64        // changes recorded
	flushed   uint64        // changes known written
	flushedCh chan struct{} // closed and replaced after each write
	resync    bool          // write everything on the next flush
	wake      chan struct{}
	healthy   atomic.Bool
	lastErr   atomic.Pointer[error]

	nodes atomic.Pointer[[]Node] // the live nodes as last read

	crashed atomic.Bool // tests: stop without leaving, as a killed node does

	rewrites atomic.Uint64 // whole-state writes: the first, then one per failure
}

// Node is one live node as presence lists it.
type Node struct {
	ID   string `json:"id"`
	Addr string `json:"addr"` // the GatewayWorker inner address ("lan_ip:port")
}

type interest struct {
	group bool
	name  string
}

func newPresence(rdb *redis.Client, prefix, id string, ttl time.Duration, info map[string]string, state func() (uids, groups []string), log *slog.Logger) *Presence {
	p := &Presence{
		rdb: rdb, prefix: prefix, id: id, ttl: ttl, state: state, log: log,
		dirty: map[interest]bool{}, flushedCh: make(chan struct{}), wake: make(chan struct{}, 1), resync: true,
	}
	for k, v := range info {
		p.info = append(p.info, k, v)
	}
	p.nodes.Store(&[]Node{})
	return p
}

func (p *Presence) key(suffix string) string { return p.prefix + ":node:" + p.id + suffix }

// UID records that uid got its first client on this node (true) or lost
// its last; it is the hub's Presence hook and never blocks on Redis.
func (p *Presence) UID(uid string, online bool) { p.mark(interest{false, uid}, online) }

// Group records that group got its first member on this node or lost its
// last; it is the hub's GroupPresence hook.
func (p *Presence) Group(group string, present bool) { p.mark(interest{true, group}, present) }

func (p *Presence) mark(k interest, on bool) {
	p.mu.Lock()
	p.dirty[k] = on
	p.marked++
	p.mu.Unlock()
	p.poke()
}

func (p *Presence) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Sync waits until every change recorded before the call is in Redis. It
// fails at once with ErrUnavailable while Redis is unreachable.
func (p *Presence) Sync(ctx context.Context) error {
	for {
		p.mu.Lock()
		want, done, ch := p.marked, p.flushed, p.flushedCh
		p.mu.Unlock()
		if done >= want {
			return nil
		}
		if !p.healthy.Load() {
			return p.unavailable()
		}
		p.poke()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cluster: presence not written in time: %w", ctx.Err())
		}
		p.mu.Lock()
		done = p.flushed
		p.mu.Unlock()
		if done >= want {
			return nil
		}
	}
}

func (p *Presence) unavailable() error {
	if e := p.lastErr.Load(); e != nil {
		return fmt.Errorf("%w: redis: %v", ErrUnavailable, *e)
	}
	return ErrUnavailable
}

// start registers the node and writes its state; an unreachable Redis
// fails here.
func (p *Presence) start(ctx context.Context) error {
	if _, err := p.heartbeat(ctx); err != nil {
		return err
	}
	return p.flush(ctx)
}

// run keeps the node's presence written and alive until ctx ends; then it
// removes the node from presence.
func (p *Presence) run(ctx context.Context) {
	beat := time.NewTicker(p.ttl / 3)
	defer beat.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			if !p.crashed.Load() {
				p.leave()
			}
			return
		case <-p.wake:
		case <-retry.C:
		case <-beat.C:
			if existed, err := p.heartbeat(ctx); err == nil && !existed {
				p.log.Warn("presence was lost (Redis restarted?); writing it again")
				p.mu.Lock()
				p.resync = true
				p.mu.Unlock()
			}
		}
		if err := p.flush(ctx); err != nil && ctx.Err() == nil {
			retry.Reset(250 * time.Millisecond)
		}
	}
}

func (p *Presence) fail(err error) error {
	if p.healthy.Swap(false) {
		p.log.Warn("redis unreachable; presence will be written again when it is back", "err", err)
	}
	p.lastErr.Store(&err)
	p.mu.Lock()
	p.resync = true
	p.mu.Unlock()
	return fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
}

func (p *Presence) ok() {
	if !p.healthy.Swap(true) && p.lastErr.Load() != nil {
		p.log.Info("redis reachable again")
	}
}

// heartbeatScript renews the node's keys, drops nodes whose heartbeat is
// older than the expiry from the node list and returns whether the node's
// hash still existed (it does not after a Redis restart).
var heartbeatScript = redis.NewScript(`
local p, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local k = p .. ':node:' .. id
local existed = redis.call('EXISTS', k)
redis.call('ZADD', p .. ':nodes', now, id)
redis.call('ZREMRANGEBYSCORE', p .. ':nodes', '-inf', '(' .. (now - ttl))
for i = 4, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', k, ttl)
redis.call('PEXPIRE', k .. ':uids', ttl)
redis.call('PEXPIRE', k .. ':groups', ttl)
return existed
`)

// luaLive starts the query scripts: the prefix, the expiry and the live
// node ids (heartbeat within the expiry, by Redis's clock); ARGV[3] and on
// are the script's own.
const luaLive = `
local p, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', p .. ':nodes', now - ttl, '+inf')
`

// nodesScript returns the live nodes as id, addr pairs.
var nodesScript = redis.NewScript(luaLive + `
local out = {}
for _, n in ipairs(live) do
  local addr = redis.call('HGET', p .. ':node:' .. n, 'addr')
  if addr then table.insert(out, n); table.insert(out, addr) end
end
return out
`)

func (p *Presence) heartbeat(ctx context.Context) (existed bool, err error) {
	args := append([]any{p.prefix, p.id, p.ttl.Milliseconds()}, p.info...)
	existed, err = heartbeatScript.Run(ctx, p.rdb, nil, args...).Bool()
	if err != nil {
		return false, p.fail(err)
	}
	return existed, nil
}

// storeNodes keeps a list of id, addr pairs as the live nodes.
func (p *Presence) storeNodes(pairs []any) []Node {
	nodes := []Node{}
	for i := 0; i+1 < len(pairs); i += 2 {
		id, _ := pairs[i].(string)
		addr, _ := pairs[i+1].(string)
		nodes = append(nodes, Node{ID: id, Addr: addr})
	}
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	p.nodes.Store(&nodes)
	return nodes
}

// Nodes returns the live nodes as ReadNodes last read them, in id order.
func (p *Presence) Nodes() []Node { return *p.nodes.Load() }

// ReadNodes reads the live nodes from Redis now; when Redis cannot be
// reached it returns the last list read, with the error.
func (p *Presence) ReadNodes(ctx context.Context) ([]Node, error) {
	res, err := nodesScript.Run(ctx, p.rdb, nil, p.prefix, p.ttl.Milliseconds()).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return p.Nodes(), fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
	}
	return p.storeNodes(res), nil
}

// flush writes the recorded changes, or the node's whole state after a
// failure.
func (p *Presence) flush(ctx context.Context) error {
	p.mu.Lock()
	batch, upto, resync, ch := p.dirty, p.marked, p.resync, p.flushedCh
	p.dirty, p.resync = map[interest]bool{}, false
	p.mu.Unlock()
	var err error
	if resync {
		err = p.writeAll(ctx) // the snapshot is taken after the swap, so it covers batch
	} else {
		err = p.writeChanges(ctx, batch)
	}
	if err != nil {
		p.mu.Lock()
		for k, v := range batch { // keep what was not superseded
			if _, newer := p.dirty[k]; !newer {
				p.dirty[k] = v
			}
		}
		p.mu.Unlock()
		return p.fail(err)
	}
	p.ok()
	p.mu.Lock()
	p.flushed = upto
	close(ch)
	p.flushedCh = make(chan struct{})
	p.mu.Unlock()
	return nil
}

func (p *Presence) writeChanges(ctx context.Context, batch map[interest]bool) error {
	if len(batch) == 0 {
		return nil
	}
	var add, del [2][]string // [uids, groups]
	for k, on := range batch {
		i := 0
		if k.group {
			i = 1
		}
		if on {
			add[i] = append(add[i], k.name)
		} else {
			del[i] = append(del[i], k.name)
		}
	}
	pipe := p.rdb.Pipeline()
	if len(add[0]) > 0 { // a uid already there (off and on again between writes) keeps its stamp
		pipe.Eval(ctx, addUIDsScript, nil, append([]any{p.key(":uids"), p.prefix + ":stamp"}, anyOf(add[0])...)...)
	}
	if len(del[0]) > 0 {
		pipe.HDel(ctx, p.key(":uids"), del[0]...)
	}
	if len(add[1]) > 0 {
		pipe.SAdd(ctx, p.key(":groups"), anyOf(add[1])...)
	}
	if len(del[1]) > 0 {
		pipe.SRem(ctx, p.key(":groups"), anyOf(del[1])...)
	}
	pipe.PExpire(ctx, p.key(":uids"), p.ttl)
	pipe.PExpire(ctx, p.key(":groups"), p.ttl)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// A stamp is Redis's time in milliseconds, made strictly greater than every
// stamp handed out before (in the same script, so atomically): two nodes
// that bind the same uid get different stamps, ordered as their writes
// were, and a node that asks First after its own write can never be
// overtaken by a later writer on a tie. luaStamp leaves it in `now`; the
// key of the last stamp is in the variable `stampKey`.
const luaStamp = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', stampKey) or '0')
if now <= last then now = last + 1 end
redis.call('SET', stampKey, now)
`

// addUIDsScript records uids (ARGV[3] on) in the node's uid hash (ARGV[1])
// with a new stamp (ARGV[2] is the stamp key), keeping the stamp of a uid
// already there.
const addUIDsScript = `local stampKey = ARGV[2]` + luaStamp + `
for i = 3, #ARGV do redis.call('HSETNX', ARGV[1], ARGV[i], now) end
return #ARGV - 2
`

// stampScript hands out one stamp (ARGV[1] is the stamp key).
var stampScript = redis.NewScript(`local stampKey = ARGV[1]` + luaStamp + `return now`)

// writeAll replaces the node's uids and groups with the hub's state, in
// one transaction; every uid gets the stamp of the rewrite.
func (p *Presence) writeAll(ctx context.Context) error {
	uids, groups := p.state()
	since, err := stampScript.Run(ctx, p.rdb, nil, p.prefix+":stamp").Int64()
	if err != nil {
		return err
	}
	tx := p.rdb.TxPipeline()
	tx.Del(ctx, p.key(":uids"), p.key(":groups"))
	for i := 0; i < len(uids); i += 1000 {
		var pairs []any
		for _, uid := range uids[i:min(i+1000, len(uids))] {
			pairs = append(pairs, uid, since)
		}
		tx.HSet(ctx, p.key(":uids"), pairs...)
	}
	for i := 0; i < len(groups); i += 1000 {
		tx.SAdd(ctx, p.key(":groups"), anyOf(groups[i:min(i+1000, len(groups))])...)
	}
	tx.PExpire(ctx, p.key(":uids"), p.ttl)
	tx.PExpire(ctx, p.key(":groups"), p.ttl)
	if _, err = tx.Exec(ctx); err == nil {
		p.rewrites.Add(1)
		p.log.Debug("presence written", "uids", len(uids), "groups", len(groups))
	}
	return err
}

func anyOf(l []string) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// leave removes the node from presence at a clean stop.
func (p *Presence) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pipe := p.rdb.Pipeline()
	pipe.ZRem(ctx, p.prefix+":nodes", p.id)
	pipe.Del(ctx, p.key(""), p.key(":uids"), p.key(":groups"))
	if _, err := pipe.Exec(ctx); err != nil {
		p.log.Debug("leaving presence failed; it expires on its own", "err", err)
	}
}

// liveArgs are the arguments of a query script about uids (group false)
// or groups (true).
func (p *Presence) liveArgs(group bool) []any {
	kind := "uids"
	if group {
		kind = "groups"
	}
	return []any{p.prefix, p.ttl.Milliseconds(), kind}
}

// routeScript returns the live nodes whose set (ARGV[3]: uids or groups)
// holds any of the names given after it.
var routeScript = redis.NewScript(luaLive + `
local member = 'SISMEMBER'
if ARGV[3] == 'uids' then member = 'HEXISTS' end
local out = {}
for _, n in ipairs(live) do
  local k = p .. ':node:' .. n .. ':' .. ARGV[3]
  for i = 4, #ARGV do
    if redis.call(member, k, ARGV[i]) == 1 then table.insert(out, n); break end
  end
end
return out
`)

// unionScript returns the union of the live nodes' uids or groups (ARGV[3]),
// leaving out node ARGV[4].
var unionScript = redis.NewScript(luaLive + `
local list = 'SMEMBERS'
if ARGV[3] == 'uids' then list = 'HKEYS' end
local seen, out = {}, {}
for _, n in ipairs(live) do
  if n ~= ARGV[4] then
    for _, name in ipairs(redis.call(list, p .. ':node:' .. n .. ':' .. ARGV[3])) do
      if not seen[name] then seen[name] = true; table.insert(out, name) end
    end
  end
end
return out
`)

// firstScript returns the live node that has had uid (ARGV[3]) the longest,
// the lowest id among equals, or nil.
var firstScript = redis.NewScript(luaLive + `
local best, bestSince
for _, n in ipairs(live) do
  local since = redis.call('HGET', p .. ':node:' .. n .. ':uids', ARGV[3])
  if since then
    since = tonumber(since)
    if not best or since < bestSince or (since == bestSince and n < best) then best, bestSince = n, since end
  end
end
return best
`)

// First returns the live node that has had a client bound to uid the
// longest (ties: the lowest node id), or "" when no node has one. Every
// node asking gets the same answer, so exactly one of them is first.
func (p *Presence) First(ctx context.Context, uid string) (string, error) {
	id, err := firstScript.Run(ctx, p.rdb, nil, p.prefix, p.ttl.Milliseconds(), uid).Text()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
	}
	return id, nil
}

// liveScript returns the live node ids.
var liveScript = redis.NewScript(luaLive + `return live`)

// Route returns the live nodes with a client bound to any of uids (group
// false) or a member in any of the groups (group true).
func (p *Presence) Route(ctx context.Context, group bool, names []string) ([]string, error) {
	args := p.liveArgs(group)
	for _, n := range names {
		args = append(args, n)
	}
	return p.strings(routeScript.Run(ctx, p.rdb, nil, args...).StringSlice())
}

// Union returns every uid (group false) or group (true) on the live nodes
// other than except.
func (p *Presence) Union(ctx context.Context, group bool, except string) ([]string, error) {
	return p.strings(unionScript.Run(ctx, p.rdb, nil, append(p.liveArgs(group), except)...).StringSlice())
}

// Live returns the ids of the live nodes, read from Redis now.
func (p *Presence) Live(ctx context.Context) ([]string, error) {
	return p.strings(liveScript.Run(ctx, p.rdb, nil, p.prefix, p.ttl.Milliseconds()).StringSlice())
}

func (p *Presence) strings(out []string, err error) ([]string, error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
	}
	return out, nil
}
