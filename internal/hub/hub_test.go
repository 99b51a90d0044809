package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/phpser"
)

// recConn records what the hub queues on it, decoded back into payloads.
type recConn struct {
	mu     sync.Mutex
	frames []string
	closed int
	full   bool
}

func (r *recConn) Send(frame []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full || r.closed != 0 {
		return false
	}
	r.frames = append(r.frames, decode(frame))
	return true
}

func (r *recConn) Close(code int, _ string) {
	r.mu.Lock()
	r.closed = code
	r.mu.Unlock()
}

func (r *recConn) Destroy() { r.Close(-1, "") }

func (r *recConn) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...)
}

// testEncoding marks binary payloads, so tests can tell them apart.
var testEncoding = NewEncoding("test", func(m *Message) []byte {
	if m.Binary {
		return append([]byte("bin:"), m.Data...)
	}
	return m.Data
})

func decode(b []byte) string { return string(b) }

func newHub(t *testing.T) *Hub {
	t.Helper()
	g, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return New(g)
}

func do(t *testing.T, h *Hub, cmd Command) any {
	t.Helper()
	res, err := h.Do(&cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Op, err)
	}
	return res
}

func connect(h *Hub, n int) ([]*Client, []*recConn) {
	cs := make([]*Client, n)
	rs := make([]*recConn, n)
	for i := range n {
		rs[i] = &recConn{}
		cs[i] = h.Connect(rs[i], testEncoding)
	}
	return cs, rs
}

func msg(s string) *Message { return NewText([]byte(s)) }

func TestSendsReachTheRightClients(t *testing.T) {
	h := newHub(t)
	cs, rs := connect(h, 4)
	do(t, h, Command{Op: OpBindUid, ClientID: cs[0].ID, UIDs: []string{"u1"}})
	do(t, h, Command{Op: OpBindUid, ClientID: cs[1].ID, UIDs: []string{"u1"}})
	do(t, h, Command{Op: OpBindUid, ClientID: cs[2].ID, UIDs: []string{"u2"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[1].ID, Groups: []string{"g"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[2].ID, Groups: []string{"g"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[2].ID, Groups: []string{"h"}})

	cases := []struct {
		name string
		cmd  Command
		want any
		got  [4][]string // what each client has received after this step, cumulatively
	}{
		{"toAll", Command{Op: OpSendToAll, Message: msg("a")}, 4,
			[4][]string{{"a"}, {"a"}, {"a"}, {"a"}}},
		{"toAll exclude", Command{Op: OpSendToAll, Message: msg("b"), Exclude: []string{cs[0].ID, cs[3].ID}}, 2,
			[4][]string{{"a"}, {"a", "b"}, {"a", "b"}, {"a"}}},
		{"toClient", Command{Op: OpSendToClient, ClientID: cs[3].ID, Message: msg("c")}, true,
			[4][]string{{"a"}, {"a", "b"}, {"a", "b"}, {"a", "c"}}},
		{"toClient unknown", Command{Op: OpSendToClient, ClientID: "7f000001000000000000", Message: msg("x")}, false,
			[4][]string{{"a"}, {"a", "b"}, {"a", "b"}, {"a", "c"}}},
		{"toUid two tabs", Command{Op: OpSendToUid, UIDs: []string{"u1"}, Message: msg("d")}, 2,
			[4][]string{{"a", "d"}, {"a", "b", "d"}, {"a", "b"}, {"a", "c"}}},
		{"toUid list", Command{Op: OpSendToUid, UIDs: []string{"u2", "nobody"}, Message: msg("e")}, 1,
			[4][]string{{"a", "d"}, {"a", "b", "d"}, {"a", "b", "e"}, {"a", "c"}}},
		{"toGroup exclude", Command{Op: OpSendToGroup, Groups: []string{"g"}, Message: msg("f"), Exclude: []string{cs[1].ID}}, 1,
			[4][]string{{"a", "d"}, {"a", "b", "d"}, {"a", "b", "e", "f"}, {"a", "c"}}},
		{"toGroup two groups delivers twice like GatewayWorker", Command{Op: OpSendToGroup, Groups: []string{"g", "h"}, Message: msg("g")}, 3,
			[4][]string{{"a", "d"}, {"a", "b", "d", "g"}, {"a", "b", "e", "f", "g", "g"}, {"a", "c"}}},
		{"binary", Command{Op: OpSendToClient, ClientID: cs[0].ID, Message: &Message{Binary: true, Data: []byte{1}}}, true,
			[4][]string{{"a", "d", "bin:\x01"}, {"a", "b", "d", "g"}, {"a", "b", "e", "f", "g", "g"}, {"a", "c"}}},
	}
	for _, tc := range cases {
		if got := do(t, h, tc.cmd); got != tc.want {
			t.Fatalf("%s: result %v, want %v", tc.name, got, tc.want)
		}
		for i, r := range rs {
			if got := r.got(); !reflect.DeepEqual(got, tc.got[i]) {
				t.Fatalf("%s: client %d has %q, want %q", tc.name, i, got, tc.got[i])
			}
		}
	}
}

func TestUidAndGroupQueries(t *testing.T) {
	h := newHub(t)
	cs, _ := connect(h, 3)
	a, b, c := cs[0].ID, cs[1].ID, cs[2].ID
	do(t, h, Command{Op: OpBindUid, ClientID: a, UIDs: []string{"u1"}})
	do(t, h, Command{Op: OpBindUid, ClientID: b, UIDs: []string{"u1"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: a, Groups: []string{"room"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: b, Groups: []string{"room"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: c, Groups: []string{"room"}})
	do(t, h, Command{Op: OpSetSession, ClientID: c, Session: ser(t, `{"name":"c"}`)})

	sorted := func(s ...string) []string {
		return ids(func() []*Client { // ids() sorts
			out := []*Client{}
			for _, x := range s {
				out = append(out, &Client{ID: x})
			}
			return out
		}())
	}
	cases := []struct {
		cmd  Command
		want any
	}{
		{Command{Op: OpIsOnline, ClientID: a}, true},
		{Command{Op: OpIsOnline, ClientID: "7f000001000000000000"}, false},
		{Command{Op: OpIsUidOnline, UIDs: []string{"u1"}}, true},
		{Command{Op: OpIsUidOnline, UIDs: []string{"u2"}}, false},
		{Command{Op: OpGetClientIdByUid, UIDs: []string{"u1"}}, sorted(a, b)},
		{Command{Op: OpGetClientIdByUid, UIDs: []string{"u2"}}, []string{}},
		{Command{Op: OpGetUidByClientId, ClientID: a}, "u1"},
		{Command{Op: OpGetUidByClientId, ClientID: c}, nil},
		{Command{Op: OpGetAllClientIdCount}, 3},
		{Command{Op: OpGetAllClientIdList}, sorted(a, b, c)},
		{Command{Op: OpGetAllUidCount}, 1},
		{Command{Op: OpGetAllUidList}, []string{"u1"}},
		{Command{Op: OpGetAllGroupIdList}, []string{"room"}},
		{Command{Op: OpGetClientIdCountByGroup, Groups: []string{"room"}}, 3},
		{Command{Op: OpGetClientIdListByGroup, Groups: []string{"room"}}, sorted(a, b, c)},
		{Command{Op: OpGetUidListByGroup, Groups: []string{"room"}}, []string{"u1"}},
		{Command{Op: OpGetUidCountByGroup, Groups: []string{"room"}}, 1},
		{Command{Op: OpGetClientIdCountByGroup, Groups: []string{"none"}}, 0},
		{Command{Op: OpGetClientSessionsByGroup, Groups: []string{"room"}}, map[string]Session{
			a: nil, b: nil, c: Session(`a:1:{s:4:"name";s:1:"c";}`)}},
		{Command{Op: OpGetAllClientSessions}, map[string]Session{
			a: nil, b: nil, c: Session(`a:1:{s:4:"name";s:1:"c";}`)}},
	}
	for _, tc := range cases {
		if got := do(t, h, tc.cmd); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %+v: got %#v, want %#v", tc.cmd.Op, tc.cmd, got, tc.want)
		}
	}
}

func TestOneUidPerClientRebindAndUnbind(t *testing.T) {
	h := newHub(t)
	cs, _ := connect(h, 1)
	a := cs[0].ID
	do(t, h, Command{Op: OpBindUid, ClientID: a, UIDs: []string{"old"}})
	do(t, h, Command{Op: OpBindUid, ClientID: a, UIDs: []string{"new"}})
	if got := do(t, h, Command{Op: OpIsUidOnline, UIDs: []string{"old"}}); got != false {
		t.Fatal("rebinding kept the old uid")
	}
	if got := do(t, h, Command{Op: OpGetAllUidList}); !reflect.DeepEqual(got, []string{"new"}) {
		t.Fatalf("uids %v", got)
	}
	// GatewayWorker ignores the uid given to unbindUid.
	if got := do(t, h, Command{Op: OpUnbindUid, ClientID: a, UIDs: []string{"whatever"}}); got != true {
		t.Fatal("unbind of a live client returned false")
	}
	if got := do(t, h, Command{Op: OpGetUidByClientId, ClientID: a}); got != nil {
		t.Fatalf("uid after unbind: %v", got)
	}
	if got := do(t, h, Command{Op: OpBindUid, ClientID: "7f000001000000000000", UIDs: []string{"x"}}); got != false {
		t.Fatal("bind of an unknown client returned true")
	}
}

func TestLeaveUngroupAndDisconnectCleanUp(t *testing.T) {
	h := newHub(t)
	cs, rs := connect(h, 3)
	for _, c := range cs {
		do(t, h, Command{Op: OpJoinGroup, ClientID: c.ID, Groups: []string{"g"}})
		do(t, h, Command{Op: OpBindUid, ClientID: c.ID, UIDs: []string{"u-" + c.ID}})
	}
	do(t, h, Command{Op: OpLeaveGroup, ClientID: cs[0].ID, Groups: []string{"g"}})
	if got := do(t, h, Command{Op: OpSendToGroup, Groups: []string{"g"}, Message: msg("m")}); got != 2 {
		t.Fatalf("after leave, group send reached %v", got)
	}
	if got := do(t, h, Command{Op: OpUngroup, Groups: []string{"g"}}); got != true {
		t.Fatal("ungroup of a group with members returned false")
	}
	if got := do(t, h, Command{Op: OpUngroup, Groups: []string{"g"}}); got != false {
		t.Fatal("ungroup of an empty group returned true")
	}
	if got := do(t, h, Command{Op: OpGetAllGroupIdList}); !reflect.DeepEqual(got, []string{}) {
		t.Fatalf("groups after ungroup: %v", got)
	}
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[1].ID, Groups: []string{"g2"}})
	h.Disconnect(cs[1])
	h.Disconnect(cs[1]) // twice is harmless
	if h.ClientCount() != 2 || h.UIDCount() != 2 || h.GroupCount() != 0 {
		t.Fatalf("after disconnect: %d clients, %d uids, %d groups", h.ClientCount(), h.UIDCount(), h.GroupCount())
	}
	if got := do(t, h, Command{Op: OpJoinGroup, ClientID: cs[1].ID, Groups: []string{"g3"}}); got != false {
		t.Fatal("join of a disconnected client returned true")
	}
	if len(rs[1].got()) != 1 {
		t.Fatalf("client 1 got %v", rs[1].got())
	}
}

// ser turns a JSON object into the PHP-serialized session the hub stores.
func ser(t *testing.T, js string) []byte {
	t.Helper()
	v, err := phpser.FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return phpser.Serialize(v)
}

func sessionJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSessions(t *testing.T) {
	h := newHub(t)
	cs, _ := connect(h, 1)
	a := cs[0].ID
	if got := sessionJSON(t, do(t, h, Command{Op: OpGetSession, ClientID: a})); got != "{}" {
		t.Fatalf("fresh session %s", got)
	}
	// updateSession on an empty session stores the update as is.
	do(t, h, Command{Op: OpUpdateSession, ClientID: a, Session: ser(t, `{"first":1}`)})
	do(t, h, Command{Op: OpSetSession, ClientID: a, Session: ser(t, `{"name":"x","prefs":{"a":1,"b":2},"tags":["p","q","r"]}`)})
	do(t, h, Command{Op: OpUpdateSession, ClientID: a, Session: ser(t, `{"age":3,"prefs":{"b":9},"tags":["z"]}`)})
	want := `{"name":"x","prefs":{"a":1,"b":9},"tags":["z","q","r"],"age":3}` // key order kept, lists merged by index
	if got := sessionJSON(t, do(t, h, Command{Op: OpGetSession, ClientID: a})); got != want {
		t.Fatalf("merged session %s, want %s", got, want)
	}
	// setSession stores PHP's bytes verbatim, objects and all.
	raw := `a:2:{s:1:"o";O:3:"Foo":0:{}s:1:"n";d:0.1;}`
	do(t, h, Command{Op: OpSetSession, ClientID: a, Session: []byte(raw)})
	if got := string(do(t, h, Command{Op: OpGetSession, ClientID: a}).(Session)); got != raw {
		t.Fatalf("setSession did not keep the bytes: %s", got)
	}
	if _, err := h.Do(&Command{Op: OpUpdateSession, ClientID: a, Session: []byte(`i:1;`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-array update: %v", err)
	}
	if got := do(t, h, Command{Op: OpGetSession, ClientID: "7f000001000000000000"}); got != nil {
		t.Fatalf("session of unknown client %v", got)
	}
}

func TestCloseClientSendsThenCloses(t *testing.T) {
	h := newHub(t)
	cs, rs := connect(h, 1)
	if got := do(t, h, Command{Op: OpCloseClient, ClientID: cs[0].ID, Message: msg("bye")}); got != true {
		t.Fatal("closeClient returned false")
	}
	if !reflect.DeepEqual(rs[0].got(), []string{"bye"}) || rs[0].closed != 1000 {
		t.Fatalf("got %v, closed %d", rs[0].got(), rs[0].closed)
	}
}

func TestInvalidCommands(t *testing.T) {
	h := newHub(t)
	for _, cmd := range []Command{
		{Op: OpSendToAll},
		{Op: OpSendToUid, Message: msg("x")},
		{Op: OpSendToUid, UIDs: []string{""}, Message: msg("x")},
		{Op: OpBindUid, ClientID: "x", UIDs: []string{""}},
		{Op: OpJoinGroup, ClientID: "x"},
		{Op: OpUngroup, Groups: []string{""}},
		{Op: OpIsOnline},
		{Op: OpSetSession, ClientID: "x"},
		{Op: OpInvalid},
	} {
		if _, err := h.Do(&cmd); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: error %v, want ErrInvalid", cmd, err)
		}
	}
}

// A message is encoded once per encoding, whatever the number of calls or
// of clients, and each encoding gets its own bytes.
func TestMessageIsEncodedOncePerEncoding(t *testing.T) {
	calls := 0
	counted := NewEncoding("counted", func(m *Message) []byte { calls++; return append([]byte("c:"), m.Data...) })
	h := newHub(t)
	var a, b, c recConn
	h.Connect(&a, counted)
	h.Connect(&b, counted)
	h.Connect(&c, testEncoding)
	var observed [2]int
	h.Observe = func(_ Op, delivered, bytes int) { observed = [2]int{delivered, bytes} }
	m := &Message{Data: []byte("same bytes"), Binary: true}
	if n, _ := h.Do(&Command{Op: OpSendToAll, Message: m}); n != 3 {
		t.Fatalf("delivered %v, want 3", n)
	}
	if want := [2]int{3, 2*len("c:same bytes") + len("bin:same bytes")}; observed != want {
		t.Fatalf("observed (delivered, bytes) %v, want %v", observed, want)
	}
	x, y := m.Encoded(counted), m.Encoded(counted)
	if calls != 1 || &x[0] != &y[0] {
		t.Fatalf("encoded %d times, want once", calls)
	}
	if got := a.got(); len(got) != 1 || got[0] != "c:same bytes" || b.got()[0] != "c:same bytes" {
		t.Fatalf("counted clients got %q and %q", got, b.got())
	}
	if got := c.got(); len(got) != 1 || got[0] != "bin:same bytes" {
		t.Fatalf("test-encoding client got %q", got)
	}
}

func TestOpNamesRoundTrip(t *testing.T) {
	public := 0
	for _, op := range Ops() {
		if op.Public() {
			public++
		}
	}
	if public != 31 || len(Ops()) != 33 {
		t.Fatalf("%d public ops of %d, want GatewayWorker's 28, destroyClient and 2 for the inbox, and 2 for presence channels", public, len(Ops()))
	}
	for _, op := range Ops() {
		if back, ok := ParseOp(op.String()); !ok || back != op {
			t.Errorf("%s does not round-trip", op)
		}
	}
	if _, ok := ParseOp("sendToNobody"); ok {
		t.Fatal("unknown name parsed")
	}
}

// TestConcurrentOperations is for the race detector: binds, joins, sends and
// disconnects from many goroutines must leave consistent indexes.
func TestConcurrentOperations(t *testing.T) {
	h := newHub(t)
	cs, _ := connect(h, 200)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, c := range cs {
				uid := fmt.Sprint("u", (i+w)%10)
				h.Do(&Command{Op: OpBindUid, ClientID: c.ID, UIDs: []string{uid}})
				h.Do(&Command{Op: OpJoinGroup, ClientID: c.ID, Groups: []string{fmt.Sprint("g", w)}})
				h.Do(&Command{Op: OpSendToUid, UIDs: []string{uid}, Message: msg("x")})
				h.Do(&Command{Op: OpSendToGroup, Groups: []string{"g1"}, Message: msg("y")})
				if i%7 == w {
					h.Disconnect(c)
				}
			}
		}()
	}
	wg.Wait()
	live := map[string]bool{}
	for _, id := range h.allClientIDs() {
		live[id] = true
	}
	for _, uid := range h.allUIDs() {
		for _, id := range ids(h.uidClients(uid)) {
			if !live[id] {
				t.Fatalf("uid %s still lists disconnected client %s", uid, id)
			}
		}
	}
	for _, g := range h.allGroups() {
		for _, id := range ids(h.groupClients(g)) {
			if !live[id] {
				t.Fatalf("group %s still lists disconnected client %s", g, id)
			}
		}
	}
}

func TestGatewayWorkerOrdersAndExtras(t *testing.T) {
	h := newHub(t)
	cs, rs := connect(h, 3)
	// Join order, not id order, is kept for group listings and per client.
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[2].ID, Groups: []string{"g"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[0].ID, Groups: []string{"g"}})
	do(t, h, Command{Op: OpJoinGroup, ClientID: cs[0].ID, Groups: []string{"a"}})
	if got := h.GroupClients("g"); len(got) != 2 || got[0] != cs[2] || got[1] != cs[0] {
		t.Fatalf("group order %v", got)
	}
	if info := cs[0].Info(); !reflect.DeepEqual(info.Groups, []string{"g", "a"}) || !info.Joined {
		t.Fatalf("client groups %+v", info)
	}
	do(t, h, Command{Op: OpLeaveGroup, ClientID: cs[2].ID, Groups: []string{"g"}})
	if info := cs[2].Info(); len(info.Groups) != 0 || !info.Joined {
		t.Fatalf("after leaving everything: %+v", info)
	}
	if info := cs[1].Info(); info.Joined {
		t.Fatalf("never joined: %+v", info)
	}
	if got := h.Clients(); got[0] != cs[0] || got[1] != cs[1] || got[2] != cs[2] {
		t.Fatal("Clients() not in connection order")
	}
	if h.ClientByConn(cs[1].ConnID()) != cs[1] || h.ClientByConn(0) != nil {
		t.Fatal("ClientByConn")
	}
	// sendToAll to a list of clients, a raw message, destroyClient.
	if got := do(t, h, Command{Op: OpSendToAll, ClientIDs: []string{cs[0].ID, cs[2].ID, "7f000001000000000000"},
		Exclude: []string{cs[2].ID}, Message: &Message{Raw: true, Data: []byte("\x81\x02hi")}}); got != 1 {
		t.Fatalf("sendToAll to a list delivered %v", got)
	}
	if got := rs[0].got(); len(got) != 1 || got[0] != "\x81\x02hi" { // the encoding decides what raw means
		t.Fatalf("raw message arrived as %q", got)
	}
	if got := do(t, h, Command{Op: OpDestroyClient, ClientID: cs[1].ID}); got != true || rs[1].closed != -1 {
		t.Fatalf("destroyClient: %v, closed %d", got, rs[1].closed)
	}
}

// Presence members: joinPresence records a client's member data in a group,
// getPresenceMembers lists it, and leaving or disconnecting forgets it.
func TestPresenceMembers(t *testing.T) {
	h := newHub(t)
	var ra, rb recConn
	a, b := h.Connect(&ra, testEncoding), h.Connect(&rb, testEncoding)
	do(t, h, Command{Op: OpJoinPresence, ClientID: a.ID, Groups: []string{"p"}, Session: []byte(`{"user_id":"1"}`)})
	do(t, h, Command{Op: OpJoinPresence, ClientID: b.ID, Groups: []string{"p"}, Session: []byte(`{"user_id":"2"}`)})
	do(t, h, Command{Op: OpJoinGroup, ClientID: b.ID, Groups: []string{"plain"}})
	got := do(t, h, Command{Op: OpGetPresenceMembers, Groups: []string{"p"}}).(map[string]Session)
	if len(got) != 2 || string(got[a.ID]) != `{"user_id":"1"}` || string(got[b.ID]) != `{"user_id":"2"}` {
		t.Fatalf("members %v", got)
	}
	if n := do(t, h, Command{Op: OpGetClientIdCountByGroup, Groups: []string{"p"}}); n != 2 {
		t.Fatalf("joinPresence joins the group: %v", n)
	}
	do(t, h, Command{Op: OpLeaveGroup, ClientID: a.ID, Groups: []string{"p"}})
	h.Disconnect(b)
	if got := do(t, h, Command{Op: OpGetPresenceMembers, Groups: []string{"p"}}).(map[string]Session); len(got) != 0 {
		t.Fatalf("after leaving: %v", got)
	}
	if h.memberGroups.Load() != 0 {
		t.Fatalf("%d presence groups left", h.memberGroups.Load())
	}
	if _, err := h.Do(&Command{Op: OpJoinPresence, ClientID: a.ID, Groups: []string{"p"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("joinPresence without member data: %v", err)
	}
}

// A group encoding names each group of a multi-group send; others share
// one encoding for all groups.
func TestGroupEncoding(t *testing.T) {
	named := NewGroupEncoding("named", func(m *Message) []byte { return []byte(m.Channel + ":" + string(m.Data)) })
	h := newHub(t)
	var rx, ry, rn recConn
	x, y, n := h.Connect(&rx, named), h.Connect(&ry, named), h.Connect(&rn, testEncoding)
	for _, j := range []struct {
		c *Client
		g string
	}{{x, "g1"}, {y, "g2"}, {n, "g1"}, {n, "g2"}} {
		do(t, h, Command{Op: OpJoinGroup, ClientID: j.c.ID, Groups: []string{j.g}})
	}
	if got := do(t, h, Command{Op: OpSendToGroup, Groups: []string{"g1", "g2"}, Message: NewText([]byte("hi"))}); got != 4 {
		t.Fatalf("delivered %v", got)
	}
	if rx.got()[0] != "g1:hi" || ry.got()[0] != "g2:hi" {
		t.Fatalf("group-encoded clients got %q and %q", rx.got(), ry.got())
	}
	if got := rn.got(); len(got) != 2 || got[0] != "hi" || got[1] != "hi" {
		t.Fatalf("plain client got %q", got)
	}
}
