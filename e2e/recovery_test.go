package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// v2msg is a version 2 message envelope.
type v2msg struct {
	Type    string
	Data    string
	Binary  bool
	Stream  string
	Offset  uint64
	Epoch   string
	Streams map[string]struct {
		Recovered bool
		Offset    uint64
		Epoch     string
		Missed    int
		Reason    string
	}
}

func readV2(t *testing.T, c *client) v2msg {
	t.Helper()
	raw := c.read()
	var m v2msg
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("not a v2 envelope: %s", raw)
	}
	return m
}

// TestRecoveryProtocol: a version 2 client gets messages with their
// positions; after a disconnect, a new connection of the same uid asks for
// what it missed and gets it, in order, then the recovered marker; a wrong
// epoch, a position past the kept history or a stream it does not receive
// get recovered: false with the reason. A version 1 client sees nothing new.
func TestRecoveryProtocol(t *testing.T) {
	s := start(t, "[history]\nuids = \"*\"\ngroups = \"room-\"\nsize = 5")
	old := s.dial()
	a := s.dialPath("/?v=2", nil)
	for _, c := range []*client{old, a} {
		s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "alice"})
	}
	s.call("joinGroup", map[string]any{"client_id": a.ID, "group": "room-1"})
	s.call("sendToUid", map[string]any{"uid": "alice", "data": "1"})
	s.call("sendToUid", map[string]any{"uid": "alice", "data": map[string]any{"n": 2}})
	s.call("sendToGroup", map[string]any{"group": "room-1", "data": "r1"})
	if got := old.read(); got != "1" {
		t.Fatalf("a version 1 client got %q", got)
	}
	m1, m2, r1 := readV2(t, a), readV2(t, a), readV2(t, a)
	if m1.Type != "message" || m1.Data != "1" || m1.Stream != "u:alice" || m1.Offset != 1 || m1.Epoch == "" {
		t.Fatalf("first message %+v", m1)
	}
	if m2.Data != `{"n":2}` || m2.Offset != 2 || m2.Epoch != m1.Epoch {
		t.Fatalf("second message %+v", m2)
	}
	if r1.Stream != "g:room-1" || r1.Offset != 1 || r1.Data != "r1" {
		t.Fatalf("group message %+v", r1)
	}
	a.Close()
	for i := 3; i <= 5; i++ {
		s.call("sendToUid", map[string]any{"uid": "alice", "data": fmt.Sprint(i)})
	}
	s.call("sendToAll", map[string]any{"data": "no position"})

	b := s.dialPath("/?v=2", nil)
	s.call("bindUid", map[string]any{"client_id": b.ID, "uid": "alice"})
	req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{
		"u:alice":  map[string]any{"offset": 2, "epoch": m1.Epoch},
		"g:room-1": map[string]any{"offset": 1, "epoch": r1.Epoch},
		"u:bob":    map[string]any{"offset": 1, "epoch": m1.Epoch},
	}})
	b.WriteText(string(req))
	var got []string
	var done v2msg
	for {
		m := readV2(t, b)
		if m.Type == "recovered" {
			done = m
			break
		}
		got = append(got, fmt.Sprintf("%s@%d", m.Data, m.Offset))
	}
	if strings.Join(got, " ") != "3@3 4@4 5@5" {
		t.Fatalf("replayed %v, want 3, 4 and 5 in order", got)
	}
	if st := done.Streams["u:alice"]; !st.Recovered || st.Offset != 5 || st.Missed != 3 || st.Epoch != m1.Epoch {
		t.Fatalf("u:alice: %+v", st)
	}
	if st := done.Streams["g:room-1"]; st.Recovered || !strings.Contains(st.Reason, "does not receive") {
		t.Fatalf("g:room-1 (not joined on this connection): %+v", st)
	}
	if st := done.Streams["u:bob"]; st.Recovered || st.Reason == "" {
		t.Fatalf("u:bob: %+v", st)
	}
	for _, tc := range []struct {
		offset uint64
		epoch  string
		why    string
	}{{2, "another-epoch", "epoch"}, {0, m1.Epoch, "kept"}} {
		req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{"u:alice": map[string]any{"offset": tc.offset, "epoch": tc.epoch}}})
		if tc.offset == 0 { // size 5: push two more so offsets 1 and 2 are dropped
			s.call("sendToUid", map[string]any{"uid": "alice", "data": "6"})
			s.call("sendToUid", map[string]any{"uid": "alice", "data": "7"})
			readV2(t, b)
			readV2(t, b)
		}
		b.WriteText(string(req))
		m := readV2(t, b)
		if st := m.Streams["u:alice"]; m.Type != "recovered" || st.Recovered || !strings.Contains(st.Reason, tc.why) {
			t.Fatalf("offset %d epoch %s: %+v", tc.offset, tc.epoch, m)
		}
	}
}

// TestRecoveryAcrossNodes: with a cluster, history is in Redis: a client
// that saw offsets 1-2 on one node and reconnects to another gets 3-4 there.
func TestRecoveryAcrossNodes(t *testing.T) {
	e := startEngine(t, "redis")
	hist := "\n[history]\nuids = \"*\"\n"
	a := start(t, e.config()+"[gwcompat]\nlan_ip = \"127.0.0.1\""+hist)
	b := start(t, e.config()+"[gwcompat]\nlan_ip = \"127.0.0.2\""+hist)
	c := a.dialPath("/?v=2", nil)
	a.call("bindUid", map[string]any{"client_id": c.ID, "uid": "carol"})
	b.call("sendToUid", map[string]any{"uid": "carol", "data": "1"})
	a.call("sendToUid", map[string]any{"uid": "carol", "data": "2"})
	readV2(t, c)
	last := readV2(t, c)
	if last.Offset != 2 || last.Data != "2" {
		t.Fatalf("second message %+v", last)
	}
	c.Close()
	b.call("sendToUid", map[string]any{"uid": "carol", "data": "3"})
	a.call("sendToUid", map[string]any{"uid": "carol", "data": "4"})
	d := b.dialPath("/?v=2", nil)
	b.call("bindUid", map[string]any{"client_id": d.ID, "uid": "carol"})
	req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{"u:carol": map[string]any{"offset": 2, "epoch": last.Epoch}}})
	d.WriteText(string(req))
	var got []string
	for {
		m := readV2(t, d)
		if m.Type == "recovered" {
			if st := m.Streams["u:carol"]; !st.Recovered || st.Offset != 4 {
				t.Fatalf("recovered %+v", st)
			}
			break
		}
		got = append(got, m.Data)
	}
	if strings.Join(got, ",") != "3,4" {
		t.Fatalf("replayed %v on the other node, want 3,4", got)
	}
}
