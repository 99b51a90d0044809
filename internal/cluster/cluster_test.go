package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// conn records the frames a client got.
type conn struct {
	mu     sync.Mutex
	frames []string
	closed bool
}

func (c *conn) Send(f []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, string(f))
	return !c.closed
}
func (c *conn) Close(int, string) { c.mu.Lock(); c.closed = true; c.mu.Unlock() }
func (c *conn) Destroy()          { c.Close(0, "") }

func (c *conn) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.frames)
}

// node is one in-process node: a hub and its cluster.
type node struct {
	hub *hub.Hub
	c   *Cluster
}

// engines starts what each engine needs and returns its options.
func engines(t *testing.T) map[string]Options {
	redis := testenv.Redis(t)
	nats := testenv.NATS(t)
	base := Options{Redis: redis.URL, NATS: nats.URL, Expiry: 3 * time.Second, Timeout: 2 * time.Second}
	r, n := base, base
	r.Engine, n.Engine = "redis", "nats"
	return map[string]Options{"redis": r, "nats": n}
}

// redisOptions starts a Redis for one test and returns options on it.
func redisOptions(t *testing.T, prefix string, timeout time.Duration) (Options, *testenv.Server) {
	redis := testenv.Redis(t)
	return Options{Engine: "redis", Redis: redis.URL, Prefix: prefix, Expiry: 3 * time.Second, Timeout: timeout}, redis
}

func startNode(t *testing.T, opts Options, port int) *node {
	t.Helper()
	ids, err := clientid.NewGenerator("127.0.0.1", port, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(ids)
	opts.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	c, err := New(context.Background(), h, NodeID(ids.ID(0)), opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	h.Presence, h.GroupPresence = c.Presence().UID, c.Presence().Group
	t.Cleanup(func() { c.Close() })
	return &node{h, c}
}

func (n *node) connect() (*hub.Client, *conn) {
	cn := &conn{}
	return n.hub.Connect(cn, hub.Payload), cn
}

func do(t *testing.T, n *node, cmd hub.Command) any {
	t.Helper()
	res, err := n.c.Do(&cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Op, err)
	}
	return res
}

func msg(s string) *hub.Message { return hub.NewText([]byte(s)) }

func TestClusterWide(t *testing.T) {
	for name, opts := range engines(t) {
		t.Run(name, func(t *testing.T) {
			opts.Prefix = "t" + name
			a, b, c := startNode(t, opts, 2901), startNode(t, opts, 2902), startNode(t, opts, 2903)
			a1, a1c := a.connect()
			b1, b1c := b.connect()
			b2, b2c := b.connect()
			c1, c1c := c.connect()

			// State changes go to the client's own node, whichever node is asked.
			for _, bind := range []struct {
				via *node
				cl  *hub.Client
				uid string
			}{{c, a1, "alice"}, {a, b1, "alice"}, {a, b2, "bob"}, {b, c1, "carol"}} {
				if ok := do(t, bind.via, hub.Command{Op: hub.OpBindUid, ClientID: bind.cl.ID, UIDs: []string{bind.uid}}); ok != true {
					t.Fatalf("bindUid %s via another node: %v", bind.uid, ok)
				}
			}
			do(t, c, hub.Command{Op: hub.OpJoinGroup, ClientID: a1.ID, Groups: []string{"room"}})
			do(t, c, hub.Command{Op: hub.OpJoinGroup, ClientID: b2.ID, Groups: []string{"room"}})
			do(t, a, hub.Command{Op: hub.OpJoinGroup, ClientID: c1.ID, Groups: []string{"lobby"}})

			// alice has a tab on a and one on b: one copy each, pushed from c.
			if n := do(t, c, hub.Command{Op: hub.OpSendToUid, UIDs: []string{"alice"}, Message: msg("hi alice")}); n != 2 {
				t.Fatalf("sendToUid alice delivered %v, want 2", n)
			}
			if n := do(t, a, hub.Command{Op: hub.OpSendToGroup, Groups: []string{"room"}, Exclude: []string{b2.ID}, Message: msg("room")}); n != 1 {
				t.Fatalf("sendToGroup room excluding b2 delivered %v, want 1", n)
			}
			if ok := do(t, a, hub.Command{Op: hub.OpSendToClient, ClientID: c1.ID, Message: msg("to c1")}); ok != true {
				t.Fatalf("sendToClient to another node: %v", ok)
			}
			if n := do(t, b, hub.Command{Op: hub.OpSendToAll, Exclude: []string{a1.ID}, Message: msg("all")}); n != 3 {
				t.Fatalf("sendToAll delivered %v, want 3", n)
			}
			if n := do(t, c, hub.Command{Op: hub.OpSendToAll, ClientIDs: []string{a1.ID, c1.ID}, Message: msg("some")}); n != 2 {
				t.Fatalf("sendToAll to a list delivered %v, want 2", n)
			}
			for _, w := range []struct {
				c    *conn
				want []string
			}{
				{a1c, []string{"hi alice", "room", "some"}},
				{b1c, []string{"hi alice", "all"}},
				{b2c, []string{"all"}},
				{c1c, []string{"to c1", "all", "some"}},
			} {
				if got := w.c.got(); !slices.Equal(got, w.want) {
					t.Errorf("client got %q, want %q", got, w.want)
				}
			}

			// Queries answer for the cluster, from any node.
			for _, q := range []struct {
				via  *node
				cmd  hub.Command
				want string
			}{
				{a, hub.Command{Op: hub.OpIsOnline, ClientID: c1.ID}, "true"},
				{a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"carol"}}, "true"},
				{a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"dave"}}, "false"},
				{c, hub.Command{Op: hub.OpGetClientIdByUid, UIDs: []string{"alice"}}, fmt.Sprint(sorted(a1.ID, b1.ID))},
				{c, hub.Command{Op: hub.OpGetUidByClientId, ClientID: b2.ID}, "bob"},
				{b, hub.Command{Op: hub.OpGetAllClientIdCount}, "4"},
				{b, hub.Command{Op: hub.OpGetAllClientIdList}, fmt.Sprint(sorted(a1.ID, b1.ID, b2.ID, c1.ID))},
				{a, hub.Command{Op: hub.OpGetAllUidCount}, "3"},
				{a, hub.Command{Op: hub.OpGetAllUidList}, "[alice bob carol]"},
				{c, hub.Command{Op: hub.OpGetAllGroupIdList}, "[lobby room]"},
				{c, hub.Command{Op: hub.OpGetClientIdCountByGroup, Groups: []string{"room"}}, "2"},
				{c, hub.Command{Op: hub.OpGetClientIdListByGroup, Groups: []string{"room"}}, fmt.Sprint(sorted(a1.ID, b2.ID))},
				{b, hub.Command{Op: hub.OpGetUidListByGroup, Groups: []string{"room"}}, "[alice bob]"},
				{b, hub.Command{Op: hub.OpGetUidCountByGroup, Groups: []string{"room"}}, "2"},
			} {
				res, err := q.via.c.Do(&q.cmd)
				if err != nil || fmt.Sprint(res) != q.want {
					t.Errorf("%s = %v (%v), want %s", q.cmd.Op, res, err, q.want)
				}
			}

			// Sessions live with their client and travel as PHP serialize() bytes.
			sess := `a:1:{s:4:"name";s:5:"alice";}`
			do(t, b, hub.Command{Op: hub.OpSetSession, ClientID: a1.ID, Session: []byte(sess)})
			do(t, c, hub.Command{Op: hub.OpUpdateSession, ClientID: a1.ID, Session: []byte(`a:1:{s:3:"age";i:7;}`)})
			want := `a:2:{s:4:"name";s:5:"alice";s:3:"age";i:7;}`
			if got := do(t, c, hub.Command{Op: hub.OpGetSession, ClientID: a1.ID}); string(got.(hub.Session)) != want {
				t.Errorf("getSession via c = %q, want %q", got, want)
			}
			all := do(t, b, hub.Command{Op: hub.OpGetAllClientSessions}).(map[string]hub.Session)
			if len(all) != 4 || string(all[a1.ID]) != want {
				t.Errorf("getAllClientSessions = %q", all)
			}
			byGroup := do(t, b, hub.Command{Op: hub.OpGetClientSessionsByGroup, Groups: []string{"room"}}).(map[string]hub.Session)
			if len(byGroup) != 2 || string(byGroup[a1.ID]) != want {
				t.Errorf("getClientSessionsByGroup = %q", byGroup)
			}

			// Leaving, ungrouping, unbinding and closing are seen everywhere.
			do(t, a, hub.Command{Op: hub.OpLeaveGroup, ClientID: c1.ID, Groups: []string{"lobby"}})
			if ok := do(t, b, hub.Command{Op: hub.OpUngroup, Groups: []string{"room"}}); ok != true {
				t.Errorf("ungroup room: %v", ok)
			}
			if groups := do(t, c, hub.Command{Op: hub.OpGetAllGroupIdList}); fmt.Sprint(groups) != "[]" {
				t.Errorf("groups after leave and ungroup: %v", groups)
			}
			do(t, c, hub.Command{Op: hub.OpUnbindUid, ClientID: b2.ID})
			if online := do(t, a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"bob"}}); online != false {
				t.Errorf("bob online after unbind")
			}
			if ok := do(t, a, hub.Command{Op: hub.OpCloseClient, ClientID: c1.ID, Message: msg("bye")}); ok != true {
				t.Errorf("closeClient on another node: %v", ok)
			}
			c1c.mu.Lock()
			closed := c1c.closed
			c1c.mu.Unlock()
			if !closed || !slices.Contains(c1c.got(), "bye") {
				t.Errorf("c1 closed=%v frames=%q", closed, c1c.got())
			}

			if ok := do(t, c, hub.Command{Op: hub.OpDestroyClient, ClientID: b1.ID}); ok != true {
				t.Errorf("destroyClient on another node: %v", ok)
			}
			b1c.mu.Lock()
			destroyed := b1c.closed
			b1c.mu.Unlock()
			if !destroyed {
				t.Errorf("b1 not destroyed")
			}

			// All of that was written change by change: no node had to
			// rewrite its whole presence after a failed write.
			for i, n := range []*node{a, b, c} {
				if r := n.c.Stats().Rewrites; r != 1 {
					t.Errorf("node %d wrote its whole presence %d times, want once (at start)", i, r)
				}
			}

			// Bad input is refused before anything leaves the node.
			if _, err := a.c.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{""}, Message: msg("x")}); !errors.Is(err, hub.ErrInvalid) {
				t.Errorf("empty uid: %v", err)
			}
			// A client of a node that does not exist is simply not online.
			ghost := clientid.ID{IP: [4]byte{127, 0, 0, 1}, Port: 2999, Conn: 7}.String()
			if ok := do(t, a, hub.Command{Op: hub.OpSendToClient, ClientID: ghost, Message: msg("x")}); ok != false {
				t.Errorf("sendToClient to a node that does not exist: %v", ok)
			}
		})
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestInterestRouting checks with the bus counters that a uid or group push
// goes only to the nodes with members, and to all of them with broadcast.
func TestInterestRouting(t *testing.T) {
	for name, opts := range engines(t) {
		t.Run(name, func(t *testing.T) {
			for _, routing := range []string{"interest", "broadcast"} {
				t.Run(routing, func(t *testing.T) {
					o := opts
					o.Prefix, o.Broadcast = "r"+name+routing, routing == "broadcast"
					a, b, c := startNode(t, o, 2911), startNode(t, o, 2912), startNode(t, o, 2913)
					cl, _ := c.connect()
					do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: cl.ID, UIDs: []string{"u"}})
					do(t, a, hub.Command{Op: hub.OpJoinGroup, ClientID: cl.ID, Groups: []string{"g"}})
					before := [3]Stats{a.c.Stats(), b.c.Stats(), c.c.Stats()}
					for range 10 {
						do(t, a, hub.Command{Op: hub.OpSendToUid, UIDs: []string{"u"}, Message: msg("x")})
						do(t, a, hub.Command{Op: hub.OpSendToGroup, Groups: []string{"g"}, Message: msg("x")})
					}
					sent := a.c.Stats().Sent - before[0].Sent
					toB := b.c.Stats().PushesIn - before[1].PushesIn
					toC := c.c.Stats().PushesIn - before[2].PushesIn
					wantB := uint64(0)
					if routing == "broadcast" {
						wantB = 20
					}
					if toC != 20 || toB != wantB || sent != 20+wantB {
						t.Fatalf("%s: a sent %d requests, b got %d (want %d), c got %d (want 20)", routing, sent, toB, wantB, toC)
					}
					if idle := b.c.Stats().Idle - before[1].Idle; idle != wantB {
						t.Fatalf("b found no client for %d pushes, want %d", idle, wantB)
					}
				})
			}
		})
	}
}

func TestStartRefusals(t *testing.T) {
	opts, _ := redisOptions(t, "refuse", time.Second)
	startNode(t, opts, 2921)
	ids, _ := clientid.NewGenerator("127.0.0.1", 2921, time.Now())
	_, err := New(context.Background(), hub.New(ids), NodeID(ids.ID(0)), opts, quiet)
	if err == nil || !strings.Contains(err.Error(), "already uses this node's address") {
		t.Fatalf("a second node with the same address: %v", err)
	}
	down := opts
	down.Redis = "redis://127.0.0.1:1/0"
	_, err = New(context.Background(), hub.New(ids), NodeID(ids.ID(0)), down, quiet)
	if err == nil || !strings.Contains(err.Error(), "redis at 127.0.0.1:1 is unreachable") {
		t.Fatalf("unreachable redis: %v", err)
	}
	nats := opts
	nats.Engine, nats.NATS = "nats", "nats://127.0.0.1:1"
	_, err = New(context.Background(), hub.New(ids), NodeID(ids.ID(0)), nats, quiet)
	if err == nil || !strings.Contains(err.Error(), "nats at nats://127.0.0.1:1 is unreachable") {
		t.Fatalf("unreachable nats: %v", err)
	}
}

// TestRedisOutage stops Redis under two nodes: calls fail at once with
// ErrUnavailable, local delivery goes on, and when Redis is back (empty) the
// nodes write their presence again without being told.
func TestRedisOutage(t *testing.T) {
	opts, redis := redisOptions(t, "outage", 2*time.Second)
	a, b := startNode(t, opts, 2931), startNode(t, opts, 2932)
	ca, ca1 := a.connect()
	cb, _ := b.connect()
	do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: ca.ID, UIDs: []string{"u"}})
	do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: cb.ID, UIDs: []string{"v"}})

	redis.Stop()
	start := time.Now()
	_, err := a.c.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"u"}, Message: msg("during")})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "delivered to 1 clients on this node") {
		t.Fatalf("push during the outage: %v", err)
	}
	if took := time.Since(start); took > opts.Timeout {
		t.Fatalf("the failing call took %v", took)
	}
	if got := ca1.got(); !slices.Equal(got, []string{"during"}) {
		t.Fatalf("local client got %q during the outage", got)
	}
	if _, err := a.c.Do(&hub.Command{Op: hub.OpGetAllUidList}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("query during the outage: %v", err)
	}

	redis.Start() // empty: presence must come back from the nodes
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := b.c.Do(&hub.Command{Op: hub.OpGetAllUidList})
		if err == nil && fmt.Sprint(res) == "[u v]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence not back after Redis restarted: %v %v", res, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := do(t, b, hub.Command{Op: hub.OpSendToUid, UIDs: []string{"u"}, Message: msg("after")}); n != 1 {
		t.Fatalf("push after the outage delivered %v", n)
	}
	if got := ca1.got(); !slices.Equal(got, []string{"during", "after"}) {
		t.Fatalf("client got %q, want one copy of each push", got)
	}
}

// TestNodeExpiry stops a node's heartbeat without leaving (as SIGKILL
// would): its uids vanish from every answer within the expiry.
func TestNodeExpiry(t *testing.T) {
	opts, _ := redisOptions(t, "expiry", 2*time.Second)
	a, b := startNode(t, opts, 2941), startNode(t, opts, 2942)
	cb, _ := b.connect()
	do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: cb.ID, UIDs: []string{"gone"}})
	if online := do(t, a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"gone"}}); online != true {
		t.Fatal("uid not online before the node died")
	}
	b.c.pres.crashed.Store(true) // stop as SIGKILL would: no goodbye
	b.c.cancel()
	<-b.c.done
	b.c.bus.Close()
	start := time.Now()
	for {
		online := do(t, a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"gone"}})
		if online == false {
			break
		}
		if time.Since(start) > opts.Expiry+2*time.Second {
			t.Fatalf("a dead node's uid still online after %v", time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := do(t, a, hub.Command{Op: hub.OpGetAllClientIdCount}); n != 0 {
		t.Fatalf("clients counted on a dead node: %v", n)
	}
}

// TestFirstHolder: of the nodes holding a uid, exactly one is first, the
// one that has had it the longest, even when both get it at once.
func TestFirstHolder(t *testing.T) {
	opts, _ := redisOptions(t, "first", 2*time.Second)
	a, b := startNode(t, opts, 2961), startNode(t, opts, 2962)
	ca, _ := a.connect()
	cb, _ := b.connect()
	first := func(n *node, uid string) bool {
		t.Helper()
		ok, err := n.c.UIDFirstHere(uid)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: cb.ID, UIDs: []string{"u"}})
	do(t, a, hub.Command{Op: hub.OpBindUid, ClientID: ca.ID, UIDs: []string{"u"}})
	if !first(b, "u") || first(a, "u") {
		t.Fatalf("b bound u first: b first %v, a first %v", first(b, "u"), first(a, "u"))
	}
	do(t, a, hub.Command{Op: hub.OpUnbindUid, ClientID: cb.ID})
	if !first(a, "u") {
		t.Fatal("a is the only holder left but not first")
	}
	// Both at once, each asking right after its own write as the webhook
	// does: exactly one of them is told it is first (with Redis's time
	// alone, the two writes could share a millisecond and the later writer,
	// with the lower id, win the tie after the earlier had been told first).
	for i := range 200 {
		uid := fmt.Sprint("both", i)
		var wg sync.WaitGroup
		var firsts atomic.Int32
		for _, bind := range []struct {
			n  *node
			id string
		}{{a, ca.ID}, {b, cb.ID}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := bind.n.c.Do(&hub.Command{Op: hub.OpBindUid, ClientID: bind.id, UIDs: []string{uid}}); err != nil {
					t.Error(err) // not Fatal: this is not the test's goroutine
					return
				}
				if ok, err := bind.n.c.UIDFirstHere(uid); err != nil {
					t.Error(err)
				} else if ok {
					firsts.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Fatalf("%s: %d nodes were told they were first", uid, n)
		}
		if first(a, uid) == first(b, uid) {
			t.Fatalf("%s: a first %v, b first %v", uid, first(a, uid), first(b, uid))
		}
	}
}

// TestOwnPresenceNotTrusted: a node answers for itself from its hub, never
// from its own presence entry, which can lag its hub by a write (here: an
// entry its hub does not have, written behind its back).
func TestOwnPresenceNotTrusted(t *testing.T) {
	opts, _ := redisOptions(t, "own", 2*time.Second)
	a, b := startNode(t, opts, 2971), startNode(t, opts, 2972)
	if err := a.c.rdb.HSet(context.Background(), a.c.pres.key(":uids"), "ghost", 1).Err(); err != nil {
		t.Fatal(err)
	}
	if online := do(t, a, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"ghost"}}); online != false {
		t.Errorf("a says ghost is online from its own stale entry")
	}
	if uids := do(t, a, hub.Command{Op: hub.OpGetAllUidList}); fmt.Sprint(uids) != "[]" {
		t.Errorf("a lists %v from its own stale entry", uids)
	}
	// Other nodes do go by presence: for them, a has ghost.
	if online := do(t, b, hub.Command{Op: hub.OpIsUidOnline, UIDs: []string{"ghost"}}); online != true {
		t.Errorf("b does not see a's presence entry")
	}
}
